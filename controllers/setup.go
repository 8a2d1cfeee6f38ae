/*
Copyright 2026 The openai-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// setupController registers r, the reconciler of the kind of obj (listed into list), as
// the controller named name. It fills the backoff knobs left zero, indexes the objects
// by the name of their credentials Secret (credentialsRef), and watches Secrets, metadata
// only (no Secret data is cached): a change wakes the objects that use the Secret.
// triggers decides which changes of an object start a pass.
func setupController[T client.Object](mgr ctrl.Manager, d *Deps, r reconcile.Reconciler, name string, obj T, list client.ObjectList,
	credentialsRef func(T) *openaiv1alpha1.CredentialsReference, triggers predicate.Predicate) error {
	d.fillBackoff()
	if d.shared == nil {
		d.shared = newSharedState(d.Options)
	}
	d.ghosts = &ghostStore{}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, credentialsIndex, func(o client.Object) []string {
		return []string{credentialsName(credentialsRef(o.(T)), d.DefaultCredentialsSecret)}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(d.credentialsWatch(mgr.GetCache(), list)),
			builder.OnlyMetadata, builder.WithPredicates(secretChanged)).
		For(obj, builder.WithPredicates(triggers)).
		Watches(obj, d.ghosts.handler()).
		Named(name).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(d.MaxConcurrentReconciles, 1)}).
		Complete(r)
}

// secretChanged passes the Secret events that may change what a resource reads: not
// the Secrets the manager finds when it starts (every resource runs then anyway, and no
// earlier read is there to forget), nor the informer's resyncs of a Secret it has seen
// at the same resourceVersion. Each event passed lists every resource that uses the
// Secret; at start that was one list of the whole cache per Secret, as memory peaked.
var secretChanged = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion()
	},
}

// webhookTriggers is reconcileTriggers for a kind whose last recorded webhook event
// lastEvent returns.
func webhookTriggers[T client.Object](lastEvent func(T) *openaiv1alpha1.WebhookEvent) predicate.Predicate {
	return reconcileTriggers(func(o client.Object) string {
		if ev := lastEvent(o.(T)); ev != nil {
			return ev.ID
		}
		return ""
	})
}
