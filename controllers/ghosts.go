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
	"reflect"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A ghost is a resource deleted behind its finalizer's back.
//
// The API server decides at the start of a DELETE whether the object can go at once (it
// has no finalizers) and then removes whatever version is stored by then: a finalizer
// added while the DELETE was on its way is not honoured (k8s.io/apiserver's Store.Delete
// reads the object, then deletes it without a precondition). A pass whose finalizer
// patch succeeded goes on to create work on OpenAI for a resource that no longer exists,
// and no pass of the resource would ever clean that work up: before ghosts, every kind
// left work on OpenAI in TestResourcesDeletedAtOnceLeaveNothing, which sends each DELETE
// as the finalizer patch goes out (`kubectl apply` followed at once by `kubectl delete`).
//
// The watch sees such an object go with the finalizer still on it. Its last state is
// kept as a ghost, and the next pass of its name runs the deletion on the ghost: the
// process's memory of what it created fills in what the status does not show yet, and
// the searches by UID find the rest. A ghost is kept until its cleanup ended (done or
// given up, as for any deletion); it goes with the process, like that memory. A
// tombstone of a missed watch event may carry an older state with the finalizer: its
// ghost repeats a cleanup that already ran, whose calls OpenAI should answer as done
// (a 404, a 400 or 409 to cancelling an ended object); no test replays that case.
type ghostStore struct {
	m sync.Map // types.NamespacedName -> client.Object
}

// handler records the objects the watch saw deleted with the finalizer still on them
// and queues a pass for each.
func (g *ghostStore) handler() handler.EventHandler {
	return handler.Funcs{DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if e.Object == nil || !controllerutil.ContainsFinalizer(e.Object, Finalizer) {
			return
		}
		ghost := e.Object.DeepCopyObject().(client.Object)
		if ghost.GetDeletionTimestamp().IsZero() {
			now := metav1.Now()
			ghost.SetDeletionTimestamp(&now) // DeletionTimeout runs from here
		}
		key := client.ObjectKeyFromObject(ghost)
		g.m.Store(key, ghost)
		q.Add(reconcile.Request{NamespacedName: key})
	}}
}

// forget drops the ghost of key once its cleanup ended.
func (g *ghostStore) forget(key types.NamespacedName) {
	if g != nil {
		g.m.Delete(key)
	}
}

// fetch reads the resource a pass is about into obj: its ghost if it has one (before a
// new object of the same name), else the object itself. found is false when there is
// neither.
func (d *Deps) fetch(ctx context.Context, key types.NamespacedName, obj client.Object) (found, ghost bool, err error) {
	if d.ghosts != nil {
		if g, ok := d.ghosts.m.Load(key); ok {
			if src := reflect.ValueOf(g.(client.Object).DeepCopyObject()); src.Type() == reflect.TypeOf(obj) {
				reflect.ValueOf(obj).Elem().Set(src.Elem())
				return true, true, nil
			}
		}
	}
	if err := d.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, false, nil
		}
		return false, false, err
	}
	return true, false, nil
}
