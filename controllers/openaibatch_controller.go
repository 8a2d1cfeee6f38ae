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
	"net/http"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/batchinput"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// BatchReconciler runs OpenAIBatch resources on OpenAI.
type BatchReconciler struct {
	Deps

	// submissions remembers, per resource UID, what this process knows about an
	// unfinished submission, so retries after a 429 neither re-upload the input nor
	// search OpenAI for an earlier attempt. A restarted process knows nothing and
	// searches once.
	submissions sync.Map // types.UID -> *batchSubmission
}

type batchSubmission struct {
	inputFileID string
	searched    bool          // OpenAI was searched (or a create definitely failed): no earlier batch exists
	created     *openai.Batch // created by this process; the status write may not have landed or be in the cache yet
}

// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaibatches,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaibatches/status,verbs=patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaibatches/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// batchScope is one reconcile of a batch.
type batchScope struct {
	pass[*openaiv1alpha1.OpenAIBatch]
}

// Reconcile moves one OpenAIBatch towards its end.
func (r *BatchReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &openaiv1alpha1.OpenAIBatch{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &batchScope{newPass(ctx, obj, obj.Spec.CredentialsRef, &obj.Status.Conditions)}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if err := s.ensureFinalizer(ctx, &r.Deps); err != nil {
		return ctrl.Result{}, err
	}
	r.shared.sawWebhook(s.credentialsKey(&r.Deps), obj.Status.LastWebhookEvent)
	defer func() {
		if retErr == nil {
			obj.Status.ObservedGeneration = obj.Generation
		}
		s.settle(r.patchStatus(ctx, s), &result, &retErr)
	}()
	return runSteps(ctx, s, r.submit, r.requestCancel, r.track, r.storeResults, r.deleteInput)
}

// patchStatus writes what this pass changed and emits an Event when the phase changed.
func (r *BatchReconciler) patchStatus(ctx context.Context, s *batchScope) error {
	before := s.base.Status.Phase
	if err := s.patchStatus(ctx, &r.Deps); err != nil {
		return err
	}
	if before != s.obj.Status.Phase {
		r.phaseChanged(s)
	}
	return nil
}

func (r *BatchReconciler) phaseChanged(s *batchScope) {
	st := &s.obj.Status
	unsuccessful := st.Phase == openaiv1alpha1.BatchPhaseFailed || st.Phase == openaiv1alpha1.BatchPhaseExpired
	s.announcePhase(&r.Deps, "Batch", st.BatchID, string(st.Phase), st.Progress, st.Message, unsuccessful)
}

// apiError turns an API error into the pass's outcome (see pass.apiError).
func (r *BatchReconciler) apiError(s *batchScope, what string, err error) (ctrl.Result, error) {
	return s.apiError(&r.Deps, what, err, func(reason, message string) { r.fail(s, reason, message) })
}

// fail ends the batch without submitting (or after OpenAI refused it).
func (r *BatchReconciler) fail(s *batchScope, reason, message string) {
	s.obj.Status.Phase = openaiv1alpha1.BatchPhaseFailed
	s.obj.Status.Message = message
	endUnsuccessfully(&s.obj.Status.Conditions, s.obj, reason, message)
}

func batchTerminal(p openaiv1alpha1.BatchPhase) bool {
	switch p {
	case openaiv1alpha1.BatchPhaseCompleted, openaiv1alpha1.BatchPhaseFailed,
		openaiv1alpha1.BatchPhaseExpired, openaiv1alpha1.BatchPhaseCancelled:
		return true
	}
	return false
}

func (r *BatchReconciler) memo(uid types.UID) *batchSubmission {
	m, _ := r.submissions.LoadOrStore(uid, &batchSubmission{})
	return m.(*batchSubmission)
}

// submit uploads the input and creates the batch, exactly once.
func (r *BatchReconciler) submit(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if st.BatchID != "" || batchTerminal(st.Phase) {
		r.submissions.Delete(obj.UID)
		return ctrl.Result{}, nil
	}
	memo := r.memo(obj.UID)
	if memo.created != nil {
		// This process created the batch, but the status here does not show its id: the
		// write that recorded it lost a conflict, or the cache is behind it. Record it
		// (again); a stale write loses its optimistic lock and is retried.
		r.mirror(s, memo.created, time.Now())
		return ctrl.Result{RequeueAfter: r.PollIntervalMin}, nil
	}
	if st.Phase == "" {
		st.Phase = openaiv1alpha1.BatchPhasePending
	}
	if obj.Spec.Cancel {
		st.Phase = openaiv1alpha1.BatchPhaseCancelled
		st.Message = "Cancelled before it was submitted"
		endUnsuccessfully(&st.Conditions, obj, openaiv1alpha1.ReasonCancelled, st.Message)
		return ctrl.Result{}, nil
	}

	// Read and check the input before anything is sent or spent.
	jsonl, err := r.inputJSONL(ctx, s)
	if err != nil {
		var missing inputMissingError
		if errors.As(err, &missing) {
			st.Phase = openaiv1alpha1.BatchPhasePending
			setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, openaiv1alpha1.ReasonInputNotFound, missing.Error())
			return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
		}
		var invalid inputInvalidError
		if errors.As(err, &invalid) {
			r.fail(s, openaiv1alpha1.ReasonInvalidInput, invalid.Error())
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		return ctrl.Result{}, err
	}

	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		if errors.Is(err, errCredentials) {
			st.Phase = openaiv1alpha1.BatchPhasePending
			setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, openaiv1alpha1.ReasonPending, "Waiting for credentials")
		}
		return r.apiError(s, "loading credentials", err)
	}

	if st.Phase != openaiv1alpha1.BatchPhaseSubmitting {
		// Persist the intent before anything is created: after a crash, phase Submitting
		// without a batch id is what sends the next process looking for an earlier attempt.
		st.Phase = openaiv1alpha1.BatchPhaseSubmitting
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, openaiv1alpha1.ReasonPending, "Uploading the input and creating the batch")
		if err := r.patchStatus(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
		memo.searched = true // this process created nothing yet
	}

	if !memo.searched {
		found, err := r.findEarlierSubmission(ctx, s, api, memo)
		if err != nil {
			return r.apiError(s, "searching OpenAI for an earlier submission", err)
		}
		memo.searched = true
		if found != nil {
			s.log.Info("Adopting the batch an earlier attempt created", "batchID", found.ID)
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Adopted", "Reconcile", "Adopted batch %s created by an earlier attempt", found.ID)
			r.mirror(s, found, time.Now())
			return ctrl.Result{}, nil
		}
	}

	inputFileID := obj.Spec.Input.FileID
	if inputFileID == "" {
		if memo.inputFileID == "" {
			f, err := api.Files.New(ctx, openai.FileNewParams{
				File:    openai.File(bytes.NewReader(jsonl), inputFileName(obj), "application/jsonl"),
				Purpose: openai.FilePurposeBatch,
			})
			if err != nil {
				return r.apiError(s, "uploading the input file", err)
			}
			memo.inputFileID = f.ID
		}
		inputFileID = memo.inputFileID
	}

	b, err := api.Batches.New(ctx, openai.BatchNewParams{
		InputFileID:      inputFileID,
		Endpoint:         openai.BatchNewParamsEndpoint(obj.Spec.Endpoint),
		CompletionWindow: openai.BatchNewParamsCompletionWindow(completionWindow(obj)),
		Metadata:         shared.Metadata(withTag(obj.Spec.Metadata, obj)),
	})
	if err != nil {
		if c := openaiclient.Classify(err); c.Class == openaiclient.Transient {
			// No answer, or a 5xx: the batch may exist. Search before creating again.
			memo.searched = false
		}
		st.InputFileID = inputFileID
		return r.apiError(s, "creating the batch", err)
	}
	memo.created = b
	r.mirror(s, b, time.Now())
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Submitted", "Reconcile", "Created batch %s with input file %s", b.ID, b.InputFileID)
	// Return at once so that the deferred status patch records the id without delay.
	lo, _ := r.pollBounds(s.credentialsKey(&r.Deps), time.Now())
	return ctrl.Result{RequeueAfter: lo}, nil
}

func completionWindow(obj *openaiv1alpha1.OpenAIBatch) string {
	if obj.Spec.CompletionWindow == "" {
		return "24h"
	}
	return obj.Spec.CompletionWindow
}

// inputFileName is the deterministic name of the uploaded input, by which a restarted
// controller finds an upload whose id it did not record.
func inputFileName(obj client.Object) string {
	return fmt.Sprintf("openai-operator_%s_%s_%s.jsonl", obj.GetNamespace(), obj.GetName(), obj.GetUID())
}

// searchWindow bounds how far back, before the resource was created, the adoption search
// reads OpenAI's lists: nothing the resource caused can be older (clock skew aside).
const searchWindow = 10 * time.Minute

// maxSearchPages bounds the adoption search.
const maxSearchPages = 50

// findEarlierSubmission looks for a batch (by the metadata tag) or an uploaded input
// file (by name) that an earlier, interrupted attempt created.
func (r *BatchReconciler) findEarlierSubmission(ctx context.Context, s *batchScope, api openai.Client, memo *batchSubmission) (*openai.Batch, error) {
	tag := resourceTag(s.obj)
	oldest := s.obj.CreationTimestamp.Add(-searchWindow).Unix()
	pager := api.Batches.ListAutoPaging(ctx, openai.BatchListParams{Limit: openai.Int(100)})
	for n := 0; pager.Next() && n < maxSearchPages*100; n++ {
		b := pager.Current()
		if b.CreatedAt < oldest {
			break
		}
		if b.Metadata[openaiv1alpha1.ResourceMetadataKey] == tag {
			found := b
			return &found, nil
		}
	}
	if err := pager.Err(); err != nil {
		return nil, err
	}
	if s.obj.Spec.Input.FileID != "" {
		return nil, nil
	}
	name := inputFileName(s.obj)
	files := api.Files.ListAutoPaging(ctx, openai.FileListParams{Purpose: openai.String(string(openai.FilePurposeBatch)), Limit: openai.Int(1000), Order: openai.FileListParamsOrderDesc})
	for n := 0; files.Next() && n < maxSearchPages*1000; n++ {
		f := files.Current()
		if f.CreatedAt < oldest {
			break
		}
		if f.Filename == name {
			memo.inputFileID = f.ID
			break
		}
	}
	return nil, files.Err()
}

// inputMissingError means a ConfigMap, Secret or key holding the input is missing: wait.
type inputMissingError struct{ msg string }

func (e inputMissingError) Error() string { return e.msg }

// inputInvalidError means the input can never make a valid batch: fail.
type inputInvalidError struct{ msg string }

func (e inputInvalidError) Error() string { return e.msg }

// inputJSONL returns the batch's input as checked JSONL (nil for an existing file id).
func (r *BatchReconciler) inputJSONL(ctx context.Context, s *batchScope) ([]byte, error) {
	in := s.obj.Spec.Input
	endpoint := string(s.obj.Spec.Endpoint)
	var data []byte
	switch {
	case in.FileID != "":
		return nil, nil
	case len(in.Requests) > 0:
		out, err := batchinput.FromRequests(endpoint, in.Requests)
		if err != nil {
			return nil, inputInvalidError{"spec.input.requests: " + err.Error()}
		}
		return out, nil
	case in.ConfigMapKeyRef != nil:
		cm := &corev1.ConfigMap{}
		ref := in.ConfigMapKeyRef
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: s.obj.Namespace, Name: ref.Name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, inputMissingError{fmt.Sprintf("ConfigMap %q not found", ref.Name)}
			}
			return nil, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			b, okb := cm.BinaryData[ref.Key]
			if !okb {
				return nil, inputMissingError{fmt.Sprintf("ConfigMap %q has no key %q", ref.Name, ref.Key)}
			}
			v = string(b)
		}
		data = []byte(v)
	case in.SecretKeyRef != nil:
		sec := &corev1.Secret{}
		ref := in.SecretKeyRef
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: s.obj.Namespace, Name: ref.Name}, sec); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, inputMissingError{fmt.Sprintf("Secret %q not found", ref.Name)}
			}
			return nil, err
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			return nil, inputMissingError{fmt.Sprintf("Secret %q has no key %q", ref.Name, ref.Key)}
		}
		data = v
	default:
		return nil, inputInvalidError{"spec.input has no source"}
	}
	if _, err := batchinput.Validate(data, endpoint); err != nil {
		return nil, inputInvalidError{"the input JSONL is not a valid batch for " + endpoint + ": " + err.Error()}
	}
	return data, nil
}

// requestCancel asks OpenAI to cancel when spec.cancel is set.
func (r *BatchReconciler) requestCancel(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if !s.obj.Spec.Cancel || st.BatchID == "" || batchTerminal(st.Phase) || st.Phase == openaiv1alpha1.BatchPhaseCancelling {
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	b, err := api.Batches.Cancel(ctx, st.BatchID)
	if err != nil {
		if c := openaiclient.Classify(err); c.Class == openaiclient.Terminal || c.Class == openaiclient.NotFound || c.StatusCode == http.StatusConflict {
			// Already ending (OpenAI answers 409/400 for a batch past cancelling): read it.
			st.LastSyncTime = nil
			return ctrl.Result{}, nil
		}
		return r.apiError(s, "cancelling the batch", err)
	}
	r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "CancelRequested", "Cancel", "Asked OpenAI to cancel batch %s", st.BatchID)
	r.mirror(s, b, time.Now())
	return ctrl.Result{}, nil
}

// track reads the batch from OpenAI when a webhook event says so or the poll is due.
func (r *BatchReconciler) track(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if st.BatchID == "" || batchTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	plan := r.planRead(s.credentialsKey(&r.Deps), batchSubmitted(s.obj), st.LastWebhookEvent, st.SyncStatus, now)
	if plan.wait > 0 {
		return ctrl.Result{RequeueAfter: plan.wait}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	b, err := api.Batches.Get(ctx, st.BatchID)
	if err != nil {
		if c := openaiclient.Classify(err); c.Class == openaiclient.NotFound {
			r.fail(s, openaiv1alpha1.ReasonFailed, fmt.Sprintf("Batch %s no longer exists on OpenAI", st.BatchID))
			return ctrl.Result{}, nil
		}
		return r.apiError(s, "reading the batch", err)
	}
	if plan.webhook {
		webhookToSync.WithLabelValues("OpenAIBatch").Observe(time.Since(st.LastWebhookEvent.ReceivedAt.Time).Seconds())
	}
	r.mirror(s, b, now)
	if batchTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	return plan.next(now), nil
}

// batchSubmitted is when the batch was created on OpenAI (or, before that is known, when
// the resource was created).
func batchSubmitted(obj *openaiv1alpha1.OpenAIBatch) time.Time {
	if obj.Status.CreatedAt != nil {
		return obj.Status.CreatedAt.Time
	}
	return obj.CreationTimestamp.Time
}

// mirror copies OpenAI's view of the batch into status and sets the conditions.
func (r *BatchReconciler) mirror(s *batchScope, b *openai.Batch, readAt time.Time) {
	obj, st := s.obj, &s.obj.Status
	st.BatchID = b.ID
	st.InputFileID = b.InputFileID
	st.OutputFileID = b.OutputFileID
	st.ErrorFileID = b.ErrorFileID
	st.Phase = batchPhase(b.Status)
	rc := b.RequestCounts
	st.RequestCounts = &openaiv1alpha1.RequestCounts{Total: rc.Total, Completed: rc.Completed, Failed: rc.Failed}
	st.Progress = fmt.Sprintf("%d/%d", rc.Completed, rc.Total)
	if u := b.Usage; u.TotalTokens > 0 || u.InputTokens > 0 {
		st.Usage = &openaiv1alpha1.Usage{
			InputTokens: u.InputTokens, CachedInputTokens: u.InputTokensDetails.CachedTokens,
			OutputTokens: u.OutputTokens, ReasoningTokens: u.OutputTokensDetails.ReasoningTokens, TotalTokens: u.TotalTokens,
		}
	}
	st.Errors, st.ErrorsOmitted = nil, 0
	for i, e := range b.Errors.Data {
		if i >= openaiv1alpha1.MaxBatchErrors {
			st.ErrorsOmitted = int64(len(b.Errors.Data) - openaiv1alpha1.MaxBatchErrors)
			break
		}
		be := openaiv1alpha1.BatchError{Code: e.Code, Message: openaiclient.Scrub(e.Message, s.apiKey), Param: e.Param}
		if e.JSON.Line.Valid() {
			line := e.Line
			be.Line = &line
		}
		st.Errors = append(st.Errors, be)
	}
	st.CreatedAt = unixTime(b.CreatedAt)
	st.InProgressAt = unixTime(b.InProgressAt)
	st.FinalizingAt = unixTime(b.FinalizingAt)
	st.CompletedAt = unixTime(b.CompletedAt)
	st.FailedAt = unixTime(b.FailedAt)
	st.ExpiresAt = unixTime(b.ExpiresAt)
	st.ExpiredAt = unixTime(b.ExpiredAt)
	st.CancellingAt = unixTime(b.CancellingAt)
	st.CancelledAt = unixTime(b.CancelledAt)
	read := metav1.NewMicroTime(readAt)
	st.LastSyncTime = &read
	if st.LastWebhookEvent != nil {
		st.HandledWebhookEventID = st.LastWebhookEvent.ID
	}

	st.Message = ""
	setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionTrue, openaiv1alpha1.ReasonAccepted, fmt.Sprintf("OpenAI accepted batch %s", b.ID))
	switch st.Phase {
	case openaiv1alpha1.BatchPhaseCompleted:
		msg := fmt.Sprintf("Batch %s completed: %d of %d requests succeeded, %d failed", b.ID, rc.Completed, rc.Total, rc.Failed)
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionComplete, metav1.ConditionTrue, openaiv1alpha1.ReasonCompleted, msg)
		meta.RemoveStatusCondition(&st.Conditions, openaiv1alpha1.ConditionFailed)
	case openaiv1alpha1.BatchPhaseFailed, openaiv1alpha1.BatchPhaseExpired, openaiv1alpha1.BatchPhaseCancelled:
		reason := map[openaiv1alpha1.BatchPhase]string{
			openaiv1alpha1.BatchPhaseFailed:    openaiv1alpha1.ReasonFailed,
			openaiv1alpha1.BatchPhaseExpired:   openaiv1alpha1.ReasonExpired,
			openaiv1alpha1.BatchPhaseCancelled: openaiv1alpha1.ReasonCancelled,
		}[st.Phase]
		msg := fmt.Sprintf("Batch %s is %s", b.ID, b.Status)
		if len(st.Errors) > 0 {
			msg += ": " + st.Errors[0].Message
			if st.Errors[0].Line != nil {
				msg += fmt.Sprintf(" (input line %d)", *st.Errors[0].Line)
			}
		}
		st.Message = msg
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionFailed, metav1.ConditionTrue, reason, msg)
		meta.RemoveStatusCondition(&st.Conditions, openaiv1alpha1.ConditionComplete)
	}
}

func batchPhase(s openai.BatchStatus) openaiv1alpha1.BatchPhase {
	switch s {
	case openai.BatchStatusValidating:
		return openaiv1alpha1.BatchPhaseValidating
	case openai.BatchStatusInProgress:
		return openaiv1alpha1.BatchPhaseInProgress
	case openai.BatchStatusFinalizing:
		return openaiv1alpha1.BatchPhaseFinalizing
	case openai.BatchStatusCompleted:
		return openaiv1alpha1.BatchPhaseCompleted
	case openai.BatchStatusFailed:
		return openaiv1alpha1.BatchPhaseFailed
	case openai.BatchStatusExpired:
		return openaiv1alpha1.BatchPhaseExpired
	case openai.BatchStatusCancelling:
		return openaiv1alpha1.BatchPhaseCancelling
	case openai.BatchStatusCancelled:
		return openaiv1alpha1.BatchPhaseCancelled
	}
	return openaiv1alpha1.BatchPhaseInProgress
}

// storeResults writes the output and error files to spec.results once the batch ended.
func (r *BatchReconciler) storeResults(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	target := obj.Spec.Results
	if target == nil || !batchTerminal(st.Phase) || (st.OutputFileID == "" && st.ErrorFileID == "") {
		return ctrl.Result{}, nil
	}
	if resultsDone(st.Conditions, obj.Generation) {
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	data := map[string][]byte{}
	for key, fileID := range map[string]string{"output.jsonl": st.OutputFileID, "errors.jsonl": st.ErrorFileID} {
		if fileID == "" {
			continue
		}
		content, err := download(ctx, api, fileID, maxResultsBytes)
		var tooLarge errTooLarge
		if errors.As(err, &tooLarge) {
			setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionResultsStored, metav1.ConditionFalse, openaiv1alpha1.ReasonTooLarge,
				fmt.Sprintf("File %s is larger than a %s can hold (about 1 MiB); the results stay on OpenAI", fileID, target.Kind))
			return ctrl.Result{}, nil
		}
		if err != nil {
			return r.apiError(s, "downloading the results", err)
		}
		data[key] = content
	}
	out, err := writeResults(ctx, r.Client, r.Scheme, obj, target, data)
	if err != nil {
		return ctrl.Result{}, err
	}
	noteResults(&r.Deps, &st.Conditions, obj, out)
	return ctrl.Result{}, nil
}

// deleteInput removes the input file the operator uploaded once the batch ended.
func (r *BatchReconciler) deleteInput(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if !batchTerminal(st.Phase) || !r.ownsInput(s.obj) {
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	if _, err := api.Files.Delete(ctx, st.InputFileID); err != nil && openaiclient.Classify(err).Class != openaiclient.NotFound {
		return r.apiError(s, "deleting the input file", err)
	}
	st.InputFileDeleted = true
	return ctrl.Result{}, nil
}

// ownsInput reports whether the batch's input file was uploaded by the operator and is
// still there.
func (r *BatchReconciler) ownsInput(obj *openaiv1alpha1.OpenAIBatch) bool {
	return obj.Spec.Input.FileID == "" && obj.Status.InputFileID != "" && !obj.Status.InputFileDeleted
}

// reconcileDelete cancels in-flight work (when spec.cancelOnDelete) and deletes the
// uploaded input, then lets the resource go. It gives up after DeletionTimeout, or at
// once without credentials, and says so in a Warning event.
func (r *BatchReconciler) reconcileDelete(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if m, ok := r.submissions.Load(obj.UID); ok && st.BatchID == "" && m.(*batchSubmission).created != nil {
		// Created by this process; the status does not show it yet.
		st.BatchID, st.InputFileID = m.(*batchSubmission).created.ID, m.(*batchSubmission).created.InputFileID
	}
	defer r.submissions.Delete(obj.UID)
	cancelOnDelete := obj.Spec.CancelOnDelete == nil || *obj.Spec.CancelOnDelete
	needCancel := cancelOnDelete && !batchTerminal(st.Phase) && st.Phase != openaiv1alpha1.BatchPhaseCancelling &&
		(st.BatchID != "" || st.Phase == openaiv1alpha1.BatchPhaseSubmitting)
	needDelete := r.ownsInput(obj) || (st.Phase == openaiv1alpha1.BatchPhaseSubmitting && obj.Spec.Input.FileID == "")

	var failure error
	if needCancel || needDelete {
		failure = r.cleanUp(ctx, s, needCancel)
	}
	return s.finishDeletion(ctx, &r.Deps, failure, "the batch may still run and the input file may remain")
}

func (r *BatchReconciler) cleanUp(ctx context.Context, s *batchScope, cancel bool) error {
	obj, st := s.obj, &s.obj.Status
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return s.credentialsProblem(err)
	}
	if st.BatchID == "" && st.Phase == openaiv1alpha1.BatchPhaseSubmitting {
		// An interrupted submission may have created a batch or uploaded the input.
		memo := &batchSubmission{}
		b, err := r.findEarlierSubmission(ctx, s, api, memo)
		if err != nil {
			return errors.New(openaiclient.Classify(err, s.apiKey).Message)
		}
		if b != nil {
			st.BatchID, st.InputFileID = b.ID, b.InputFileID
		} else if memo.inputFileID != "" {
			st.InputFileID = memo.inputFileID
		}
	}
	if cancel && st.BatchID != "" {
		if _, err := api.Batches.Cancel(ctx, st.BatchID); err != nil {
			if c := openaiclient.Classify(err, s.apiKey); c.Class != openaiclient.NotFound && c.Class != openaiclient.Terminal {
				return errors.New(c.Message)
			}
		} else {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "CancelRequested", "Delete", "Cancelled batch %s because the resource was deleted", st.BatchID)
		}
	}
	if obj.Spec.Input.FileID == "" && st.InputFileID != "" && !st.InputFileDeleted {
		if _, err := api.Files.Delete(ctx, st.InputFileID); err != nil {
			if c := openaiclient.Classify(err, s.apiKey); c.Class != openaiclient.NotFound {
				return errors.New(c.Message)
			}
		}
	}
	return nil
}

// SetupWithManager registers the reconciler.
func (r *BatchReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.shared == nil {
		r.shared = &sharedState{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&openaiv1alpha1.OpenAIBatch{}, builder.WithPredicates(reconcileTriggers(func(o client.Object) string {
			if ev := o.(*openaiv1alpha1.OpenAIBatch).Status.LastWebhookEvent; ev != nil {
				return ev.ID
			}
			return ""
		}))).
		Named("openaibatch").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}
