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
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/webhooks"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// DefaultWebhookEventTypes are the event types of the operator's kinds: what an
// OpenAIWebhookEndpoint subscribes to when spec.eventTypes is unset.
var DefaultWebhookEventTypes = []string{
	"batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
	"response.completed", "response.failed", "response.cancelled", "response.incomplete",
	"fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled",
}

// WebhookEndpointOptions configure the OpenAIWebhookEndpoint reconciler.
type WebhookEndpointOptions struct {
	// ReceiverURL is the webhook receiver's public URL, used when spec.url is unset.
	ReceiverURL string
	// SecretNamespace and SecretName name the webhook receiver's Secret, where the
	// signing secrets go (one key per endpoint).
	SecretNamespace string
	SecretName      string
	// SecretOverlap is how long the previous secret stays in the receiver's Secret after
	// a rotation: as long as OpenAI keeps signing with it (24 h).
	SecretOverlap time.Duration
	// SecretPropagation is how long after writing a secret the first test waits: the
	// time every receiver replica takes to load it.
	SecretPropagation time.Duration
	// VerifyInterval is how often a Verified endpoint is tested again.
	VerifyInterval time.Duration
	// TestRetryMin and TestRetryMax bound the backoff between failing tests.
	TestRetryMin, TestRetryMax time.Duration
}

// DefaultWebhookEndpointOptions are the manager's defaults.
func DefaultWebhookEndpointOptions() WebhookEndpointOptions {
	return WebhookEndpointOptions{
		SecretNamespace:   "openai-operator-system",
		SecretName:        "openai-webhook-secret",
		SecretOverlap:     24 * time.Hour,
		SecretPropagation: 5 * time.Second,
		VerifyInterval:    6 * time.Hour,
		TestRetryMin:      2 * time.Second,
		TestRetryMax:      5 * time.Minute,
	}
}

// Rotation reasons (status.lastRotation.reason and the metric's label).
const (
	rotationScheduled  = "Scheduled"
	rotationRequested  = "Requested"
	rotationSecretLost = "SecretLost"
)

// ReceiverSecretKey is the key of the receiver's Secret that holds the current signing
// secret of the OpenAIWebhookEndpoint namespace/name. Namespaces are DNS labels and names
// DNS subdomains: neither holds "_", so the key is unambiguous.
func ReceiverSecretKey(namespace, name string) string { return namespace + "_" + name }

// PreviousReceiverSecretKey is the key of the previous signing secret during a
// rotation's overlap.
func PreviousReceiverSecretKey(namespace, name string) string {
	return ReceiverSecretKey(namespace, name) + "_previous"
}

// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaiwebhookendpoints,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaiwebhookendpoints/status,verbs=patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaiwebhookendpoints/finalizers,verbs=update
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=openai-webhook-secret,verbs=get;update

// WebhookEndpointReconciler runs OpenAIWebhookEndpoint resources: it creates the
// endpoint on OpenAI, writes its signing secret into the receiver's Secret, proves
// delivery with OpenAI's test event, rotates the secret, and deletes it all with the
// resource.
//
// The secret exists in OpenAI's answer only. The controller writes it to the receiver's
// Secret in the very next API server request; if the process dies in between, the
// secret is lost: a restarted controller finds the endpoint by listing (its name ends
// with the resource's UID) and rotates at once to get a fresh one.
type WebhookEndpointReconciler struct {
	Deps

	memos sync.Map // types.UID -> *endpointMemo
}

// endpointMemo is what this process did that the resource's status may not show yet:
// an outcome to record (the status write lost a conflict, or the cache is behind it),
// and a secret OpenAI returned that is not yet in the receiver's Secret.
type endpointMemo struct {
	outcome *endpointOutcome
	secret  string // not yet written; cleared once it is
	keep    bool   // keep the receiver's current secret as the previous one
}

// endpointOutcome is a new endpoint or secret, as the status must record it.
type endpointOutcome struct {
	remote       webhooks.WebhookEndpoint
	secretKey    string
	writtenAt    metav1.MicroTime
	rotation     *openaiv1alpha1.WebhookRotationStatus // nil for a new endpoint
	rotations    int64                                 // the status's rotation count once recorded
	needsTesting bool                                  // the current secret signs alone
}

type endpointScope struct {
	pass[*openaiv1alpha1.OpenAIWebhookEndpoint]
	memo *endpointMemo
	// remote is the endpoint as OpenAI has it, read or written in this pass.
	remote *webhooks.WebhookEndpoint
	// wake is the earliest time a step asked to run again (zero: none).
	wake time.Time
}

func (s *endpointScope) wakeAt(t time.Time) {
	if s.wake.IsZero() || t.Before(s.wake) {
		s.wake = t
	}
}

// Reconcile moves one OpenAIWebhookEndpoint towards its spec.
func (r *WebhookEndpointReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &openaiv1alpha1.OpenAIWebhookEndpoint{}
	found, ghost, err := r.fetch(ctx, req.NamespacedName, obj)
	if !found {
		return ctrl.Result{}, err
	}
	s := &endpointScope{pass: newPass(ctx, obj, obj.Spec.CredentialsRef, &obj.Status.Conditions), memo: r.memo(obj.UID)}
	s.health = func() { endpointHealth(obj) }
	s.ghost = ghost
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if err := s.ensureFinalizer(ctx, &r.Deps); err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		s.concludeCredentials(&r.Deps)
		observeGeneration(retErr, &obj.Status.ObservedGeneration, obj.Generation)
		s.settle(r.patchStatus(ctx, s), &result, &retErr)
		r.noteTrust(s)
	}()
	return runSteps(ctx, s, r.recall, r.ensureEndpoint, r.ensureSecret, r.rotateWhenDue, r.expirePrevious, r.verify, r.requeue)
}

// endpointHealth derives the conditions kstatus (Flux, Argo CD) reads from Ready: an
// endpoint is configuration, not work that ends, so Ready=True is Current; Ready=False
// that waits on the user (OpenAI refused the spec, no URL to use) is Stalled; any other
// Ready=False is Reconciling, with Ready's reason.
func endpointHealth(obj *openaiv1alpha1.OpenAIWebhookEndpoint) {
	conds := &obj.Status.Conditions
	ready := meta.FindStatusCondition(*conds, openaiv1alpha1.ConditionReady)
	switch {
	case ready == nil:
		return
	case ready.Status == metav1.ConditionTrue:
		removeCondition(conds, openaiv1alpha1.ConditionReconciling)
		removeCondition(conds, openaiv1alpha1.ConditionStalled)
	case ready.Reason == openaiv1alpha1.ReasonRejected || ready.Reason == openaiv1alpha1.ReasonNoURL:
		reason, msg := ready.Reason, ready.Message
		removeCondition(conds, openaiv1alpha1.ConditionReconciling)
		setCondition(conds, obj, openaiv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)
	default:
		reason, msg := ready.Reason, ready.Message
		removeCondition(conds, openaiv1alpha1.ConditionStalled)
		setCondition(conds, obj, openaiv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	}
}

func (r *WebhookEndpointReconciler) memo(uid types.UID) *endpointMemo {
	m, _ := r.memos.LoadOrStore(uid, &endpointMemo{})
	return m.(*endpointMemo)
}

// patchStatus writes what this pass changed and emits an Event when Verified changed.
func (r *WebhookEndpointReconciler) patchStatus(ctx context.Context, s *endpointScope) error {
	before := meta.FindStatusCondition(s.base.Status.Conditions, openaiv1alpha1.ConditionVerified)
	if err := s.patchStatus(ctx, &r.Deps); err != nil {
		return err
	}
	after := meta.FindStatusCondition(s.obj.Status.Conditions, openaiv1alpha1.ConditionVerified)
	if after == nil || after.Status == metav1.ConditionUnknown || (before != nil && before.Status == after.Status && before.Reason == after.Reason) {
		return nil
	}
	if after.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "Verified", "Test", after.Message)
	} else {
		r.Recorder.Eventf(s.obj, nil, corev1.EventTypeWarning, after.Reason, "Test", after.Message)
	}
	s.log.Info("Webhook endpoint verification changed", "verified", after.Status, "reason", after.Reason)
	return nil
}

// noteTrust tells the batch and response reconcilers what this endpoint proved: while
// it is Verified, the project's resources poll on the webhook schedule from the first.
func (r *WebhookEndpointReconciler) noteTrust(s *endpointScope) {
	st := &s.obj.Status
	key := s.credentialsKey(&r.Deps)
	v := meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionVerified)
	switch {
	case v != nil && v.Status == metav1.ConditionTrue && st.LastTest != nil && coversOperatorEvents(st.EventTypes):
		r.shared.trustWebhooks(key, st.LastTest.Time.Time)
	case v != nil && v.Status == metav1.ConditionFalse:
		r.shared.forgetWebhooks(key)
	}
}

// coversOperatorEvents reports whether types include every event of the operator's kinds.
func coversOperatorEvents(eventTypes []string) bool {
	for _, t := range DefaultWebhookEventTypes {
		if !slices.Contains(eventTypes, t) {
			return false
		}
	}
	return true
}

// desired is the endpoint the spec asks for, as OpenAI stores it.
func (r *WebhookEndpointReconciler) desired(obj *openaiv1alpha1.OpenAIWebhookEndpoint) webhooks.WebhookEndpoint {
	display := obj.Spec.DisplayName
	if display == "" {
		display = obj.Namespace + "/" + obj.Name
	}
	url := obj.Spec.URL
	if url == "" {
		url = r.Webhooks.ReceiverURL
	}
	eventTypes := obj.Spec.EventTypes
	if len(eventTypes) == 0 {
		eventTypes = DefaultWebhookEventTypes
	}
	return webhooks.WebhookEndpoint{Name: display + " " + uidSuffix(obj.UID), URL: url, EventTypes: slices.Clone(eventTypes)}
}

// uidSuffix ends the name of every endpoint the operator creates: OpenAI's endpoints
// carry no metadata, so the name is how a restarted manager finds its endpoint.
func uidSuffix(uid types.UID) string { return "(" + string(uid) + ")" }

// apiError turns an error from calling OpenAI into the pass's outcome (see
// pass.apiError): creating or updating the endpoint is a submission, whose 400-class
// refusal sets Ready=False (reason Rejected) until the spec changes.
func (r *WebhookEndpointReconciler) apiError(s *endpointScope, kind callKind, what string, err error) (ctrl.Result, error) {
	return s.apiError(&r.Deps, kind, what, err, func(reason, message string) {
		setCondition(&s.obj.Status.Conditions, s.obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	})
}

// recall records in status what an earlier pass of this process did but could not
// record, and writes a secret it could not write.
func (r *WebhookEndpointReconciler) recall(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	m, st := s.memo, &s.obj.Status
	if m.secret != "" {
		if err := r.writeSecret(ctx, s, m.secret, m.keep); err != nil {
			return ctrl.Result{}, err
		}
		m.secret = ""
		m.outcome.writtenAt = metav1.NowMicro()
	}
	out := m.outcome
	if out == nil {
		return ctrl.Result{}, nil
	}
	if st.EndpointID == out.remote.ID && rotationCount(st) >= out.rotations && st.SecretWrittenAt != nil {
		m.outcome = nil // the status shows it
		return ctrl.Result{}, nil
	}
	r.record(s, out)
	return ctrl.Result{}, nil
}

func rotationCount(st *openaiv1alpha1.OpenAIWebhookEndpointStatus) int64 {
	if st.LastRotation == nil {
		return 0
	}
	return st.LastRotation.Count
}

// record puts an outcome in status.
func (r *WebhookEndpointReconciler) record(s *endpointScope, out *endpointOutcome) {
	st := &s.obj.Status
	r.mirror(s, &out.remote)
	st.ReceiverSecretKey = out.secretKey
	written := out.writtenAt
	st.SecretWrittenAt = &written
	if out.rotation != nil {
		rot := *out.rotation
		st.LastRotation = &rot
	}
	if out.needsTesting {
		setCondition(&st.Conditions, s.obj, openaiv1alpha1.ConditionVerified, metav1.ConditionUnknown, openaiv1alpha1.ReasonTestPending,
			"Waiting for the receivers to load the new signing secret, then OpenAI's test delivery")
	}
}

// mirror copies OpenAI's view of the endpoint into status.
func (r *WebhookEndpointReconciler) mirror(s *endpointScope, ep *webhooks.WebhookEndpoint) {
	st := &s.obj.Status
	s.remote = ep
	st.EndpointID, st.URL, st.EventTypes = ep.ID, ep.URL, slices.Clone(ep.EventTypes)
	if ep.SigningSecretHint != "" {
		st.SigningSecretHint = ep.SigningSecretHint
	}
}

// ensureEndpoint makes the endpoint exist on OpenAI as the spec asks: it adopts one an
// earlier attempt created, creates it, or updates what differs.
func (r *WebhookEndpointReconciler) ensureEndpoint(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	want := r.desired(obj)
	if want.URL == "" {
		msg := "No URL to deliver to: set spec.url, or start the manager with --webhook-receiver-url (the receiver's public URL)"
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, openaiv1alpha1.ReasonNoURL, msg)
		// A spec change or a restarted manager tries again.
		return ctrl.Result{}, reconcile.TerminalError(errors.New("no URL to deliver to: set spec.url or --webhook-receiver-url"))
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		if errors.Is(err, errCredentials) {
			setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, openaiv1alpha1.ReasonCreating,
				"Waiting for credentials (see CredentialsReady)")
		}
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	if s.remote != nil {
		return r.update(ctx, s, api, want)
	}
	if st.EndpointID != "" {
		remote, err := api.Webhooks.Get(ctx, st.EndpointID)
		switch {
		case err == nil:
			s.remote = remote
			return r.update(ctx, s, api, want)
		case openaiclient.Classify(err).Class == openaiclient.NotFound:
			// A 404 may pass; only the project's list says the endpoint is gone. Creating
			// it again while it exists would deliver every event twice.
			found, ferr := r.findEarlier(ctx, s, api)
			if ferr != nil {
				return r.apiError(s, aboutSubmitted, "searching OpenAI for the webhook endpoint", ferr)
			}
			if found != nil && found.ID == st.EndpointID {
				s.remote = found
				return r.update(ctx, s, api, want)
			}
			if found != nil {
				return r.adopt(ctx, s, api, want, found)
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "EndpointVanished", "Reconcile",
				"Webhook endpoint %s no longer exists on OpenAI; creating it again", st.EndpointID)
			s.log.Info("Webhook endpoint vanished on OpenAI; creating it again", "endpointID", st.EndpointID)
			st.EndpointID = ""
			return r.create(ctx, s, api, want)
		default:
			return r.apiError(s, aboutSubmitted, "reading the webhook endpoint", err)
		}
	}
	if found, err := r.findEarlier(ctx, s, api); err != nil {
		return r.apiError(s, aboutSubmitted, "searching OpenAI for an earlier endpoint", err)
	} else if found != nil {
		return r.adopt(ctx, s, api, want, found)
	}
	return r.create(ctx, s, api, want)
}

// adopt takes over an endpoint an earlier attempt created. Its secret was never stored
// (or cannot be trusted): ensureSecret rotates.
func (r *WebhookEndpointReconciler) adopt(ctx context.Context, s *endpointScope, api openai.Client,
	want webhooks.WebhookEndpoint, found *webhooks.WebhookEndpoint) (ctrl.Result, error) {
	s.log.Info("Adopting the webhook endpoint an earlier attempt created", "endpointID", found.ID)
	r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "Adopted", "Reconcile",
		"Adopted webhook endpoint %s created by an earlier attempt; its signing secret is rotated, as it was not stored", found.ID)
	r.mirror(s, found)
	s.obj.Status.SecretWrittenAt = nil
	return r.update(ctx, s, api, want)
}

// maxEndpointPages bounds the adoption search (100 endpoints a page).
const maxEndpointPages = 10

// findEarlier lists the project's endpoints for one whose name carries this resource's UID.
func (r *WebhookEndpointReconciler) findEarlier(ctx context.Context, s *endpointScope, api openai.Client) (*webhooks.WebhookEndpoint, error) {
	suffix := " " + uidSuffix(s.obj.UID)
	pager := api.Webhooks.ListAutoPaging(ctx, webhooks.WebhookListParams{Limit: openai.Int(100)})
	for n := 0; pager.Next() && n < maxEndpointPages*100; n++ {
		if ep := pager.Current(); strings.HasSuffix(ep.Name, suffix) {
			return &ep, nil
		}
	}
	return nil, pager.Err()
}

// create creates the endpoint and at once writes its secret to the receiver's Secret.
func (r *WebhookEndpointReconciler) create(ctx context.Context, s *endpointScope, api openai.Client,
	want webhooks.WebhookEndpoint) (ctrl.Result, error) {
	obj := s.obj
	setCondition(&obj.Status.Conditions, obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, openaiv1alpha1.ReasonCreating,
		"Creating the webhook endpoint on OpenAI")
	created, err := api.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: want.Name, URL: want.URL, EventTypes: want.EventTypes})
	if err != nil {
		return r.apiError(s, submission, "creating the webhook endpoint", err)
	}
	remote := withoutSecret(created)
	s.memo.outcome = &endpointOutcome{remote: remote, secretKey: ReceiverSecretKey(obj.Namespace, obj.Name), needsTesting: true,
		rotations: rotationCount(&obj.Status)}
	s.memo.secret, s.memo.keep = created.SigningSecret, false
	r.Recorder.Eventf(
		obj,
		nil,
		corev1.EventTypeNormal,
		"Created",
		"Reconcile",
		"Created webhook endpoint %s delivering to %s",
		created.ID,
		created.URL,
	)
	s.log.Info("Created webhook endpoint", "endpointID", created.ID)
	return r.recall(ctx, s)
}

// withoutSecret drops the signing secret from OpenAI's answer.
func withoutSecret(ep *webhooks.WebhookEndpointWithSecret) webhooks.WebhookEndpoint {
	return webhooks.WebhookEndpoint{ID: ep.ID, Name: ep.Name, URL: ep.URL, EventTypes: ep.EventTypes,
		SigningSecretHint: ep.SigningSecretHint, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt}
}

// update changes what differs between the endpoint on OpenAI and the spec.
func (r *WebhookEndpointReconciler) update(ctx context.Context, s *endpointScope, api openai.Client,
	want webhooks.WebhookEndpoint) (ctrl.Result, error) {
	st, have := &s.obj.Status, s.remote
	var params webhooks.WebhookUpdateParams
	var changed []string
	if have.Name != want.Name {
		params.Name, changed = openai.String(want.Name), append(changed, "name")
	}
	urlChanged := have.URL != want.URL
	if urlChanged {
		params.URL, changed = openai.String(want.URL), append(changed, "url")
	}
	if !sameSet(have.EventTypes, want.EventTypes) {
		params.EventTypes, changed = want.EventTypes, append(changed, "event types")
	}
	if len(changed) > 0 {
		updated, err := api.Webhooks.Update(ctx, have.ID, params)
		if err != nil {
			return r.apiError(s, submission, "updating the webhook endpoint", err)
		}
		have = updated
		r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "Updated", "Reconcile", "Updated the %s of webhook endpoint %s",
			strings.Join(changed, ", "), have.ID)
		if urlChanged {
			setCondition(&st.Conditions, s.obj, openaiv1alpha1.ConditionVerified, metav1.ConditionUnknown, openaiv1alpha1.ReasonTestPending,
				"The URL changed: waiting for OpenAI's test delivery to it")
		}
	}
	r.mirror(s, have)
	return ctrl.Result{}, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// ensureSecret makes sure the receiver's Secret holds the endpoint's current secret.
// When it does not (the manager stopped between OpenAI's answer and writing it, or the
// key was removed), the secret is lost: rotate to get a fresh one.
func (r *WebhookEndpointReconciler) ensureSecret(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	st := &s.obj.Status
	key := ReceiverSecretKey(s.obj.Namespace, s.obj.Name)
	data, err := r.receiverData(ctx)
	if err != nil {
		setCondition(&st.Conditions, s.obj, openaiv1alpha1.ConditionReady, metav1.ConditionFalse, openaiv1alpha1.ReasonReceiverSecretFailed,
			fmt.Sprintf("Reading Secret %s/%s failed (retrying): %s", r.Webhooks.SecretNamespace, r.Webhooks.SecretName, apiReason(err)))
		return ctrl.Result{}, err
	}
	_, present := data[key]
	if present && st.SecretWrittenAt != nil {
		r.ready(s)
		return ctrl.Result{}, nil
	}
	// An adopted endpoint (SecretWrittenAt unset) keeps whatever the key holds as the
	// previous secret: it may be the right one, written just before a crash.
	return r.rotate(ctx, s, rotationSecretLost, present)
}

// ready sets Ready: the endpoint is configured and its secret is in place.
func (r *WebhookEndpointReconciler) ready(s *endpointScope) {
	st := &s.obj.Status
	setCondition(&st.Conditions, s.obj, openaiv1alpha1.ConditionReady, metav1.ConditionTrue, openaiv1alpha1.ReasonConfigured,
		fmt.Sprintf("Webhook endpoint %s delivers %d event types to %s, signed with the secret under key %q of Secret %s/%s",
			st.EndpointID, len(st.EventTypes), st.URL, st.ReceiverSecretKey, r.Webhooks.SecretNamespace, r.Webhooks.SecretName))
}

// rotateWhenDue rotates on the schedule of spec.rotation, and when the rotate-requested-at
// annotation has a value no rotation has answered yet.
func (r *WebhookEndpointReconciler) rotateWhenDue(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	now := time.Now()
	last := st.LastRotation
	if req := obj.Annotations[openaiv1alpha1.RotateRequestAnnotation]; req != "" && (last == nil || last.Request != req) {
		return r.rotate(ctx, s, rotationRequested, true)
	}
	if obj.Spec.Rotation == nil || st.SecretWrittenAt == nil {
		return ctrl.Result{}, nil
	}
	due := st.SecretWrittenAt.Add(obj.Spec.Rotation.Every.Duration)
	if last != nil && last.PreviousSecretExpiresAt != nil && due.Before(last.PreviousSecretExpiresAt.Time) {
		due = last.PreviousSecretExpiresAt.Time // never while the previous overlap runs
	}
	if now.Before(due) {
		s.wakeAt(due)
		return ctrl.Result{}, nil
	}
	return r.rotate(ctx, s, rotationScheduled, true)
}

// rotate asks OpenAI for a new signing secret and at once writes it to the receiver's
// Secret. With keep, OpenAI keeps signing with the old secret for the overlap as well
// and the receiver keeps accepting it (under the _previous key) until then.
func (r *WebhookEndpointReconciler) rotate(ctx context.Context, s *endpointScope, reason string, keep bool) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	rotated, err := api.Webhooks.RotateSecret(
		ctx,
		st.EndpointID,
		webhooks.WebhookRotateSecretParams{KeepOldSecretActiveFor24Hours: openai.Bool(keep)},
	)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "rotating the signing secret", err)
	}
	now := metav1.Now()
	rot := &openaiv1alpha1.WebhookRotationStatus{Time: now, Reason: reason, Count: rotationCount(st) + 1}
	if last := st.LastRotation; last != nil {
		rot.Request, rot.PreviousSecretExpiresAt = last.Request, last.PreviousSecretExpiresAt
	}
	if keep {
		until := metav1.NewTime(now.Add(r.Webhooks.SecretOverlap))
		rot.PreviousSecretExpiresAt = &until
	}
	if reason == rotationRequested {
		rot.Request = obj.Annotations[openaiv1alpha1.RotateRequestAnnotation]
	}
	s.memo.outcome = &endpointOutcome{
		remote: withoutSecret(rotated), secretKey: ReceiverSecretKey(obj.Namespace, obj.Name), rotation: rot, rotations: rot.Count,
		needsTesting: !keep || reason == rotationSecretLost,
	}
	s.memo.secret, s.memo.keep = rotated.SigningSecret, keep
	webhookSecretRotations.WithLabelValues(reason).Inc()
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Rotated", "Rotate", "Rotated the signing secret of webhook endpoint %s (%s)%s",
		st.EndpointID, reason, map[bool]string{true: "; the previous one stays accepted for " + r.Webhooks.SecretOverlap.String(), false: ""}[keep])
	s.log.Info("Rotated the webhook signing secret", "endpointID", st.EndpointID, "reason", reason, "keepPrevious", keep)
	if _, err := r.recall(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	r.ready(s)
	return ctrl.Result{}, nil
}

// expirePrevious removes the previous secret from the receiver's Secret once OpenAI has
// stopped signing with it, and has the current one tested alone.
func (r *WebhookEndpointReconciler) expirePrevious(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	st := &s.obj.Status
	last := st.LastRotation
	if last == nil || last.PreviousSecretExpiresAt == nil {
		return ctrl.Result{}, nil
	}
	if until := last.PreviousSecretExpiresAt.Time; time.Now().Before(until) {
		s.wakeAt(until)
		return ctrl.Result{}, nil
	}
	prev := PreviousReceiverSecretKey(s.obj.Namespace, s.obj.Name)
	if err := r.editReceiverSecret(ctx, func(data map[string][]byte) bool {
		_, ok := data[prev]
		delete(data, prev)
		return ok
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing the previous signing secret from the receiver's Secret: %w", err)
	}
	last.PreviousSecretExpiresAt = nil
	s.log.Info("Removed the previous webhook signing secret after the overlap", "endpointID", st.EndpointID)
	if v := meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionVerified); v != nil && v.Status == metav1.ConditionTrue {
		setCondition(&st.Conditions, s.obj, openaiv1alpha1.ConditionVerified, metav1.ConditionUnknown, openaiv1alpha1.ReasonTestPending,
			"The previous signing secret expired: testing the current one alone")
	}
	return ctrl.Result{}, nil
}

// verify has OpenAI send a test delivery when the endpoint is not proven yet (with
// backoff while it fails), or when the last proof is VerifyInterval old.
func (r *WebhookEndpointReconciler) verify(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	st, o := &s.obj.Status, r.Webhooks
	if st.SecretWrittenAt == nil {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	v := meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionVerified)
	var due time.Time
	switch {
	case v != nil && v.Status == metav1.ConditionTrue && st.LastTest != nil:
		due = st.LastTest.Time.Add(o.VerifyInterval)
	case v != nil && v.Status == metav1.ConditionFalse && st.LastTest != nil:
		failing := st.LastTest.Time.Sub(v.LastTransitionTime.Time)
		due = st.LastTest.Time.Add(min(max(failing, o.TestRetryMin), o.TestRetryMax))
	default: // untested since the secret or the URL changed
		due = st.SecretWrittenAt.Add(o.SecretPropagation)
	}
	if now.Before(due) {
		s.wakeAt(due)
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	typ := testEventType(st.EventTypes)
	res, err := api.Webhooks.Test(ctx, st.EndpointID, webhooks.WebhookTestParams{EventType: webhooks.WebhookTestParamsEventType(typ)})
	if err != nil {
		return r.apiError(s, aboutSubmitted, "testing the webhook endpoint", err)
	}
	st.LastTest = &openaiv1alpha1.WebhookTestStatus{Time: metav1.NewTime(now), EventType: typ, StatusCode: int32(res.StatusCode)}
	status, reason, msg := verdict(int(res.StatusCode), typ, st.URL)
	setCondition(&st.Conditions, s.obj, openaiv1alpha1.ConditionVerified, status, reason, msg)
	next := now.Add(o.VerifyInterval)
	if status != metav1.ConditionTrue {
		next = now.Add(o.TestRetryMin)
		if v != nil && v.Status == metav1.ConditionFalse {
			next = now.Add(min(max(now.Sub(v.LastTransitionTime.Time), o.TestRetryMin), o.TestRetryMax))
		}
	}
	s.wakeAt(next)
	return ctrl.Result{}, nil
}

// testEventType is the event type of test deliveries: batch.completed when subscribed.
func testEventType(eventTypes []string) string {
	if slices.Contains(eventTypes, "batch.completed") || len(eventTypes) == 0 {
		return "batch.completed"
	}
	return eventTypes[0]
}

// verdict reads the status code of a test delivery.
func verdict(code int, typ, url string) (metav1.ConditionStatus, string, string) {
	answered := fmt.Sprintf("OpenAI's test delivery (%s) to %s was answered %d", typ, url, code)
	switch {
	case code >= 200 && code < 300:
		return metav1.ConditionTrue, openaiv1alpha1.ReasonDelivered, answered + ": URL, ingress, receiver and signing secret work"
	case code == http.StatusUnauthorized:
		return metav1.ConditionFalse, openaiv1alpha1.ReasonSignatureRejected,
			answered + ": the receiver refused the signature; it has not loaded the signing secret yet, or holds another one. Retrying"
	case code == http.StatusServiceUnavailable:
		return metav1.ConditionFalse, openaiv1alpha1.ReasonReceiverUnavailable,
			answered + ": the receiver has no signing secret at all or is not ready (is it reading the Secret?). Retrying"
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return metav1.ConditionFalse, openaiv1alpha1.ReasonNotRouted,
			answered + ": the URL does not lead to the receiver; check the ingress host and path (/openai/webhook). Retrying"
	case code == 0:
		return metav1.ConditionFalse, openaiv1alpha1.ReasonUnreachable,
			fmt.Sprintf("OpenAI's test delivery (%s) to %s got no answer: check DNS, TLS and the ingress. Retrying", typ, url)
	}
	return metav1.ConditionFalse, openaiv1alpha1.ReasonUnexpectedStatus, answered + ": routing or the receiver is failing. Retrying"
}

// requeue runs the pass again when the earliest step asked to.
func (r *WebhookEndpointReconciler) requeue(_ context.Context, s *endpointScope) (ctrl.Result, error) {
	if s.wake.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(time.Until(s.wake), time.Millisecond)}, nil
}

// receiverData reads the receiver's Secret; a missing Secret has no data.
func (r *WebhookEndpointReconciler) receiverData(ctx context.Context) (map[string][]byte, error) {
	sec := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: r.Webhooks.SecretNamespace, Name: r.Webhooks.SecretName}, sec)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the receiver's Secret %s/%s: %w", r.Webhooks.SecretNamespace, r.Webhooks.SecretName, err)
	}
	return sec.Data, nil
}

// editReceiverSecret changes the receiver's Secret with edit (which reports whether it
// changed anything), retrying on conflicts with the other endpoints' writes, and
// creates the Secret if it does not exist.
func (r *WebhookEndpointReconciler) editReceiverSecret(ctx context.Context, edit func(data map[string][]byte) bool) error {
	key := types.NamespacedName{Namespace: r.Webhooks.SecretNamespace, Name: r.Webhooks.SecretName}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec := &corev1.Secret{}
		err := r.APIReader.Get(ctx, key, sec)
		if apierrors.IsNotFound(err) {
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
				Labels: map[string]string{"app.kubernetes.io/name": "openai-operator", "app.kubernetes.io/component": "webhook-receiver"}},
				Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
			if !edit(sec.Data) {
				return nil
			}
			err = r.Create(ctx, sec, client.FieldOwner(FieldOwner))
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("secrets"), key.Name, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		if !edit(sec.Data) {
			return nil
		}
		return r.Update(ctx, sec, client.FieldOwner(FieldOwner))
	})
}

// writeSecret puts secret under the endpoint's key of the receiver's Secret; with keep,
// the secret it replaces moves to the _previous key.
func (r *WebhookEndpointReconciler) writeSecret(ctx context.Context, s *endpointScope, secret string, keep bool) error {
	key, prev := ReceiverSecretKey(s.obj.Namespace, s.obj.Name), PreviousReceiverSecretKey(s.obj.Namespace, s.obj.Name)
	err := r.editReceiverSecret(ctx, func(data map[string][]byte) bool {
		if cur, ok := data[key]; keep && ok && string(cur) != secret {
			data[prev] = cur
		}
		data[key] = []byte(secret)
		return true
	})
	if err != nil {
		setCondition(
			&s.obj.Status.Conditions,
			s.obj,
			openaiv1alpha1.ConditionReady,
			metav1.ConditionFalse,
			openaiv1alpha1.ReasonReceiverSecretFailed,
			fmt.Sprintf(
				"Writing the signing secret to Secret %s/%s failed (retrying): %s",
				r.Webhooks.SecretNamespace,
				r.Webhooks.SecretName,
				apiReason(err),
			),
		)
		return fmt.Errorf("writing the signing secret to the receiver's Secret: %w", err)
	}
	return nil
}

// apiReason is an API server error's message without any data it could echo.
func apiReason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return string(status.Status().Reason)
	}
	return "no answer from the API server"
}

// reconcileDelete removes the endpoint's keys from the receiver's Secret and deletes the
// endpoint on OpenAI, then lets the resource go. It gives up on OpenAI after
// DeletionTimeout, or at once without credentials, and says so in a Warning event.
func (r *WebhookEndpointReconciler) reconcileDelete(ctx context.Context, s *endpointScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if m := s.memo; st.EndpointID == "" && m.outcome != nil {
		st.EndpointID = m.outcome.remote.ID
	}
	key, prev := ReceiverSecretKey(obj.Namespace, obj.Name), PreviousReceiverSecretKey(obj.Namespace, obj.Name)
	keysErr := r.editReceiverSecret(ctx, func(data map[string][]byte) bool {
		_, a := data[key]
		_, b := data[prev]
		delete(data, key)
		delete(data, prev)
		return a || b
	})
	if keysErr != nil {
		keysErr = fmt.Errorf(
			"removing the signing secrets from Secret %s/%s: %s",
			r.Webhooks.SecretNamespace,
			r.Webhooks.SecretName,
			apiReason(keysErr),
		)
	}
	r.shared.forgetWebhooks(s.credentialsKey(&r.Deps))
	failure := errors.Join(keysErr, r.deleteOnOpenAI(ctx, s))
	result, err := s.finishDeletion(ctx, &r.Deps, failure,
		fmt.Sprintf("webhook endpoint %s may remain on OpenAI, and keys %q and %q in the receiver's Secret", st.EndpointID, key, prev))
	if err == nil && !controllerutil.ContainsFinalizer(obj, Finalizer) && (result.IsZero() || s.ghost) {
		r.memos.Delete(obj.UID)
	}
	return result, err
}

func (r *WebhookEndpointReconciler) deleteOnOpenAI(ctx context.Context, s *endpointScope) error {
	st := &s.obj.Status
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return s.credentialsProblem(err)
	}
	if st.EndpointID == "" {
		// An interrupted creation may have made one.
		found, err := r.findEarlier(ctx, s, api)
		if err != nil {
			return cleanupError(err, s.apiKey)
		}
		if found == nil {
			return nil
		}
		st.EndpointID = found.ID
	}
	if _, err := api.Webhooks.Delete(ctx, st.EndpointID); err != nil {
		if openaiclient.Classify(err, s.apiKey).Class != openaiclient.NotFound {
			return cleanupError(err, s.apiKey)
		}
	}
	r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "Deleted", "Delete", "Deleted webhook endpoint %s on OpenAI", st.EndpointID)
	return nil
}

// withDefaults fills the zero fields of o from DefaultWebhookEndpointOptions.
func (o WebhookEndpointOptions) withDefaults() WebhookEndpointOptions {
	def := DefaultWebhookEndpointOptions()
	if o.SecretNamespace == "" {
		o.SecretNamespace = def.SecretNamespace
	}
	if o.SecretName == "" {
		o.SecretName = def.SecretName
	}
	for _, d := range []struct{ v, def *time.Duration }{
		{&o.SecretOverlap, &def.SecretOverlap}, {&o.SecretPropagation, &def.SecretPropagation}, {&o.VerifyInterval, &def.VerifyInterval},
		{&o.TestRetryMin, &def.TestRetryMin}, {&o.TestRetryMax, &def.TestRetryMax},
	} {
		if *d.v <= 0 {
			*d.v = *d.def
		}
	}
	return o
}

// SetupWithManager registers the reconciler. Credentials Secrets are watched, metadata
// only: a change wakes the endpoints that use the Secret.
func (r *WebhookEndpointReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Webhooks = r.Webhooks.withDefaults()
	return setupController(
		mgr,
		&r.Deps,
		r,
		"openaiwebhookendpoint",
		&openaiv1alpha1.OpenAIWebhookEndpoint{},
		&openaiv1alpha1.OpenAIWebhookEndpointList{},
		func(o *openaiv1alpha1.OpenAIWebhookEndpoint) *openaiv1alpha1.CredentialsReference {
			return o.Spec.CredentialsRef
		},
		endpointTriggers(),
	)
}

// endpointTriggers lets through a new spec, a deletion and a new rotate-requested-at
// annotation; the controller's own status writes do not start another pass.
func endpointTriggers() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			e.ObjectOld.GetAnnotations()[openaiv1alpha1.RotateRequestAnnotation] != e.ObjectNew.GetAnnotations()[openaiv1alpha1.RotateRequestAnnotation]
	}}
}
