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
	"slices"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/batchinput"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// BatchReconciler runs OpenAIBatch resources on OpenAI.
//
// Spending is guarded by one invariant: once phase Submitting is recorded (with
// status.submittingSince), the only ways out are "found" (a batch an earlier attempt
// created is adopted), "created", or "OpenAI definitely refused the request" (a 400-class
// answer to the upload or the create call). Missing credentials, a missing or edited
// input, spec.cancel, rate limits and refused keys all wait in Submitting; the input is
// read only after the search on OpenAI has proven that no earlier attempt's batch
// exists (credentials, then search, then input), and an earlier attempt's upload found
// by its name is used as it is.
type BatchReconciler struct {
	Deps

	// submissions remembers, per resource UID, what this process knows about an
	// unfinished submission, so retries after a 429 neither re-upload the input nor
	// search OpenAI again. A restarted process knows nothing and searches once.
	submissions sync.Map // types.UID -> *batchSubmission
	// strays are uploads of the resource's input that no batch uses (an earlier
	// attempt's, found by name), to delete as soon as OpenAI lets us. They are recorded
	// in status.unusedUploads in the write of the pass that found them, so that a
	// restarted process deletes them too; the copy here outlives a lost status write.
	strays sync.Map // types.UID -> []string
}

type batchSubmission struct {
	inputFileID string
	searched    bool          // OpenAI was searched (or a create definitely failed): no earlier batch exists
	search      *batchSearch  // a search not finished yet
	created     *openai.Batch // created by this process; the status write may not have landed or be in the cache yet
	rejected    *rejection    // OpenAI refused the upload or the create
	// refusedInput is the upload of a refused create, and whether it was deleted, for the
	// pass that records the refusal again.
	refusedInput        string
	refusedInputDeleted bool
}

// batchSearch is the state of a search of OpenAI for what an earlier attempt created,
// resumed across passes.
type batchSearch struct {
	oldest                   int64 // unix seconds: nothing the attempt created is older
	batchesAfter, filesAfter string
	batchesDone, filesDone   bool
	batchesRead              int
	found                    *openai.Batch
	files                    []string // uploads named for this resource, newest first
}

// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaibatches,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaibatches/status,verbs=patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaibatches/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// batchScope is one reconcile of a batch.
type batchScope struct {
	pass[*openaiv1alpha1.OpenAIBatch]
}

// Reconcile moves one OpenAIBatch towards its end.
//
//nolint:dupl // each kind's Reconcile names its own status fields and steps; what they share lives in pass
func (r *BatchReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &openaiv1alpha1.OpenAIBatch{}
	found, ghost, err := r.fetch(ctx, req.NamespacedName, obj)
	if !found {
		return ctrl.Result{}, err
	}
	s := &batchScope{newPass(ctx, obj, obj.Spec.CredentialsRef, &obj.Status.Conditions)}
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
	result, retErr = runSteps(ctx, s, r.submit, r.deleteStrays, r.requestCancel, r.track, r.storeResults, r.deleteInput)
	if errors.Is(retErr, reconcile.TerminalError(nil)) && batchTerminal(obj.Status.Phase) && (r.ownsInput(obj) || len(r.pendingStrays(s)) > 0) {
		// It ended (OpenAI refused it, or its input is invalid) with an upload still to
		// delete, which the last steps do; a terminal error is never retried, so ask
		// for the pass that runs them (fault schedule seed 989781674565).
		return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
	}
	return result, retErr
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
func (r *BatchReconciler) apiError(s *batchScope, kind callKind, what string, err error) (ctrl.Result, error) {
	return s.apiError(&r.Deps, kind, what, err, func(reason, message string) { r.fail(s, reason, message) })
}

// submissionError is apiError for the upload and the create call; a refusal is
// remembered with the submission (see rejection).
func (r *BatchReconciler) submissionError(s *batchScope, memo *batchSubmission, what string, err error) (ctrl.Result, error) {
	return s.apiError(&r.Deps, submission, what, err, func(reason, message string) {
		memo.rejected = &rejection{reason: reason, message: message}
		r.fail(s, reason, message)
	})
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
	if memo.rejected != nil {
		// OpenAI refused this submission, but the write that recorded it lost a
		// conflict: record it again; the next steps delete the upload if it is left.
		if memo.refusedInput != "" {
			st.InputFileID = memo.refusedInput
			st.InputFileDeleted = st.InputFileDeleted || memo.refusedInputDeleted
		}
		r.fail(s, memo.rejected.reason, memo.rejected.message)
		return ctrl.Result{}, nil
	}
	if st.Phase == openaiv1alpha1.BatchPhaseSubmitting {
		return r.resumeSubmission(ctx, s, memo)
	}

	// Nothing was sent yet: the input is read and checked before anything is spent.
	if st.Phase == "" {
		st.Phase = openaiv1alpha1.BatchPhasePending
	}
	if obj.Spec.Cancel {
		r.cancelUnsubmitted(s)
		return ctrl.Result{}, nil
	}
	jsonl, res, err := r.readInput(ctx, s)
	if jsonl == nil && obj.Spec.Input.FileID == "" {
		return res, err
	}
	api, err := s.openAIToSubmit(ctx, &r.Deps, "Waiting for credentials")
	if err != nil {
		return r.apiError(s, submission, "loading credentials", err)
	}
	// Persist the intent before anything is created: after a crash, phase Submitting
	// without a batch id is what sends the next process looking for an earlier attempt,
	// back to submittingSince. The write carries the resource version read, so it lands
	// only if no earlier attempt recorded an intent.
	st.Phase = openaiv1alpha1.BatchPhaseSubmitting
	since := metav1.Now()
	st.SubmittingSince = &since
	setCondition(
		&st.Conditions,
		obj,
		openaiv1alpha1.ConditionSubmitted,
		metav1.ConditionFalse,
		openaiv1alpha1.ReasonPending,
		"Uploading the input and creating the batch",
	)
	// Deleted meanwhile (see ghostStore): create nothing.
	if err := r.patchStatus(ctx, s); err != nil || s.gone {
		return ctrl.Result{}, err
	}
	memo.searched = true // no attempt came before this one
	return r.create(ctx, s, memo, api, jsonl)
}

// readInput reads the input and checks it. jsonl is nil (for an input other than a file
// id) when the pass must stop: res and err say how, and the conditions why.
func (r *BatchReconciler) readInput(ctx context.Context, s *batchScope) (jsonl []byte, res ctrl.Result, err error) {
	obj, st := s.obj, &s.obj.Status
	jsonl, err = r.inputJSONL(ctx, s)
	var missing inputMissingError
	var invalid inputInvalidError
	switch {
	case errors.As(err, &missing):
		if st.Phase != openaiv1alpha1.BatchPhaseSubmitting {
			st.Phase = openaiv1alpha1.BatchPhasePending
		}
		setCondition(
			&st.Conditions,
			obj,
			openaiv1alpha1.ConditionSubmitted,
			metav1.ConditionFalse,
			openaiv1alpha1.ReasonInputNotFound,
			missing.Error(),
		)
		return nil, ctrl.Result{RequeueAfter: r.RetryInterval}, nil
	case errors.As(err, &invalid):
		r.fail(s, openaiv1alpha1.ReasonInvalidInput, invalid.Error())
		return nil, ctrl.Result{}, reconcile.TerminalError(err)
	case err != nil:
		return nil, ctrl.Result{}, err
	}
	return jsonl, ctrl.Result{}, nil
}

// cancelUnsubmitted ends a batch cancelled before OpenAI had it.
func (r *BatchReconciler) cancelUnsubmitted(s *batchScope) {
	st := &s.obj.Status
	st.Phase = openaiv1alpha1.BatchPhaseCancelled
	st.Message = msgCancelledUnsubmitted
	endUnsuccessfully(&st.Conditions, s.obj, openaiv1alpha1.ReasonCancelled, st.Message)
}

// resumeSubmission continues a submission whose intent is recorded (phase Submitting)
// but whose batch id is not: credentials, then the search for an earlier attempt's
// batch and upload, then the input; spec.cancel ends it only after the search.
func (r *BatchReconciler) resumeSubmission(ctx context.Context, s *batchScope, memo *batchSubmission) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	api, err := s.openAIToSubmit(ctx, &r.Deps,
		"Waiting for credentials to look for a batch an earlier attempt may have created")
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	if !memo.searched {
		done, err := r.search(ctx, s, api, memo)
		if err != nil || !done {
			msg := fmt.Sprintf(
				"Looking on OpenAI for a batch an earlier, interrupted attempt may have created (%d batches read so far, back to %s); nothing is created until the search has finished",
				memo.search.batchesRead,
				time.Unix(memo.search.oldest, 0).UTC().Format(time.RFC3339),
			)
			if err != nil {
				msg += ": " + openaiclient.Classify(err, s.apiKey).Message + "; retrying"
			}
			setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, openaiv1alpha1.ReasonSearchIncomplete, msg)
			if err != nil {
				return r.apiError(s, aboutSubmitted, "searching OpenAI for an earlier submission", err)
			}
			return ctrl.Result{RequeueAfter: time.Millisecond}, nil
		}
		if found := r.concludeSearch(s, memo); found != nil {
			// Remembered like a batch this process created: a rerun of this pass (its
			// status write lost to a write it had not seen) records it again rather
			// than create one.
			memo.created = found
			s.log.Info("Adopting the batch an earlier attempt created", "batchID", found.ID)
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Adopted", "Reconcile", "Adopted batch %s created by an earlier attempt", found.ID)
			r.mirror(s, found, time.Now())
			return ctrl.Result{}, nil
		}
	}
	// OpenAI has no batch of this resource.
	if obj.Spec.Cancel {
		if id := memo.inputFileID; id != "" && obj.Spec.Input.FileID == "" {
			if _, err := api.Files.Delete(ctx, id); err != nil && openaiclient.Classify(err).Class != openaiclient.NotFound {
				return r.apiError(s, aboutSubmitted, "deleting the uploaded input", err)
			}
			memo.inputFileID = ""
		}
		r.cancelUnsubmitted(s)
		return ctrl.Result{}, nil
	}
	var jsonl []byte
	if memo.inputFileID == "" && obj.Spec.Input.FileID == "" {
		// No upload to reuse: read the input now.
		var res ctrl.Result
		if jsonl, res, err = r.readInput(ctx, s); jsonl == nil {
			return res, err
		}
	}
	return r.create(ctx, s, memo, api, jsonl)
}

// create uploads the input (unless an upload is known) and creates the batch.
func (r *BatchReconciler) create(ctx context.Context, s *batchScope, memo *batchSubmission, api openai.Client, jsonl []byte) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	inputFileID := obj.Spec.Input.FileID
	if inputFileID == "" {
		if memo.inputFileID == "" {
			f, err := api.Files.New(ctx, openai.FileNewParams{
				File:    openai.File(bytes.NewReader(jsonl), inputFileName(obj), "application/jsonl"),
				Purpose: openai.FilePurposeBatch,
			})
			if err != nil {
				if openaiclient.Classify(err).Class == openaiclient.Transient {
					// The upload may have landed: look for it by name before uploading again.
					memo.searched = false
				}
				return r.submissionError(s, memo, "uploading the input file", err)
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
		switch c := openaiclient.Classify(err); {
		case c.Class == openaiclient.Transient:
			// No answer, or a 5xx: the batch may exist. Search before creating again.
			memo.searched = false
		case c.Class == openaiclient.NotFound && obj.Spec.Input.FileID == "":
			// The upload is gone (expired, deleted): upload again. The 404 may be about
			// something else, though, and then the upload is still there with nothing to
			// use it: delete it now, while its id is known (a restarted process would not
			// know it), or with the strays should OpenAI not let us.
			if _, derr := api.Files.Delete(ctx, inputFileID); derr != nil && openaiclient.Classify(derr).Class != openaiclient.NotFound {
				r.addStrays(s, []string{inputFileID})
			}
			memo.inputFileID = ""
		case c.Class == openaiclient.Terminal && obj.Spec.Input.FileID == "":
			// OpenAI refused the batch: no batch will use the upload.
			memo.refusedInput = inputFileID
			if _, derr := api.Files.Delete(ctx, inputFileID); derr == nil || openaiclient.Classify(derr).Class == openaiclient.NotFound {
				st.InputFileDeleted, memo.inputFileID, memo.refusedInputDeleted = true, "", true
			}
		}
		st.InputFileID = inputFileID
		return r.submissionError(s, memo, "creating the batch", err)
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

// clockSkew is how much earlier than status.submittingSince (by the controller's
// clock) OpenAI's clock may date a batch the submission created.
const clockSkew = 10 * time.Minute

// searchPagesPerPass bounds the list pages one pass reads; a longer search goes on in
// the next pass, where it stopped.
const searchPagesPerPass = 20

// searchSince is when the search for an earlier attempt starts: the recorded intent,
// or, for a resource whose intent was recorded without it, its creation.
func searchSince(obj *openaiv1alpha1.OpenAIBatch) time.Time {
	if obj.Status.SubmittingSince != nil {
		return obj.Status.SubmittingSince.Time
	}
	return obj.CreationTimestamp.Time
}

// search looks on OpenAI for a batch (by the metadata tag) and uploads (by name) that an
// earlier, interrupted attempt created: every batch and batch file created since the
// intent was recorded, however many. It reads at most searchPagesPerPass pages of each
// list per call and reports done once it has read them all; an error leaves it where it
// was, to go on in a later pass. It never stops early and calls that "not found".
func (r *BatchReconciler) search(ctx context.Context, s *batchScope, api openai.Client, memo *batchSubmission) (done bool, err error) {
	if memo.search == nil {
		memo.search = &batchSearch{oldest: searchSince(s.obj).Add(-clockSkew).Unix()}
	}
	sr := memo.search
	tag := resourceTag(s.obj)
	for pages := 0; !sr.batchesDone; pages++ {
		if pages == searchPagesPerPass {
			return false, nil
		}
		params := openai.BatchListParams{Limit: openai.Int(100)}
		if sr.batchesAfter != "" {
			params.After = openai.String(sr.batchesAfter)
		}
		page, err := api.Batches.List(ctx, params)
		if err != nil {
			return false, err
		}
		for _, b := range page.Data {
			sr.batchesRead++
			if b.CreatedAt < sr.oldest {
				sr.batchesDone = true
				break
			}
			if b.Metadata[openaiv1alpha1.ResourceMetadataKey] == tag {
				found := b
				sr.found, sr.batchesDone = &found, true
				break
			}
		}
		if !page.HasMore || len(page.Data) == 0 {
			sr.batchesDone = true
		} else {
			sr.batchesAfter = page.Data[len(page.Data)-1].ID
		}
	}
	if s.obj.Spec.Input.FileID != "" {
		return true, nil
	}
	name := inputFileName(s.obj)
	for pages := 0; !sr.filesDone; pages++ {
		if pages == searchPagesPerPass {
			return false, nil
		}
		params := openai.FileListParams{
			Purpose: openai.String(string(openai.FilePurposeBatch)),
			Limit:   openai.Int(10000),
			Order:   openai.FileListParamsOrderDesc,
		}
		if sr.filesAfter != "" {
			params.After = openai.String(sr.filesAfter)
		}
		page, err := api.Files.List(ctx, params)
		if err != nil {
			return false, err
		}
		for _, f := range page.Data {
			if f.CreatedAt < sr.oldest {
				sr.filesDone = true
				break
			}
			if f.Filename == name {
				sr.files = append(sr.files, f.ID)
			}
		}
		if !page.HasMore || len(page.Data) == 0 {
			sr.filesDone = true
		} else {
			sr.filesAfter = page.Data[len(page.Data)-1].ID
		}
	}
	return true, nil
}

// concludeSearch applies a finished search: the batch it found, else the newest upload
// to reuse; every other upload of the resource's input is a stray, to delete.
func (r *BatchReconciler) concludeSearch(s *batchScope, memo *batchSubmission) *openai.Batch {
	sr := memo.search
	memo.search, memo.searched = nil, true
	keep := ""
	switch {
	case sr.found != nil:
		keep = sr.found.InputFileID
	case memo.inputFileID != "":
		keep = memo.inputFileID
	case len(sr.files) > 0:
		keep = sr.files[0]
	}
	var strays []string
	for _, id := range append(sr.files, memo.inputFileID) {
		if id != "" && id != keep && !slices.Contains(strays, id) {
			strays = append(strays, id)
		}
	}
	if s.obj.Spec.Input.FileID == "" {
		memo.inputFileID = keep
	}
	if len(strays) > 0 {
		s.log.Info("Found uploads of the input that no batch uses; deleting them", "fileIDs", strays)
		r.addStrays(s, strays)
	}
	return sr.found
}

// addStrays records uploads to delete, in this process and in the status this pass
// writes.
func (r *BatchReconciler) addStrays(s *batchScope, ids []string) {
	v, _ := r.strays.LoadOrStore(s.obj.UID, []string{})
	r.strays.Store(s.obj.UID, union(v.([]string), ids, -1))
	s.obj.Status.UnusedUploads = union(s.obj.Status.UnusedUploads, ids, maxUnusedUploads)
}

// pendingStrays is every upload known to need deleting: the status's, and this
// process's, whose status write may have been lost (it is recorded again).
func (r *BatchReconciler) pendingStrays(s *batchScope) []string {
	if v, ok := r.strays.Load(s.obj.UID); ok {
		s.obj.Status.UnusedUploads = union(s.obj.Status.UnusedUploads, v.([]string), maxUnusedUploads)
		return union(s.obj.Status.UnusedUploads, v.([]string), -1)
	}
	return s.obj.Status.UnusedUploads
}

// maxUnusedUploads is status.unusedUploads' MaxItems. More strays than that would take
// more interrupted uploads of one resource than happen; the rest stay in memory only.
const maxUnusedUploads = 100

// union is a followed by the elements of b it lacks, at most limit of them (no limit
// when negative).
func union(a, b []string, limit int) []string {
	out := slices.Clone(a)
	for _, id := range b {
		if (limit < 0 || len(out) < limit) && id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// deleteStrays deletes uploads of the input that no batch uses. A failure does not hold
// up the other steps; the next pass tries again.
func (r *BatchReconciler) deleteStrays(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	ids := r.pendingStrays(s)
	if len(ids) == 0 {
		return ctrl.Result{}, nil
	}
	// An upload recorded as unused that a later search found and chose as the input
	// (a restarted process finds it by name) is no stray any more: the one place that
	// deletes strays is where it is left out.
	inUse := s.obj.Status.InputFileID
	if m, ok := r.submissions.Load(s.obj.UID); ok && m.(*batchSubmission).inputFileID != "" {
		inUse = m.(*batchSubmission).inputFileID
	}
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == inUse || id == s.obj.Spec.Input.FileID })
	if len(ids) == 0 {
		s.obj.Status.UnusedUploads = nil
		r.strays.Delete(s.obj.UID)
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return ctrl.Result{}, nil
	}
	var left []string
	for _, id := range ids {
		if _, err := api.Files.Delete(ctx, id); err != nil && openaiclient.Classify(err).Class != openaiclient.NotFound {
			s.log.Info("Deleting an unused upload failed; retrying later", "fileID", id, "error", openaiclient.Classify(err, s.apiKey).Message)
			left = append(left, id)
		}
	}
	s.obj.Status.UnusedUploads = union(nil, left, maxUnusedUploads)
	if len(left) == 0 {
		r.strays.Delete(s.obj.UID)
	} else {
		r.strays.Store(s.obj.UID, left)
	}
	return ctrl.Result{}, nil
}

// inlineRequests reads the batch's spec.input.requests through the API reader, for the
// generation the pass works on.
func (r *BatchReconciler) inlineRequests(ctx context.Context, obj *openaiv1alpha1.OpenAIBatch) ([]openaiv1alpha1.BatchRequest, error) {
	full := &openaiv1alpha1.OpenAIBatch{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), full); err != nil {
		return nil, fmt.Errorf("reading the inline requests: %w", err)
	}
	if full.Generation != obj.Generation || full.UID != obj.UID {
		return nil, fmt.Errorf(
			"reading the inline requests: the resource changed (generation %d, then %d); retrying",
			obj.Generation,
			full.Generation,
		)
	}
	return full.Spec.Input.Requests, nil
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
	if in.FileID == "" && in.ConfigMapKeyRef == nil && in.SecretKeyRef == nil {
		// Inline requests are read from the API server: the cache need not hold them
		// (CacheOptions drops them once a batch is submitted).
		requests, err := r.inlineRequests(ctx, s.obj)
		if err != nil {
			return nil, err
		}
		in.Requests = requests
	}
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
	effects := r.shared.effectsOf(s.obj.UID)
	if effects.cancelAsked(st.BatchID) {
		// Asked in a pass whose status write did not land: read the batch instead.
		st.LastSyncTime = nil
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	b, err := api.Batches.Cancel(ctx, st.BatchID)
	if err != nil {
		var held *openaiclient.HeldError
		if c := openaiclient.Classify(err); !errors.As(err, &held) &&
			(c.Class == openaiclient.Terminal || c.Class == openaiclient.NotFound || c.StatusCode == http.StatusConflict) {
			// Already ending (OpenAI answers 409/400 for a batch past cancelling): read it.
			st.LastSyncTime = nil
			return ctrl.Result{}, nil
		}
		return r.apiError(s, aboutSubmitted, "cancelling the batch", err)
	}
	effects.askedCancel(st.BatchID)
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
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	b, err := api.Batches.Get(ctx, st.BatchID)
	if err != nil {
		var held *openaiclient.HeldError
		if !errors.As(err, &held) && openaiclient.Classify(err).Class == openaiclient.NotFound {
			// Not an end: the key may belong to another project now. Keep reading.
			s.noteNotFound(&r.Deps, "Batch", st.BatchID)
			read := metav1.NewMicroTime(now)
			st.LastSyncTime = &read
			return plan.next(now), nil
		}
		return r.apiError(s, aboutSubmitted, "reading the batch", err)
	}
	s.noteFound("Batch", b.ID)
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
	setCondition(
		&st.Conditions,
		obj,
		openaiv1alpha1.ConditionSubmitted,
		metav1.ConditionTrue,
		openaiv1alpha1.ReasonAccepted,
		fmt.Sprintf("OpenAI accepted batch %s", b.ID),
	)
	switch st.Phase {
	case openaiv1alpha1.BatchPhaseCompleted:
		msg := fmt.Sprintf("Batch %s completed: %d of %d requests succeeded, %d failed", b.ID, rc.Completed, rc.Total, rc.Failed)
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionComplete, metav1.ConditionTrue, openaiv1alpha1.ReasonCompleted, msg)
		removeCondition(&st.Conditions, openaiv1alpha1.ConditionFailed)
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
		removeCondition(&st.Conditions, openaiv1alpha1.ConditionComplete)
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

// storeResults writes the output and error files to spec.results once the batch ended,
// once per finished batch and target. A file that is gone from OpenAI ends the attempt
// (ResultsStored=False, Expired); a refused key leaves the batch as it is and says why
// in ResultsStored while it waits.
func (r *BatchReconciler) storeResults(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	target := obj.Spec.Results
	if target == nil || !batchTerminal(st.Phase) || (st.OutputFileID == "" && st.ErrorFileID == "") {
		return ctrl.Result{}, nil
	}
	if resultsDone(st.Conditions, st.StoredResults, target, obj.Generation) {
		return ctrl.Result{}, nil
	}
	key := resultsKey(target, st.OutputFileID, st.ErrorFileID)
	effects := r.shared.effectsOf(obj.UID)
	if out, done := effects.resultsWritten(key); done {
		// Written in a pass whose status write did not land.
		recordResults(&st.Conditions, &st.StoredResults, obj, target, out)
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	data := map[string][]byte{}
	for _, f := range []struct{ key, id string }{{"output.jsonl", st.OutputFileID}, {"errors.jsonl", st.ErrorFileID}} {
		if f.id == "" {
			continue
		}
		content, err := download(ctx, api, f.id, maxResultsBytes)
		var tooLarge errTooLarge
		var held *openaiclient.HeldError
		switch {
		case errors.As(err, &tooLarge):
			noteResults(&r.Deps, &st.Conditions, &st.StoredResults, obj, target, resultsOutcome{metav1.ConditionFalse, openaiv1alpha1.ReasonTooLarge,
				fmt.Sprintf("File %s is larger than a %s can hold (about 1 MiB); the results stay on OpenAI", f.id, target.Kind)})
			return ctrl.Result{}, nil
		case err != nil && !errors.As(err, &held) && openaiclient.Classify(err).Class == openaiclient.NotFound:
			resultsExpired(&r.Deps, &st.Conditions, &st.StoredResults, obj, target, "File "+f.id)
			return ctrl.Result{}, nil
		case err != nil:
			resultsRefused(&st.Conditions, obj, err, s.apiKey)
			return r.apiError(s, aboutSubmitted, "downloading the results", err)
		}
		data[f.key] = content
	}
	out, err := writeResults(ctx, r.Client, r.Scheme, obj, target, data)
	if err != nil {
		return ctrl.Result{}, err
	}
	effects.wroteResults(key, out)
	noteResults(&r.Deps, &st.Conditions, &st.StoredResults, obj, target, out)
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
		return r.apiError(s, aboutSubmitted, "loading credentials", err)
	}
	if _, err := api.Files.Delete(ctx, st.InputFileID); err != nil {
		var held *openaiclient.HeldError
		if errors.As(err, &held) || openaiclient.Classify(err).Class != openaiclient.NotFound {
			return r.apiError(s, aboutSubmitted, "deleting the input file", err)
		}
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
// uploaded input once no batch needs it, then lets the resource go. It gives up after
// DeletionTimeout, or at once without credentials, and says so in a Warning event.
func (r *BatchReconciler) reconcileDelete(ctx context.Context, s *batchScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if m, ok := r.submissions.Load(obj.UID); ok && st.BatchID == "" && m.(*batchSubmission).created != nil {
		// Created by this process; the status does not show it yet.
		st.BatchID, st.InputFileID = m.(*batchSubmission).created.ID, m.(*batchSubmission).created.InputFileID
	}
	failure := r.cleanUp(ctx, s, obj.Spec.CancelOnDelete == nil || *obj.Spec.CancelOnDelete)
	res, err := s.finishDeletion(ctx, &r.Deps, failure, "the batch may still run and the input file may remain")
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		r.submissions.Delete(obj.UID)
		r.strays.Delete(obj.UID)
		r.shared.forgetEffects(obj.UID)
	}
	return res, err
}

// cleanUp does what deleting the resource asks of OpenAI: find what an interrupted
// submission created, cancel the batch (cancelOnDelete) unless OpenAI has ended it, and
// delete the uploads no running batch needs. A Failed resource whose batch OpenAI did
// not end (an older operator ended resources on refused keys) is cancelled too.
func (r *BatchReconciler) cleanUp(ctx context.Context, s *batchScope, cancelOnDelete bool) error {
	obj, st := s.obj, &s.obj.Status
	ended := batchTerminal(st.Phase) && endedOnOpenAI(st.Conditions)
	searching := st.BatchID == "" && st.Phase == openaiv1alpha1.BatchPhaseSubmitting
	haveStrays := len(r.pendingStrays(s)) > 0
	needCancel := cancelOnDelete && st.BatchID != "" && !ended && st.Phase != openaiv1alpha1.BatchPhaseCancelling
	if !searching && !needCancel && !r.ownsInput(obj) && !haveStrays {
		return nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return s.credentialsProblem(err)
	}
	if searching {
		memo := r.memo(obj.UID)
		for !memo.searched {
			done, err := r.search(ctx, s, api, memo)
			if err != nil {
				return cleanupError(err, s.apiKey)
			}
			if done {
				if found := r.concludeSearch(s, memo); found != nil {
					st.BatchID, st.InputFileID = found.ID, found.InputFileID
					ended = batchTerminal(batchPhase(found.Status))
					needCancel = cancelOnDelete && !ended && found.Status != openai.BatchStatusCancelling
				}
			}
		}
		if st.BatchID == "" && memo.inputFileID != "" && obj.Spec.Input.FileID == "" {
			st.InputFileID = memo.inputFileID
		}
		haveStrays = len(r.pendingStrays(s)) > 0
	}
	if needCancel {
		if err := r.cancelOnDelete(ctx, s, api); err != nil {
			return err
		}
	}
	if r.ownsInput(obj) {
		batchNeedsInput := st.BatchID != "" && !ended && !needCancel && st.Phase != openaiv1alpha1.BatchPhaseCancelling
		if err := r.deleteInputOnDelete(ctx, s, api, batchNeedsInput); err != nil {
			return err
		}
	}
	if haveStrays {
		return r.deleteStraysOnDelete(ctx, s)
	}
	return nil
}

// deleteStraysOnDelete deletes the unused uploads of the input that an interrupted
// submission left behind; an error while some remain.
func (r *BatchReconciler) deleteStraysOnDelete(ctx context.Context, s *batchScope) error {
	if _, err := r.deleteStrays(ctx, s); err != nil {
		return err
	}
	if v, ok := r.strays.Load(s.obj.UID); (ok && len(v.([]string)) > 0) || len(s.obj.Status.UnusedUploads) > 0 {
		return errors.New("unused uploads of the input could not be deleted yet")
	}
	return nil
}

// cancelOnDelete asks OpenAI to cancel the batch of a deleted resource. A batch that is
// gone, has ended or is already cancelling (409) needs nothing more.
func (r *BatchReconciler) cancelOnDelete(ctx context.Context, s *batchScope, api openai.Client) error {
	st := &s.obj.Status
	if _, err := api.Batches.Cancel(ctx, st.BatchID); err != nil {
		var held *openaiclient.HeldError
		if c := openaiclient.Classify(err, s.apiKey); errors.As(err, &held) ||
			(c.Class != openaiclient.NotFound && c.Class != openaiclient.Terminal && c.StatusCode != http.StatusConflict) {
			return cleanupError(err, s.apiKey)
		}
		return nil
	}
	r.Recorder.Eventf(
		s.obj,
		nil,
		corev1.EventTypeNormal,
		"CancelRequested",
		"Delete",
		"Cancelled batch %s because the resource was deleted",
		st.BatchID,
	)
	return nil
}

// deleteInputOnDelete deletes the input file the operator uploaded for a deleted
// resource, unless batchNeedsInput: cancelOnDelete is false and the batch runs on, so
// the file stays (an Event says so).
func (r *BatchReconciler) deleteInputOnDelete(ctx context.Context, s *batchScope, api openai.Client, batchNeedsInput bool) error {
	st := &s.obj.Status
	if batchNeedsInput {
		r.Recorder.Eventf(s.obj, nil, corev1.EventTypeNormal, "InputKept", "Delete",
			"Batch %s runs on (cancelOnDelete is false); its input file %s stays on OpenAI while the batch needs it", st.BatchID, st.InputFileID)
		return nil
	}
	if _, err := api.Files.Delete(ctx, st.InputFileID); err != nil {
		var held *openaiclient.HeldError
		if errors.As(err, &held) || openaiclient.Classify(err).Class != openaiclient.NotFound {
			return cleanupError(err, s.apiKey)
		}
	}
	st.InputFileDeleted = true
	return nil
}

// SetupWithManager registers the reconciler. Credentials Secrets are watched, metadata
// only (no Secret data is cached): a change wakes the batches that use the Secret.
func (r *BatchReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return setupController(mgr, &r.Deps, r, "openaibatch", &openaiv1alpha1.OpenAIBatch{}, &openaiv1alpha1.OpenAIBatchList{},
		func(o *openaiv1alpha1.OpenAIBatch) *openaiv1alpha1.CredentialsReference { return o.Spec.CredentialsRef },
		webhookTriggers(func(o *openaiv1alpha1.OpenAIBatch) *openaiv1alpha1.WebhookEvent { return o.Status.LastWebhookEvent }))
}
