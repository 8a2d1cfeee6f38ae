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
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/openai/openai-go/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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

	// shared is created by SetupWithManager when unset.
	shared *sharedState
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

// credentialsKey names the resource's OpenAI project: its credentials Secret.
func (p *pass[T]) credentialsKey(d *Deps) string {
	return p.obj.GetNamespace() + "/" + credentialsName(p.creds, d.DefaultCredentialsSecret)
}

// openAI returns the OpenAI client for this resource, loading its credentials once per
// pass; errCredentials means CredentialsReady now says what is missing.
//
// A pass that comes while OpenAI's Retry-After for this object runs (a webhook event, a
// deletion or a spec change can start one at any time) gets a *rateLimitHold instead and
// calls nothing.
func (p *pass[T]) openAI(ctx context.Context, d *Deps) (openai.Client, error) {
	if wait := d.shared.heldFor(p.obj.GetUID(), time.Now()); wait > 0 {
		return openai.Client{}, &rateLimitHold{wait: wait}
	}
	if !p.loaded {
		api, key, err := loadClient(ctx, d, p.obj, p.creds, p.conds)
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
// fields other writers own (the receiver's lastWebhookEvent) are never touched. The patch
// carries the resource version the pass read: if anyone wrote since (the receiver, or an
// earlier pass whose write the cache had not shown yet), it fails with a conflict rather
// than overwrite newer state with what this pass derived from older state.
func (p *pass[T]) patchStatus(ctx context.Context, d *Deps) error {
	if data, err := client.MergeFrom(p.base).Data(p.obj); err != nil || bytes.Equal(data, []byte("{}")) {
		return err
	}
	patch := client.MergeFromWithOptions(p.base, client.MergeFromWithOptimisticLock{})
	if err := d.Status().Patch(ctx, p.obj, patch, client.FieldOwner(FieldOwner)); err != nil {
		return client.IgnoreNotFound(err)
	}
	p.base = p.obj.DeepCopyObject().(T)
	return nil
}

// announcePhase counts a phase transition of the resource (a noun such as "Batch", for
// kind "OpenAI"+noun) and emits its Event, e.g. "Batch batch_123 is Completed (3/3
// requests)": Normal, or a Warning with the status message appended for an unsuccessful end.
func (p *pass[T]) announcePhase(d *Deps, noun, id, phase, progress, message string, unsuccessful bool) {
	phaseTransitions.WithLabelValues("OpenAI"+noun, phase).Inc()
	eventType, note := corev1.EventTypeNormal, fmt.Sprintf("%s is %s", noun, phase)
	if id != "" {
		note = fmt.Sprintf("%s %s is %s", noun, id, phase)
	}
	if progress != "" {
		note += fmt.Sprintf(" (%s requests)", progress)
	}
	if unsuccessful {
		eventType = corev1.EventTypeWarning
		if message != "" {
			note += ": " + message
		}
	}
	d.Recorder.Eventf(p.obj, nil, eventType, phase, "Reconcile", note)
	p.log.Info(noun+" phase changed", "phase", phase, strings.ToLower(noun)+"ID", id)
}

// rateLimitHold is the error of a pass that must not call OpenAI yet: a 429 for this
// object asked to wait, and wait is what remains of it.
type rateLimitHold struct{ wait time.Duration }

func (h *rateLimitHold) Error() string {
	return fmt.Sprintf("rate limited by OpenAI: waiting %s more, as its Retry-After asked", h.wait.Round(time.Millisecond))
}

// conflictRetryDelay is how soon a pass whose write lost its optimistic lock runs again.
const conflictRetryDelay = 100 * time.Millisecond

// settle decides a pass's outcome after its final status write. A write (or an earlier
// one in the pass) that lost its optimistic lock means the pass worked from stale state:
// its outcome is dropped and it runs again soon from fresh state. Nothing is lost: a
// created object is remembered in memory and recorded by the next pass.
func (p *pass[T]) settle(writeErr error, result *ctrl.Result, retErr *error) {
	if apierrors.IsConflict(writeErr) || apierrors.IsConflict(*retErr) {
		p.log.V(1).Info("The resource changed during the pass; running it again")
		*result, *retErr = ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
		return
	}
	if writeErr != nil {
		*retErr = errors.Join(*retErr, writeErr)
	}
}

// ensureFinalizer adds the finalizer before anything is created on OpenAI.
func (p *pass[T]) ensureFinalizer(ctx context.Context, d *Deps) error {
	if !controllerutil.AddFinalizer(p.obj, Finalizer) {
		return nil
	}
	if err := d.Patch(ctx, p.obj, client.MergeFromWithOptions(p.base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner)); err != nil {
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
			retry := d.RetryInterval
			if wait := d.shared.heldFor(p.obj.GetUID(), time.Now()); wait > retry {
				retry = wait
			}
			return ctrl.Result{RequeueAfter: retry}, nil
		}
		d.Recorder.Eventf(p.obj, nil, "Warning", "CleanupAbandoned", "Delete", "Gave up cleaning up on OpenAI (%s): %s", leftBehind, cleanupErr.Error())
	}
	base := p.obj.DeepCopyObject().(T)
	controllerutil.RemoveFinalizer(p.obj, Finalizer)
	err := d.Patch(ctx, p.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner))
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// apiError turns an error from calling OpenAI into the pass's outcome: missing
// credentials and rate limits wait (Retry-After honoured), errors no retry can fix end
// the resource through fail, and the rest back off.
func (p *pass[T]) apiError(d *Deps, what string, err error, fail func(reason, message string)) (ctrl.Result, error) {
	if errors.Is(err, errCredentials) {
		return ctrl.Result{RequeueAfter: d.RetryInterval}, nil
	}
	var hold *rateLimitHold
	if errors.As(err, &hold) {
		p.log.V(1).Info("Waiting for OpenAI's Retry-After", "operation", what, "wait", hold.wait)
		return ctrl.Result{RequeueAfter: hold.wait}, nil
	}
	c := openaiclient.Classify(err, p.apiKey)
	switch c.Class {
	case openaiclient.RateLimited:
		p.log.V(1).Info("Rate limited by OpenAI", "operation", what, "retryAfter", c.RetryAfter)
		return ctrl.Result{RequeueAfter: max(c.RetryAfter, openaiclient.MinRateLimitWait)}, nil
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

// reconcileTriggers lets through the changes a reconciler must act on: a new spec
// (generation), deletion, and a new webhook event recorded by the receiver. The
// controller's own status writes do not trigger another pass: each pass says itself when
// it wants to run again (RequeueAfter), so a rate-limited pass waits its Retry-After
// instead of being woken by the write that recorded it.
func reconcileTriggers(webhookEventID func(client.Object) string) predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			webhookEventID(e.ObjectOld) != webhookEventID(e.ObjectNew)
	}}
}
