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
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/openai/openai-go/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// Deps are what both reconcilers work with.
type Deps struct {
	client.Client
	// APIReader reads Secrets and ConfigMaps directly from the API server: the manager may
	// get them but neither lists nor watches them.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  recorder.EventRecorder
	OpenAI    *openaiclient.Factory
	Options
}

// pass is one reconcile of one resource: the object as the API server has it (base,
// for merge patches of what changed) and as this pass changes it, and the OpenAI client,
// loaded on first use.
type pass[T client.Object] struct {
	obj  T
	base T
	log  logr.Logger
	// creds and conds point into obj.
	creds *openaiv1alpha1.CredentialsReference
	conds *[]metav1.Condition

	api    openai.Client
	apiKey string
	loaded bool
}

func newPass[T client.Object](ctx context.Context, obj T, creds *openaiv1alpha1.CredentialsReference, conds *[]metav1.Condition) pass[T] {
	return pass[T]{obj: obj, base: obj.DeepCopyObject().(T), log: ctrl.LoggerFrom(ctx), creds: creds, conds: conds}
}

// openAI returns the OpenAI client for this resource, loading its credentials once per
// pass; errCredentials means CredentialsReady now says what is missing.
func (p *pass[T]) openAI(ctx context.Context, d *Deps) (openai.Client, error) {
	if !p.loaded {
		api, key, err := loadClient(ctx, d.APIReader, d.OpenAI, p.obj, p.creds, d.DefaultCredentialsSecret, p.conds)
		if err != nil {
			return openai.Client{}, err
		}
		p.api, p.apiKey, p.loaded = api, key, true
	}
	return p.api, nil
}

// credentialsProblem describes, for events, why the credentials could not be loaded.
func (p *pass[T]) credentialsProblem(err error) error {
	if c := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionCredentialsReady); c != nil && errors.Is(err, errCredentials) {
		return fmt.Errorf("%w: %s", errCredentials, c.Message)
	}
	return err
}

// patchStatus sends the status fields this pass changed, as a merge patch, so that the
// fields other writers own (the receiver's lastWebhookEvent) are never touched.
func (p *pass[T]) patchStatus(ctx context.Context, d *Deps) error {
	patch := client.MergeFrom(p.base)
	data, err := patch.Data(p.obj)
	if err != nil || bytes.Equal(data, []byte("{}")) {
		return err
	}
	if err := d.Status().Patch(ctx, p.obj, patch, client.FieldOwner(FieldOwner)); err != nil {
		return client.IgnoreNotFound(err)
	}
	p.base = p.obj.DeepCopyObject().(T)
	return nil
}

// ensureFinalizer adds the finalizer before anything is created on OpenAI.
func (p *pass[T]) ensureFinalizer(ctx context.Context, d *Deps) error {
	if !controllerutil.AddFinalizer(p.obj, Finalizer) {
		return nil
	}
	if err := d.Patch(ctx, p.obj, client.MergeFrom(p.base), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("adding finalizer: %w", err)
	}
	p.base = p.obj.DeepCopyObject().(T)
	return nil
}

// finishDeletion removes the finalizer once cleanup succeeded, or gave up: cleanup that
// failed is retried until DeletionTimeout has passed since the deletion (at once when
// credentials are missing, as no retry can help), and then abandoned with a Warning
// event that says what was left on OpenAI.
func (p *pass[T]) finishDeletion(ctx context.Context, d *Deps, cleanupErr error, leftBehind string) (ctrl.Result, error) {
	if cleanupErr != nil {
		if !errors.Is(cleanupErr, errCredentials) && time.Since(p.obj.GetDeletionTimestamp().Time) < d.DeletionTimeout {
			p.log.Info("Cleaning up on OpenAI failed; retrying", "error", cleanupErr.Error())
			return ctrl.Result{RequeueAfter: d.RetryInterval}, nil
		}
		d.Recorder.Eventf(p.obj, nil, "Warning", "CleanupAbandoned", "Delete", "Gave up cleaning up on OpenAI (%s): %s", leftBehind, cleanupErr.Error())
	}
	base := p.obj.DeepCopyObject().(T)
	controllerutil.RemoveFinalizer(p.obj, Finalizer)
	return ctrl.Result{}, client.IgnoreNotFound(d.Patch(ctx, p.obj, client.MergeFrom(base), client.FieldOwner(FieldOwner)))
}

// apiError turns an error from calling OpenAI into the pass's outcome: missing
// credentials and rate limits wait (Retry-After honoured), errors no retry can fix end
// the resource through fail, and the rest back off.
func (p *pass[T]) apiError(d *Deps, what string, err error, fail func(reason, message string)) (ctrl.Result, error) {
	if errors.Is(err, errCredentials) {
		return ctrl.Result{RequeueAfter: d.RetryInterval}, nil
	}
	c := openaiclient.Classify(err, p.apiKey)
	switch c.Class {
	case openaiclient.RateLimited:
		p.log.V(1).Info("Rate limited by OpenAI", "operation", what, "retryAfter", c.RetryAfter)
		return ctrl.Result{RequeueAfter: max(c.RetryAfter, time.Second)}, nil
	case openaiclient.Terminal:
		fail(openaiv1alpha1.ReasonRejected, fmt.Sprintf("%s: %s", what, c.Message))
		return ctrl.Result{}, reconcile.TerminalError(errors.New(c.Message))
	default:
		return ctrl.Result{}, fmt.Errorf("%s: %s", what, c.Message)
	}
}

// runSteps runs a reconciler's steps in order until one asks to wait or fails.
func runSteps[S any](ctx context.Context, s S, steps ...func(context.Context, S) (ctrl.Result, error)) (ctrl.Result, error) {
	for _, step := range steps {
		if res, err := step(ctx, s); err != nil || !res.IsZero() {
			return res, err
		}
	}
	return ctrl.Result{}, nil
}

// endUnsuccessfully sets the conditions of work that ended without success.
func endUnsuccessfully(conds *[]metav1.Condition, obj client.Object, reason, message string) {
	setCondition(conds, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, reason, message)
	setCondition(conds, obj, openaiv1alpha1.ConditionFailed, metav1.ConditionTrue, reason, message)
}

// resultsDone reports whether storing results is finished for this generation: stored,
// or refused for a reason that only a spec change can fix.
func resultsDone(conds []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionResultsStored)
	return c != nil && c.ObservedGeneration == generation &&
		(c.Status == metav1.ConditionTrue || c.Reason == openaiv1alpha1.ReasonTooLarge || c.Reason == openaiv1alpha1.ReasonTargetConflict)
}

// noteResults records the outcome of writing results as a condition and an Event.
func noteResults(d *Deps, conds *[]metav1.Condition, obj client.Object, out resultsOutcome) {
	setCondition(conds, obj, openaiv1alpha1.ConditionResultsStored, out.status, out.reason, out.message)
	eventType, reason := "Normal", "ResultsStored"
	if out.status != metav1.ConditionTrue {
		eventType, reason = "Warning", out.reason
	}
	d.Recorder.Eventf(obj, nil, eventType, reason, "StoreResults", out.message)
}
