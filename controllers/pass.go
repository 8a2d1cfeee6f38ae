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
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/openai/openai-go/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
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
	// APIReader reads Secrets and ConfigMaps directly from the API server: the manager
	// watches only the metadata of Secrets and neither lists nor watches ConfigMaps. It
	// also reads a resource afresh when a status write lost its optimistic lock.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  recorder.EventRecorder
	OpenAI    *openaiclient.Factory
	Options

	// shared is created by SetupWithManager when unset.
	shared *sharedState
	// ghosts are the resources this controller saw deleted behind its finalizer's back
	// (see ghostStore); created by SetupWithManager.
	ghosts *ghostStore
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

	// api is set on first use: a pass that calls nobody (most of a resync) does not
	// carry the client (a 3 KiB struct) in every scope it allocates.
	api    *openai.Client
	apiKey string
	// accepted: OpenAI answered a call of this pass without refusing the key; refused:
	// a call of this pass was refused (or held) because of the key or its quota.
	accepted, refused bool
	// phase returns the resource's phase, for the reason of Reconciling (optional).
	phase func() string
	// health, when set, replaces setHealth: for kinds that are configuration, not work
	// that ends.
	health func()
	// ghost: obj is the last state of a resource deleted behind its finalizer's back
	// (see ghostStore); gone: a status write of this pass found the resource deleted.
	ghost, gone bool
}

func newPass[T client.Object](ctx context.Context, obj T, creds *openaiv1alpha1.CredentialsReference, conds *[]metav1.Condition) pass[T] {
	return pass[T]{obj: obj, base: obj.DeepCopyObject().(T), log: ctrl.LoggerFrom(ctx), creds: creds, conds: conds}
}

// credentialsKey names the resource's OpenAI project: its credentials Secret.
func (p *pass[T]) credentialsKey(d *Deps) string {
	return p.obj.GetNamespace() + "/" + credentialsName(p.creds, d.DefaultCredentialsSecret)
}

// openAI returns the OpenAI client for this resource, loading its credentials once per
// pass; errCredentials means CredentialsReady now says what is missing. While OpenAI
// has the project's calls on hold (a 429, a refused key), the client's calls return an
// *openaiclient.HeldError without calling OpenAI, whichever step makes them.
func (p *pass[T]) openAI(ctx context.Context, d *Deps) (openai.Client, error) {
	if p.api == nil {
		api, key, err := loadClient(ctx, d, p.obj, p.creds, p.conds, &p.accepted)
		if err != nil {
			return openai.Client{}, err
		}
		p.api, p.apiKey = &api, key
	}
	return *p.api, nil
}

// openAIToSubmit is openAI for a step that submits: when the credentials are missing,
// Submitted also says that the submission waits for them, with waiting as its message.
func (p *pass[T]) openAIToSubmit(ctx context.Context, d *Deps, waiting string) (openai.Client, error) {
	api, err := p.openAI(ctx, d)
	if errors.Is(err, errCredentials) {
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, openaiv1alpha1.ReasonPending, waiting)
	}
	return api, err
}

// concludeCredentials sets CredentialsReady back to True when OpenAI accepted the key
// in this pass after refusing it before.
func (p *pass[T]) concludeCredentials(d *Deps) {
	c := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionCredentialsReady)
	if !p.accepted || p.refused || c == nil || c.Status == metav1.ConditionTrue ||
		c.Reason == openaiv1alpha1.ReasonSecretNotFound || c.Reason == openaiv1alpha1.ReasonKeyNotFound {
		return
	}
	setCondition(p.conds, p.obj, openaiv1alpha1.ConditionCredentialsReady, metav1.ConditionTrue, openaiv1alpha1.ReasonFound,
		fmt.Sprintf("OpenAI accepts the API key in Secret %q again", credentialsName(p.creds, d.DefaultCredentialsSecret)))
	d.Recorder.Eventf(p.obj, nil, corev1.EventTypeNormal, "CredentialsAccepted", "Reconcile", "%s", "OpenAI accepts the API key again; continuing")
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
// carries the resource version the pass read. If someone wrote since, and it was only
// another writer's fields (the receiver recording a webhook event), the pass's own
// changes are applied again on the fresh object: rerunning the whole pass would repeat
// its side effects (a cancel call, a results write, an Event). If anything else changed
// (the spec, or the controller's own fields through a write the pass did not see), the
// patch fails with a conflict and the pass runs again from fresh state.
func (p *pass[T]) patchStatus(ctx context.Context, d *Deps) error {
	if p.health != nil {
		p.health()
	} else {
		p.setHealth()
	}
	// Most passes change nothing (every resource's pass after a restart, polls not due):
	// comparing is far cheaper than building a merge patch, a JSON round trip of both.
	// (reflect.DeepEqual: equal objects marshal alike; Semantic's equalities allocate.)
	if reflect.DeepEqual(p.base, p.obj) {
		return nil
	}
	data, err := client.MergeFrom(p.base).Data(p.obj)
	if err != nil || bytes.Equal(data, []byte("{}")) {
		return err
	}
	err = d.Status().Patch(ctx, p.obj, client.MergeFromWithOptions(p.base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner))
	for attempt := 0; apierrors.IsConflict(err) && attempt < 3; attempt++ {
		var reapplied bool
		if reapplied, err = p.reapply(ctx, d, data); !reapplied && err == nil {
			return apierrors.NewConflict(schemaGroupResource(p.obj), p.obj.GetName(), errors.New("the resource changed during the pass"))
		}
	}
	if apierrors.IsNotFound(err) {
		p.gone = true // deleted meanwhile: its deletion (or ghost) pass takes over
		return nil
	}
	if err != nil {
		return err
	}
	p.base = p.obj.DeepCopyObject().(T)
	return nil
}

// setHealth derives the conditions that kstatus (Flux, Argo CD) and other health
// checks read from Complete and Failed, so that every status write carries them in
// agreement: Ready=True at success; Stalled=True and Ready=False beside Failed=True,
// but for work the user cancelled (reason Cancelled), which ended as asked: Ready=True
// and no Stalled (kstatus: Current); otherwise, while the work is unfinished, Reconciling=True with the phase as
// reason and Ready=False. Reconciling is removed once the work ended, Stalled while it
// runs.
func (p *pass[T]) setHealth() {
	// Copies: removing a condition moves the others within the slice.
	var complete, failed *metav1.Condition
	if c := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionComplete); c != nil {
		complete = c.DeepCopy()
	}
	if c := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionFailed); c != nil {
		failed = c.DeepCopy()
	}
	switch {
	case complete != nil && complete.Status == metav1.ConditionTrue:
		removeCondition(p.conds, openaiv1alpha1.ConditionReconciling)
		removeCondition(p.conds, openaiv1alpha1.ConditionStalled)
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionReady, metav1.ConditionTrue, complete.Reason, complete.Message)
	case failed != nil && failed.Status == metav1.ConditionTrue:
		removeCondition(p.conds, openaiv1alpha1.ConditionReconciling)
		if failed.Reason == openaiv1alpha1.ReasonCancelled {
			// Ended as the user asked: kstatus reads Ready=False as InProgress.
			removeCondition(p.conds, openaiv1alpha1.ConditionStalled)
			setCondition(p.conds, p.obj, openaiv1alpha1.ConditionReady, metav1.ConditionTrue, failed.Reason, failed.Message)
			break
		}
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionStalled, metav1.ConditionTrue, failed.Reason, failed.Message)
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, failed.Reason, failed.Message)
	default:
		reason, msg := "Working", "The work is not finished"
		if p.phase != nil {
			if ph := p.phase(); ph != "" {
				reason, msg = ph, fmt.Sprintf("The work is not finished: phase %s", ph)
			}
		}
		removeCondition(p.conds, openaiv1alpha1.ConditionStalled)
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	}
}

// othersFields are the status fields that writers other than the controller own.
var othersFields = [][]string{{"status", "lastWebhookEvent"}}

// cacheDroppedFields are fields the manager's cache may drop (DropSubmittedInput).
var cacheDroppedFields = [][]string{{"spec", "input", "requests"}}

// reapply applies the pass's changes (data, a merge patch) to the resource as it is now,
// if only other writers' fields changed since the pass read it.
func (p *pass[T]) reapply(ctx context.Context, d *Deps, data []byte) (bool, error) {
	fresh := p.obj.DeepCopyObject().(T)
	if err := d.APIReader.Get(ctx, client.ObjectKeyFromObject(p.obj), fresh); err != nil {
		return false, err
	}
	same, err := equalButOthers(p.base, fresh)
	if err != nil || !same {
		return false, err
	}
	var patch map[string]any
	if err := json.Unmarshal(data, &patch); err != nil {
		return false, err
	}
	md, _ := patch["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	md["resourceVersion"] = fresh.GetResourceVersion()
	patch["metadata"] = md
	raw, err := json.Marshal(patch)
	if err != nil {
		return false, err
	}
	if err := d.Status().Patch(ctx, fresh, client.RawPatch(types.MergePatchType, raw), client.FieldOwner(FieldOwner)); err != nil {
		return false, err
	}
	p.log.V(1).Info("Applied the pass's status again over another writer's change")
	reflect.ValueOf(p.obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	return true, nil
}

// equalButOthers reports whether a and b differ at most in othersFields and in the
// bookkeeping of writes (resource version, managed fields, and the type meta that
// cached objects carry and fresh reads do not).
func equalButOthers(a, b client.Object) (bool, error) {
	ua, err := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	if err != nil {
		return false, err
	}
	ub, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err != nil {
		return false, err
	}
	for _, u := range []map[string]any{ua, ub} {
		unstructured.RemoveNestedField(u, "apiVersion")
		unstructured.RemoveNestedField(u, "kind")
		unstructured.RemoveNestedField(u, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(u, "metadata", "managedFields")
		for _, f := range othersFields {
			unstructured.RemoveNestedField(u, f...)
		}
	}
	// a comes from the cache, which may lack fields the API server has (CacheOptions).
	for _, f := range cacheDroppedFields {
		if _, found, _ := unstructured.NestedFieldNoCopy(ua, f...); !found {
			unstructured.RemoveNestedField(ub, f...)
		}
	}
	return equality.Semantic.DeepEqual(ua, ub), nil
}

func schemaGroupResource(obj client.Object) schema.GroupResource {
	return schema.GroupResource{Group: openaiv1alpha1.GroupVersion.Group, Resource: strings.ToLower(reflect.TypeOf(obj).Elem().Name())}
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
	// The note may hold OpenAI's words: never a format string.
	d.Recorder.Eventf(p.obj, nil, eventType, phase, "Reconcile", "%s", note)
	p.log.Info(noun+" phase changed", "phase", phase, strings.ToLower(noun[:1])+noun[1:]+"ID", id)
}

// conflictRetryDelay is how soon a pass whose write lost its optimistic lock runs again.
const conflictRetryDelay = 100 * time.Millisecond

// settle decides a pass's outcome after its final status write. A write (or an earlier
// one in the pass) that lost its optimistic lock to a change patchStatus could not
// absorb means the pass worked from stale state: its outcome is dropped and it runs
// again soon from fresh state. Nothing is lost: a created object is remembered in
// memory and recorded by the next pass.
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

// observeGeneration records that the pass acted on the resource's generation: after a
// pass that succeeded, or that ended in an error no retry can fix (so that kstatus-based
// health checks see the terminal state), but not after a transient error.
func observeGeneration(retErr error, observed *int64, generation int64) {
	if retErr == nil || errors.Is(retErr, reconcile.TerminalError(nil)) {
		*observed = generation
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
			var held *openaiclient.HeldError
			if errors.As(cleanupErr, &held) {
				retry = max(retry, held.Wait)
			}
			return ctrl.Result{RequeueAfter: retry}, nil
		}
		d.Recorder.Eventf(
			p.obj,
			nil,
			corev1.EventTypeWarning,
			"CleanupAbandoned",
			"Delete",
			"Gave up cleaning up on OpenAI (%s): %s",
			leftBehind,
			cleanupErr.Error(),
		)
	}
	base := p.obj.DeepCopyObject().(T)
	controllerutil.RemoveFinalizer(p.obj, Finalizer)
	if p.ghost {
		// Gone from the API server already: nothing to patch. A new object of the same
		// name may have waited behind the ghost: its pass comes next.
		d.ghosts.forget(client.ObjectKeyFromObject(p.obj))
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	err := d.Patch(ctx, p.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner))
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// cleanupError keeps a HeldError's wait while making a cleanup failure's message safe.
func cleanupError(err error, secrets ...string) error {
	var held *openaiclient.HeldError
	if errors.As(err, &held) {
		return held
	}
	return errors.New(openaiclient.Classify(err, secrets...).Message)
}

// rejection is OpenAI's refusal of a submission as a process saw it, kept in the
// process's memory of the submission: should the status write that ends the resource
// be lost (a spec edit made it conflict), the pass that runs again from the stored state
// (still Submitting) ends it the same way instead of submitting again, perhaps with an
// upload the refused pass deleted.
type rejection struct{ reason, message string }

// callKind says what an OpenAI call was about, for apiError.
type callKind int

const (
	// aboutSubmitted calls are about work OpenAI already has, or might have: reads,
	// cancels, downloads, deletes, the adoption search. No answer to them ends the
	// resource: a refusal is about access, not about the work.
	aboutSubmitted callKind = iota
	// submission calls ask OpenAI to take the work (the input upload, the create call):
	// a 400-class answer is OpenAI's refusal of the request itself, and ends it.
	submission
)

// apiError turns an error from calling OpenAI into the pass's outcome:
//
//   - missing credentials wait for the Secret (its watch wakes the resource);
//   - a call held by the project's gate, a 429, or a refused key (401, 403, wrong
//     project, insufficient_quota) waits as long as the gate says, the refusal named in
//     CredentialsReady (and, for a refusal of this pass's own call, a Warning Event when
//     the condition changes): the resource keeps its phase and continues by itself;
//   - another 4xx answer ends the resource through refuse (reason Rejected) only for a
//     submission call; after submission it is a refusal of access (RequestRefused),
//     retried after BackoffMax;
//   - anything else (5xx, no answer) is returned for controller-runtime's backoff.
func (p *pass[T]) apiError(d *Deps, kind callKind, what string, err error, refuse func(reason, message string)) (ctrl.Result, error) {
	if errors.Is(err, errCredentials) {
		return ctrl.Result{RequeueAfter: d.RetryInterval}, nil
	}
	project := p.credentialsKey(d)
	var held *openaiclient.HeldError
	if errors.As(err, &held) {
		p.log.V(1).Info("Waiting before calling OpenAI again", "operation", what, "wait", held.Wait, "why", held.Refusal.Message)
		if held.Refusal.Class.Refused() {
			p.refused = true
			p.noteRefusal(d, what, held.Refusal.Class, held.Refusal.Code, held.Refusal.Message, false)
		}
		return ctrl.Result{RequeueAfter: held.Wait}, nil
	}
	c := openaiclient.Classify(err, p.apiKey)
	wait := func() time.Duration {
		if h := d.shared.gateOf().Held(project, kind == submission); h != nil {
			return h.Wait
		}
		return max(c.RetryAfter, d.BackoffMin)
	}
	switch {
	case c.Class == openaiclient.RateLimited:
		p.log.V(1).Info("Rate limited by OpenAI", "operation", what, "retryAfter", c.RetryAfter)
		return ctrl.Result{RequeueAfter: wait()}, nil
	case c.Class.Refused():
		p.refused = true
		if c.Class == openaiclient.QuotaExceeded {
			quotaExhausted.WithLabelValues(p.obj.GetNamespace(), credentialsName(p.creds, d.DefaultCredentialsSecret)).Inc()
		}
		p.noteRefusal(d, what, c.Class, c.Code, c.Message, true)
		return ctrl.Result{RequeueAfter: wait()}, nil
	case c.Class == openaiclient.Terminal && kind == submission:
		refuse(openaiv1alpha1.ReasonRejected, fmt.Sprintf("%s: %s", what, c.Message))
		return ctrl.Result{}, reconcile.TerminalError(errors.New(c.Message))
	case c.Class == openaiclient.Terminal:
		p.refused = true
		p.noteRefusal(d, what, c.Class, c.Code, c.Message, true)
		return ctrl.Result{RequeueAfter: d.BackoffMax}, nil
	default:
		return ctrl.Result{}, fmt.Errorf("%s: %s", what, c.Message)
	}
}

// refusalReason is the CredentialsReady reason of a refusal.
func refusalReason(class openaiclient.Class, code string) string {
	switch {
	case class == openaiclient.QuotaExceeded:
		return openaiv1alpha1.ReasonInsufficientQuota
	case strings.HasPrefix(code, "mismatched_") || code == "invalid_organization" || code == "invalid_project":
		return openaiv1alpha1.ReasonWrongProject
	case class == openaiclient.Unauthorized:
		return openaiv1alpha1.ReasonUnauthorized
	case class == openaiclient.Forbidden:
		return openaiv1alpha1.ReasonForbidden
	}
	return openaiv1alpha1.ReasonRequestRefused
}

// noteRefusal records in CredentialsReady that OpenAI refused the project's key, and
// emits a Warning Event when the condition changed by this pass's own call (own).
func (p *pass[T]) noteRefusal(d *Deps, what string, class openaiclient.Class, code, message string, own bool) {
	reason := refusalReason(class, code)
	retry := "retrying with backoff"
	if reason == openaiv1alpha1.ReasonInsufficientQuota {
		retry = fmt.Sprintf("retrying every %s", d.QuotaRetryInterval)
	}
	msg := fmt.Sprintf("OpenAI refused the API key in Secret %q (%s): %s; %s, the resource keeps its phase",
		credentialsName(p.creds, d.DefaultCredentialsSecret), what, message, retry)
	before := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionCredentialsReady)
	changed := before == nil || before.Status != metav1.ConditionFalse || before.Reason != reason
	setCondition(p.conds, p.obj, openaiv1alpha1.ConditionCredentialsReady, metav1.ConditionFalse, reason, msg)
	if changed && own {
		d.Recorder.Eventf(p.obj, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
	}
	if changed {
		p.log.Info("OpenAI refused the API key; waiting", "reason", reason, "operation", what)
	}
}

// noteNotFound records that OpenAI answers 404 for the object whose id is in status,
// with a Warning Event when that is new. The resource keeps its phase.
func (p *pass[T]) noteNotFound(d *Deps, noun, id string) {
	before := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionObjectFound)
	msg := fmt.Sprintf(
		"OpenAI answers 404 for %s %s with the API key in Secret %q: it was deleted, or the key belongs to another project; the resource keeps its phase and the %s is read again on the polling schedule (delete the resource to give up on it)",
		noun,
		id,
		credentialsName(p.creds, d.DefaultCredentialsSecret),
		strings.ToLower(noun),
	)
	setCondition(p.conds, p.obj, openaiv1alpha1.ConditionObjectFound, metav1.ConditionFalse, openaiv1alpha1.ReasonNotFound, msg)
	if before == nil || before.Status != metav1.ConditionFalse {
		d.Recorder.Eventf(p.obj, nil, corev1.EventTypeWarning, openaiv1alpha1.ReasonNotFound, "Reconcile", "%s", msg)
	}
}

// noteFound clears ObjectFound after a read that found the object.
func (p *pass[T]) noteFound(noun, id string) {
	if c := meta.FindStatusCondition(*p.conds, openaiv1alpha1.ConditionObjectFound); c != nil && c.Status != metav1.ConditionTrue {
		setCondition(p.conds, p.obj, openaiv1alpha1.ConditionObjectFound, metav1.ConditionTrue, openaiv1alpha1.ReasonFound,
			fmt.Sprintf("OpenAI shows %s %s again", noun, id))
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
	removeCondition(conds, openaiv1alpha1.ConditionComplete)
}

// endedOnOpenAI reports whether the conditions say that OpenAI itself ended the work
// (completed, failed, expired, cancelled, incomplete), as opposed to the operator ending
// a resource that OpenAI may still be running.
func endedOnOpenAI(conds []metav1.Condition) bool {
	if meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionComplete) {
		return true
	}
	c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionFailed)
	if c == nil || c.Status != metav1.ConditionTrue {
		return false
	}
	switch c.Reason {
	case openaiv1alpha1.ReasonFailed, openaiv1alpha1.ReasonExpired, openaiv1alpha1.ReasonCancelled, openaiv1alpha1.ReasonIncomplete:
		return true
	}
	return false
}

// sameTarget reports whether two results targets name the same object.
func sameTarget(a, b *openaiv1alpha1.ResultsTarget) bool {
	if a == nil || b == nil {
		return a == b
	}
	kind := func(k openaiv1alpha1.ResultsKind) openaiv1alpha1.ResultsKind {
		if k == "" {
			return openaiv1alpha1.ResultsKindConfigMap
		}
		return k
	}
	return kind(a.Kind) == kind(b.Kind) && a.Name == b.Name
}

// resultsDone reports whether storing results is finished: stored (or found impossible:
// too large, expired on OpenAI) in the target spec.results names now. Results are
// stored once per finished object and target, whatever else of the spec changes. A
// target that belongs to someone else is tried again after any spec change.
func resultsDone(conds []metav1.Condition, stored, target *openaiv1alpha1.ResultsTarget, generation int64) bool {
	c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionResultsStored)
	if c == nil {
		return false
	}
	final := c.Status == metav1.ConditionTrue || c.Reason == openaiv1alpha1.ReasonTooLarge || c.Reason == openaiv1alpha1.ReasonExpired
	conflict := c.Reason == openaiv1alpha1.ReasonTargetConflict
	if stored == nil {
		// Written before storedResults existed: the generation stands for the target.
		return c.ObservedGeneration == generation && (final || conflict)
	}
	return sameTarget(stored, target) && (final || (conflict && c.ObservedGeneration == generation))
}

// noteResults records the outcome of writing results as a condition and an Event, and
// the target it was for.
func noteResults(
	d *Deps,
	conds *[]metav1.Condition,
	stored **openaiv1alpha1.ResultsTarget,
	obj client.Object,
	target *openaiv1alpha1.ResultsTarget,
	out resultsOutcome,
) {
	recordResults(conds, stored, obj, target, out)
	eventType, reason := corev1.EventTypeNormal, "ResultsStored"
	if out.status != metav1.ConditionTrue {
		eventType, reason = corev1.EventTypeWarning, out.reason
	}
	d.Recorder.Eventf(obj, nil, eventType, reason, "StoreResults", "%s", out.message)
}

// recordResults records the outcome of writing results, without an Event.
func recordResults(
	conds *[]metav1.Condition,
	stored **openaiv1alpha1.ResultsTarget,
	obj client.Object,
	target *openaiv1alpha1.ResultsTarget,
	out resultsOutcome,
) {
	setCondition(conds, obj, openaiv1alpha1.ConditionResultsStored, out.status, out.reason, out.message)
	*stored = target.DeepCopy()
}

// resultsExpired records that a result file is no longer on OpenAI.
func resultsExpired(
	d *Deps,
	conds *[]metav1.Condition,
	stored **openaiv1alpha1.ResultsTarget,
	obj client.Object,
	target *openaiv1alpha1.ResultsTarget,
	what string,
) {
	noteResults(d, conds, stored, obj, target, resultsOutcome{metav1.ConditionFalse, openaiv1alpha1.ReasonExpired,
		fmt.Sprintf("%s is no longer on OpenAI (it expired or was deleted): the results cannot be stored", what)})
}

// resultsRefused records in ResultsStored why results cannot be fetched yet: OpenAI
// refused the key. The finished resource keeps its phase and conditions.
func resultsRefused(conds *[]metav1.Condition, obj client.Object, err error, apiKey string) {
	var held *openaiclient.HeldError
	class, code, msg := openaiclient.Transient, "", ""
	if errors.As(err, &held) {
		class, code, msg = held.Refusal.Class, held.Refusal.Code, held.Refusal.Message
	} else {
		c := openaiclient.Classify(err, apiKey)
		class, code, msg = c.Class, c.Code, c.Message
	}
	if !class.Refused() && class != openaiclient.Terminal {
		return
	}
	setCondition(conds, obj, openaiv1alpha1.ConditionResultsStored, metav1.ConditionFalse, refusalReason(class, code),
		"Fetching the results from OpenAI was refused: "+msg+"; retrying")
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
