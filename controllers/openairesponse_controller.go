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
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// ResponseReconciler runs OpenAIResponse resources on OpenAI in background mode.
//
// Responses cannot be listed, so, unlike a batch, a response created by a process that
// died before recording its id cannot be found again. The controller keeps that window
// as small as it can: it persists the intent (phase Submitting) first, sends the create
// call with nothing else in flight, and writes the returned id in the very next API
// server request. If the window is ever hit (a crash in those milliseconds, or a create
// call that got no answer), the next attempt creates the response again and says so in
// a Warning event (PossibleDuplicate), rather than leave the resource stuck.
type ResponseReconciler struct {
	Deps

	submissions sync.Map // types.UID -> *responseSubmission
}

type responseSubmission struct {
	clean    bool                // no create call of this process has an unknown outcome
	created  *responses.Response // created by this process; the status write may not have landed or be in the cache yet
	rejected *rejection          // OpenAI refused the create
}

// +kubebuilder:rbac:groups=openai.operator.dev,resources=openairesponses,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openairesponses/status,verbs=patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openairesponses/finalizers,verbs=update

// reservedParameters are set by the operator and refused in spec.parameters.
var reservedParameters = []string{"model", "input", "instructions", "metadata", "background", "stream", "store"}

type responseScope struct {
	pass[*openaiv1alpha1.OpenAIResponse]
	// fetched is the response as read in this pass, for storing results.
	fetched *responses.Response
}

// Reconcile moves one OpenAIResponse towards its end.
func (r *ResponseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &openaiv1alpha1.OpenAIResponse{}
	found, ghost, err := r.fetch(ctx, req.NamespacedName, obj)
	if !found {
		return ctrl.Result{}, err
	}
	s := &responseScope{pass: newPass(ctx, obj, obj.Spec.CredentialsRef, &obj.Status.Conditions)}
	s.ghost = ghost
	s.phase = func() string { return string(obj.Status.Phase) }
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if err := s.ensureFinalizer(ctx, &r.Deps); err != nil {
		return ctrl.Result{}, err
	}
	r.shared.sawWebhook(s.credentialsKey(&r.Deps), obj.Status.LastWebhookEvent)
	defer func() {
		s.concludeCredentials(&r.Deps)
		observeGeneration(retErr, &obj.Status.ObservedGeneration, obj.Generation)
		s.settle(r.patchStatus(ctx, s), &result, &retErr)
	}()
	return runSteps(ctx, s, r.submit, r.requestCancel, r.track, r.storeResults)
}

// patchStatus writes what this pass changed and emits an Event when the phase changed.
func (r *ResponseReconciler) patchStatus(ctx context.Context, s *responseScope) error {
	before := s.base.Status.Phase
	if err := s.patchStatus(ctx, &r.Deps); err != nil {
		return err
	}
	if before != s.obj.Status.Phase {
		r.phaseChanged(s)
	}
	return nil
}

func (r *ResponseReconciler) phaseChanged(s *responseScope) {
	st := &s.obj.Status
	unsuccessful := st.Phase == openaiv1alpha1.ResponsePhaseFailed || st.Phase == openaiv1alpha1.ResponsePhaseIncomplete
	s.announcePhase(&r.Deps, "Response", st.ResponseID, string(st.Phase), "", st.Message, unsuccessful)
}

func (r *ResponseReconciler) apiError(s *responseScope, kind callKind, what string, err error) (ctrl.Result, error) {
	return s.apiError(&r.Deps, kind, what, err, func(reason, message string) { r.fail(s, reason, message) })
}

func (r *ResponseReconciler) fail(s *responseScope, reason, message string) {
	s.obj.Status.Phase = openaiv1alpha1.ResponsePhaseFailed
	s.obj.Status.Message = message
	endUnsuccessfully(&s.obj.Status.Conditions, s.obj, reason, message)
}

func responseTerminal(p openaiv1alpha1.ResponsePhase) bool {
	switch p {
	case openaiv1alpha1.ResponsePhaseCompleted, openaiv1alpha1.ResponsePhaseFailed,
		openaiv1alpha1.ResponsePhaseCancelled, openaiv1alpha1.ResponsePhaseIncomplete:
		return true
	}
	return false
}

func (r *ResponseReconciler) memo(uid types.UID) *responseSubmission {
	m, _ := r.submissions.LoadOrStore(uid, &responseSubmission{})
	return m.(*responseSubmission)
}

// requestBody builds the create-response request: spec.parameters, then the fields the
// operator owns.
func requestBody(obj *openaiv1alpha1.OpenAIResponse) ([]byte, error) {
	body := map[string]json.RawMessage{}
	if p := obj.Spec.Parameters; p != nil && len(p.Raw) > 0 {
		if err := json.Unmarshal(p.Raw, &body); err != nil {
			return nil, fmt.Errorf("spec.parameters must be a JSON object: %w", err)
		}
		var reserved []string
		for _, k := range reservedParameters {
			if _, ok := body[k]; ok {
				reserved = append(reserved, k)
			}
		}
		if len(reserved) > 0 {
			return nil, fmt.Errorf(
				"spec.parameters must not set %s: use the spec fields model, input, instructions and metadata; the operator sets background, stream and store itself",
				strings.Join(reserved, ", "),
			)
		}
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		body[k] = b
	}
	set("model", obj.Spec.Model)
	set("background", true)
	set("store", true)
	set("metadata", withTag(obj.Spec.Metadata, obj))
	if obj.Spec.Instructions != "" {
		set("instructions", obj.Spec.Instructions)
	}
	if obj.Spec.Input.Text != "" {
		set("input", obj.Spec.Input.Text)
	} else {
		items := make([]json.RawMessage, 0, len(obj.Spec.Input.Items))
		for _, it := range obj.Spec.Input.Items {
			items = append(items, it.Raw)
		}
		set("input", items)
	}
	return json.Marshal(body)
}

// submit creates the response on OpenAI.
func (r *ResponseReconciler) submit(ctx context.Context, s *responseScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if st.ResponseID != "" || responseTerminal(st.Phase) {
		r.submissions.Delete(obj.UID)
		return ctrl.Result{}, nil
	}
	memo := r.memo(obj.UID)
	if memo.created != nil {
		// Created by this process, but the id is not in this status: record it (again).
		r.mirror(s, memo.created, time.Now())
		return ctrl.Result{RequeueAfter: r.PollIntervalMin}, nil
	}
	if memo.rejected != nil {
		// OpenAI refused this create, but the write that recorded it lost a conflict:
		// record it again rather than ask again.
		r.fail(s, memo.rejected.reason, memo.rejected.message)
		return ctrl.Result{}, nil
	}
	if st.Phase == "" {
		st.Phase = openaiv1alpha1.ResponsePhasePending
	}
	if obj.Spec.Cancel {
		st.Message = msgCancelledUnsubmitted
		if st.Phase == openaiv1alpha1.ResponsePhaseSubmitting && !memo.clean {
			// Responses cannot be listed: what an earlier attempt created cannot be found,
			// nor cancelled. Said in status too, as the Event may be lost with the process.
			st.Message = "Cancelled; an earlier attempt to create this response ended without an answer: if OpenAI created it, it runs on (responses cannot be listed, so it cannot be found and cancelled)"
			setCondition(
				&st.Conditions,
				obj,
				openaiv1alpha1.ConditionObjectFound,
				metav1.ConditionUnknown,
				openaiv1alpha1.ReasonOutcomeUnknown,
				st.Message,
			)
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, openaiv1alpha1.ReasonOutcomeUnknown, "Cancel", "%s", st.Message)
		}
		st.Phase = openaiv1alpha1.ResponsePhaseCancelled
		endUnsuccessfully(&st.Conditions, obj, openaiv1alpha1.ReasonCancelled, st.Message)
		return ctrl.Result{}, nil
	}
	body, err := requestBody(obj)
	if err != nil {
		r.fail(s, openaiv1alpha1.ReasonInvalidInput, err.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	api, err := s.openAIToSubmit(ctx, &r.Deps, "Waiting for credentials")
	if err != nil {
		return r.apiError(s, submission, "loading credentials", err)
	}

	// Every create call that may create the response is counted in status before it is
	// sent (the write carries the resource version read, so two processes cannot both
	// count the same call), so that the count survives a process that dies with its
	// Events unsent. A call retried after a refusal this process saw for sure
	// (memo.clean) created nothing and is not counted again.
	switch {
	case st.Phase == openaiv1alpha1.ResponsePhaseSubmitting && !memo.clean:
		st.CreateAttempts = max(st.CreateAttempts, 1) + 1
		// Deleted meanwhile (see ghostStore): create nothing.
		if err := r.patchStatus(ctx, s); err != nil || s.gone {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(
			obj,
			nil,
			corev1.EventTypeWarning,
			"PossibleDuplicate",
			"Submit",
			"Creating this response again: %d create calls sent, %d of them ended without an answer (status.createAttempts), so OpenAI may run it up to %d times; responses cannot be listed, so the earlier ones cannot be found or cancelled",
			st.CreateAttempts,
			st.CreateAttempts-1,
			st.CreateAttempts,
		)
	case st.Phase != openaiv1alpha1.ResponsePhaseSubmitting:
		st.Phase = openaiv1alpha1.ResponsePhaseSubmitting
		st.CreateAttempts = 1
		setCondition(
			&st.Conditions,
			obj,
			openaiv1alpha1.ConditionSubmitted,
			metav1.ConditionFalse,
			openaiv1alpha1.ReasonPending,
			"Creating the response",
		)
		// Deleted meanwhile (see ghostStore): create nothing.
		if err := r.patchStatus(ctx, s); err != nil || s.gone {
			return ctrl.Result{}, err
		}
	}
	memo.clean = true

	resp, err := api.Responses.New(ctx, responses.ResponseNewParams{}, option.WithRequestBody("application/json", body))
	if err != nil {
		if c := openaiclient.Classify(err); c.Class == openaiclient.Transient && c.StatusCode != http.StatusConflict {
			memo.clean = false // it may exist
		}
		return s.apiError(&r.Deps, submission, "creating the response", err, func(reason, message string) {
			memo.rejected = &rejection{reason: reason, message: message}
			r.fail(s, reason, message)
		})
	}
	memo.created = resp
	r.mirror(s, resp, time.Now())
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Submitted", "Reconcile", "Created response %s", resp.ID)
	// Return at once so that the deferred status patch records the id without delay.
	lo, _ := r.pollBounds(s.credentialsKey(&r.Deps), time.Now())
	return ctrl.Result{RequeueAfter: lo}, nil
}

func (r *ResponseReconciler) requestCancel(ctx context.Context, s *responseScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if !s.obj.Spec.Cancel || st.ResponseID == "" || responseTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	effects := r.shared.effectsOf(s.obj.UID)
	if effects.cancelAsked(st.ResponseID) {
		// Asked in a pass whose status write did not land: read the response instead.
		st.LastSyncTime = nil
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	resp, err := api.Responses.Cancel(ctx, st.ResponseID)
	if err != nil {
		var held *openaiclient.HeldError
		if c := openaiclient.Classify(err); !errors.As(err, &held) &&
			(c.Class == openaiclient.Terminal || c.Class == openaiclient.NotFound || c.StatusCode == http.StatusConflict) {
			st.LastSyncTime = nil
			return ctrl.Result{}, nil
		}
		return r.apiError(s, aboutSubmitted, "cancelling the response", err)
	}
	effects.askedCancel(st.ResponseID)
	r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "CancelRequested", "Cancel", "Asked OpenAI to cancel response %s", st.ResponseID)
	r.mirror(s, resp, time.Now())
	return ctrl.Result{}, nil
}

func (r *ResponseReconciler) track(ctx context.Context, s *responseScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if st.ResponseID == "" || responseTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	plan := r.planRead(s.credentialsKey(&r.Deps), responseSubmitted(s.obj), st.LastWebhookEvent, st.SyncStatus, now)
	if plan.wait > 0 {
		return ctrl.Result{RequeueAfter: plan.wait}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	resp, err := api.Responses.Get(ctx, st.ResponseID, responses.ResponseGetParams{})
	if err != nil {
		var held *openaiclient.HeldError
		if !errors.As(err, &held) && openaiclient.Classify(err).Class == openaiclient.NotFound {
			// Not an end: the key may belong to another project now. Keep reading.
			s.noteNotFound(&r.Deps, "Response", st.ResponseID)
			read := metav1.NewMicroTime(now)
			st.LastSyncTime = &read
			return plan.next(now), nil
		}
		return r.apiError(s, aboutSubmitted, "reading the response", err)
	}
	s.noteFound("Response", resp.ID)
	if plan.webhook {
		webhookToSync.WithLabelValues("OpenAIResponse").Observe(time.Since(st.LastWebhookEvent.ReceivedAt.Time).Seconds())
	}
	r.mirror(s, resp, now)
	if responseTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	return plan.next(now), nil
}

func responseSubmitted(obj *openaiv1alpha1.OpenAIResponse) time.Time {
	if obj.Status.CreatedAt != nil {
		return obj.Status.CreatedAt.Time
	}
	return obj.CreationTimestamp.Time
}

// truncateUTF8 cuts s to at most n bytes at a character boundary.
func truncateUTF8(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

func (r *ResponseReconciler) mirror(s *responseScope, resp *responses.Response, readAt time.Time) {
	obj, st := s.obj, &s.obj.Status
	s.fetched = resp
	st.ResponseID = resp.ID
	st.Phase = responsePhase(resp.Status)
	st.CreatedAt = floatTime(resp.CreatedAt)
	st.CompletedAt = floatTime(resp.CompletedAt)
	if u := resp.Usage; u.TotalTokens > 0 || u.InputTokens > 0 {
		st.Usage = &openaiv1alpha1.Usage{
			InputTokens: u.InputTokens, CachedInputTokens: u.InputTokensDetails.CachedTokens,
			OutputTokens: u.OutputTokens, ReasoningTokens: u.OutputTokensDetails.ReasoningTokens, TotalTokens: u.TotalTokens,
		}
	}
	st.Error = nil
	if resp.Error.Code != "" || resp.Error.Message != "" {
		st.Error = &openaiv1alpha1.ResponseError{Code: string(resp.Error.Code), Message: openaiclient.Scrub(resp.Error.Message, s.apiKey)}
	}
	st.IncompleteDetails = nil
	if resp.IncompleteDetails.Reason != "" {
		st.IncompleteDetails = &openaiv1alpha1.IncompleteDetails{Reason: resp.IncompleteDetails.Reason}
	}
	if responseTerminal(st.Phase) {
		st.OutputText, st.OutputTruncated = truncateUTF8(resp.OutputText(), openaiv1alpha1.MaxOutputTextLength)
	}
	read := metav1.NewMicroTime(readAt)
	st.LastSyncTime = &read
	if st.LastWebhookEvent != nil {
		st.HandledWebhookEventID = st.LastWebhookEvent.ID
	}

	st.Message = ""
	setCondition(
		&st.Conditions,
		obj,
		openaiv1alpha1.ConditionSubmitted,
		metav1.ConditionTrue,
		openaiv1alpha1.ReasonAccepted,
		fmt.Sprintf("OpenAI accepted response %s", resp.ID),
	)
	switch st.Phase {
	case openaiv1alpha1.ResponsePhaseCompleted:
		msg := fmt.Sprintf("Response %s completed", resp.ID)
		if st.Usage != nil {
			msg += fmt.Sprintf(" (%d tokens)", st.Usage.TotalTokens)
		}
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionComplete, metav1.ConditionTrue, openaiv1alpha1.ReasonCompleted, msg)
		removeCondition(&st.Conditions, openaiv1alpha1.ConditionFailed)
	case openaiv1alpha1.ResponsePhaseFailed, openaiv1alpha1.ResponsePhaseCancelled, openaiv1alpha1.ResponsePhaseIncomplete:
		reason := map[openaiv1alpha1.ResponsePhase]string{
			openaiv1alpha1.ResponsePhaseFailed:     openaiv1alpha1.ReasonFailed,
			openaiv1alpha1.ResponsePhaseCancelled:  openaiv1alpha1.ReasonCancelled,
			openaiv1alpha1.ResponsePhaseIncomplete: openaiv1alpha1.ReasonIncomplete,
		}[st.Phase]
		msg := fmt.Sprintf("Response %s is %s", resp.ID, resp.Status)
		switch {
		case st.Error != nil:
			msg += fmt.Sprintf(": %s (%s)", st.Error.Message, st.Error.Code)
		case st.IncompleteDetails != nil:
			msg += ": " + st.IncompleteDetails.Reason
		}
		st.Message = msg
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionFailed, metav1.ConditionTrue, reason, msg)
		removeCondition(&st.Conditions, openaiv1alpha1.ConditionComplete)
	}
}

func responsePhase(s responses.ResponseStatus) openaiv1alpha1.ResponsePhase {
	switch s {
	case responses.ResponseStatusQueued:
		return openaiv1alpha1.ResponsePhaseQueued
	case responses.ResponseStatusInProgress:
		return openaiv1alpha1.ResponsePhaseInProgress
	case responses.ResponseStatusCompleted:
		return openaiv1alpha1.ResponsePhaseCompleted
	case responses.ResponseStatusFailed:
		return openaiv1alpha1.ResponsePhaseFailed
	case responses.ResponseStatusCancelled:
		return openaiv1alpha1.ResponsePhaseCancelled
	case responses.ResponseStatusIncomplete:
		return openaiv1alpha1.ResponsePhaseIncomplete
	}
	return openaiv1alpha1.ResponsePhaseInProgress
}

// storeResults writes the full output text and the response object to spec.results.
func (r *ResponseReconciler) storeResults(ctx context.Context, s *responseScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	target := obj.Spec.Results
	if target == nil || !responseTerminal(st.Phase) || st.ResponseID == "" {
		return ctrl.Result{}, nil
	}
	if resultsDone(st.Conditions, st.StoredResults, target, obj.Generation) {
		return ctrl.Result{}, nil
	}
	key := resultsKey(target, st.ResponseID)
	effects := r.shared.effectsOf(obj.UID)
	if out, done := effects.resultsWritten(key); done {
		// Written in a pass whose status write did not land.
		recordResults(&st.Conditions, &st.StoredResults, obj, target, out)
		return ctrl.Result{}, nil
	}
	resp := s.fetched
	if resp == nil {
		api, err := s.openAI(ctx, &r.Deps)
		if err != nil {
			return r.apiError(s, aboutSubmitted, "loading credentials", err)
		}
		if resp, err = api.Responses.Get(ctx, st.ResponseID, responses.ResponseGetParams{}); err != nil {
			var held *openaiclient.HeldError
			if !errors.As(err, &held) && openaiclient.Classify(err).Class == openaiclient.NotFound {
				resultsExpired(&r.Deps, &st.Conditions, &st.StoredResults, obj, target, "Response "+st.ResponseID)
				return ctrl.Result{}, nil
			}
			resultsRefused(&st.Conditions, obj, err, s.apiKey)
			return r.apiError(s, aboutSubmitted, "reading the response", err)
		}
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(resp.RawJSON()), "", "  "); err != nil {
		pretty.Reset()
		pretty.WriteString(resp.RawJSON())
	}
	out, err := writeResults(ctx, r.Client, r.Scheme, obj, target, map[string][]byte{
		"output.txt":    []byte(resp.OutputText()),
		"response.json": pretty.Bytes(),
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	effects.wroteResults(key, out)
	noteResults(&r.Deps, &st.Conditions, &st.StoredResults, obj, target, out)
	return ctrl.Result{}, nil
}

// reconcileDelete cancels the response (when spec.cancelOnDelete) unless OpenAI has
// ended it, then lets the resource go. A Failed resource whose response OpenAI did not
// end is cancelled too.
func (r *ResponseReconciler) reconcileDelete(ctx context.Context, s *responseScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if m, ok := r.submissions.Load(obj.UID); ok && st.ResponseID == "" && m.(*responseSubmission).created != nil {
		st.ResponseID = m.(*responseSubmission).created.ID
	}
	defer func() {
		if !controllerutil.ContainsFinalizer(obj, Finalizer) {
			r.submissions.Delete(obj.UID)
			r.shared.forgetEffects(obj.UID)
		}
	}()
	var failure error
	ended := responseTerminal(st.Phase) && endedOnOpenAI(st.Conditions)
	cancelOnDelete := obj.Spec.CancelOnDelete == nil || *obj.Spec.CancelOnDelete
	switch {
	case cancelOnDelete && st.ResponseID != "" && !ended:
		failure = r.cancelForDelete(ctx, s)
	case cancelOnDelete && st.ResponseID == "" && st.Phase == openaiv1alpha1.ResponsePhaseSubmitting && !r.memo(obj.UID).clean:
		// A create call's answer was lost (or this process did not see it): responses
		// cannot be listed, so what it created cannot be found and cancelled.
		r.Recorder.Eventf(
			obj,
			nil,
			corev1.EventTypeWarning,
			openaiv1alpha1.ReasonOutcomeUnknown,
			"Delete",
			"%s",
			"Deleted while an earlier attempt to create this response had ended without an answer: if OpenAI created it, it runs on (responses cannot be listed, so it cannot be found and cancelled)",
		)
	}
	return s.finishDeletion(ctx, &r.Deps, failure, "response "+st.ResponseID+" may still run")
}

func (r *ResponseReconciler) cancelForDelete(ctx context.Context, s *responseScope) error {
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return s.credentialsProblem(err)
	}
	if _, err := api.Responses.Cancel(ctx, s.obj.Status.ResponseID); err != nil {
		var held *openaiclient.HeldError
		c := openaiclient.Classify(err, s.apiKey)
		if !errors.As(err, &held) && (c.Class == openaiclient.NotFound || c.Class == openaiclient.Terminal || c.StatusCode == http.StatusConflict) {
			return nil
		}
		return cleanupError(err, s.apiKey)
	}
	r.Recorder.Eventf(
		s.obj,
		nil,
		corev1.EventTypeNormal,
		"CancelRequested",
		"Delete",
		"Cancelled response %s because the resource was deleted",
		s.obj.Status.ResponseID,
	)
	return nil
}

// SetupWithManager registers the reconciler.
// Credentials Secrets are watched, metadata only: a change wakes the responses that use
// the Secret.
func (r *ResponseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return setupController(mgr, &r.Deps, r, "openairesponse", &openaiv1alpha1.OpenAIResponse{}, &openaiv1alpha1.OpenAIResponseList{},
		func(o *openaiv1alpha1.OpenAIResponse) *openaiv1alpha1.CredentialsReference {
			return o.Spec.CredentialsRef
		},
		webhookTriggers(func(o *openaiv1alpha1.OpenAIResponse) *openaiv1alpha1.WebhookEvent { return o.Status.LastWebhookEvent }))
}
