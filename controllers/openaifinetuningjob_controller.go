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
	"strconv"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/trainingdata"
)

// FineTuningJobReconciler runs OpenAIFineTuningJob resources on OpenAI.
//
// Spending is guarded as for batches, with the stricter rules fine-tuning's price calls
// for: the intent (phase Submitting and submittingSince) is recorded before anything is
// uploaded or created; once it is recorded the only ways out are adopting the job an
// earlier attempt created (found by the resource's UID in the job's metadata, through
// OpenAI's metadata filter), creating it, or OpenAI refusing the request itself. Missing
// credentials or an edited input never erase the intent, and a search that cannot
// finish creates nothing. After the job exists, no error ends the resource: a refused
// key or a lost permission say so in CredentialsReady, a 404 in ObjectFound, and both
// are retried with backoff, while OpenAI's job, the source of truth, runs on.
type FineTuningJobReconciler struct {
	Deps

	// submissions remembers, per resource UID, what this process knows about an
	// unfinished submission. A restarted process knows nothing and searches once.
	submissions sync.Map // types.UID -> *ftSubmission
}

type ftSubmission struct {
	trainingFileID   string // uploaded by this process, or found by name
	validationFileID string
	searched         bool                  // no earlier job exists: OpenAI was searched, or this process recorded the intent
	created          *openai.FineTuningJob // created or adopted by this process; the status write may not have landed yet
	rejected         *rejection            // OpenAI refused the submission
}

// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaifinetuningjobs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaifinetuningjobs/status,verbs=patch
// +kubebuilder:rbac:groups=openai.operator.dev,resources=openaifinetuningjobs/finalizers,verbs=update

// ftScope is one reconcile of a fine-tuning job.
type ftScope struct {
	pass[*openaiv1alpha1.OpenAIFineTuningJob]
}

// errSearchIncomplete means the search for an earlier attempt's job could not finish.
var errSearchIncomplete = errors.New("the search of OpenAI's fine-tuning jobs and files could not finish")

// ftSearchSkew is how far before submittingSince the adoption search reads: the clocks
// of OpenAI and of the manager need not agree.
const ftSearchSkew = 10 * time.Minute

// maxFTSearchItems bounds the adoption search; beyond it the search is incomplete.
const maxFTSearchItems = 5000

// maxCheckpointsStored bounds the checkpoints written to checkpoints.json.
const maxCheckpointsStored = 100

// Reconcile moves one OpenAIFineTuningJob towards its end.
//
//nolint:dupl // each kind's Reconcile names its own status fields and steps; what they share lives in pass
func (r *FineTuningJobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &openaiv1alpha1.OpenAIFineTuningJob{}
	found, ghost, err := r.fetch(ctx, req.NamespacedName, obj)
	if !found {
		return ctrl.Result{}, err
	}
	s := &ftScope{newPass(ctx, obj, obj.Spec.CredentialsRef, &obj.Status.Conditions)}
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
	return runSteps(ctx, s, r.submit, r.requestCancel, r.pauseOrResume, r.track, r.storeResults, r.deleteUploads)
}

// patchStatus writes what this pass changed and emits an Event when the phase changed.
func (r *FineTuningJobReconciler) patchStatus(ctx context.Context, s *ftScope) error {
	before := s.base.Status.Phase
	if err := s.patchStatus(ctx, &r.Deps); err != nil {
		return err
	}
	if st := &s.obj.Status; before != st.Phase {
		unsuccessful := st.Phase == openaiv1alpha1.FineTuningPhaseFailed
		s.announcePhase(&r.Deps, "FineTuningJob", st.JobID, string(st.Phase), "", st.Message, unsuccessful)
	}
	return nil
}

func ftTerminal(p openaiv1alpha1.FineTuningPhase) bool {
	switch p {
	case openaiv1alpha1.FineTuningPhaseSucceeded, openaiv1alpha1.FineTuningPhaseFailed, openaiv1alpha1.FineTuningPhaseCancelled:
		return true
	}
	return false
}

func (r *FineTuningJobReconciler) memo(uid types.UID) *ftSubmission {
	m, _ := r.submissions.LoadOrStore(uid, &ftSubmission{})
	return m.(*ftSubmission)
}

// event emits an Event whose note is msg as it is (never a format string).
func (r *FineTuningJobReconciler) event(obj client.Object, eventType, reason, action, msg string) {
	r.Recorder.Eventf(obj, nil, eventType, reason, action, "%s", msg)
}

// fail ends the job without success before OpenAI had it (or when OpenAI refused it).
func (r *FineTuningJobReconciler) fail(s *ftScope, reason, message string) {
	s.obj.Status.Phase = openaiv1alpha1.FineTuningPhaseFailed
	s.obj.Status.Message = message
	endUnsuccessfully(&s.obj.Status.Conditions, s.obj, reason, message)
}

// cancelUnsubmitted ends a job cancelled before OpenAI had it.
func (r *FineTuningJobReconciler) cancelUnsubmitted(s *ftScope) {
	st := &s.obj.Status
	st.Phase = openaiv1alpha1.FineTuningPhaseCancelled
	st.Message = msgCancelledUnsubmitted
	endUnsuccessfully(&st.Conditions, s.obj, openaiv1alpha1.ReasonCancelled, st.Message)
}

// apiError turns an error from calling OpenAI about a job that may exist into the pass's
// outcome, through the pass's shared rules: nothing here ends the resource (only
// createError may, for OpenAI's refusal of the create itself). A 404 for the job in
// status is its own condition, ObjectFound, and the job is read again on the schedule.
func (r *FineTuningJobReconciler) apiError(s *ftScope, what string, err error) (ctrl.Result, error) {
	var held *openaiclient.HeldError
	if id := s.obj.Status.JobID; id != "" && !errors.As(err, &held) && openaiclient.Classify(err, s.apiKey).Class == openaiclient.NotFound {
		s.noteNotFound(&r.Deps, "fine-tuning job", id)
		return ctrl.Result{RequeueAfter: r.BackoffMax}, nil
	}
	return s.apiError(&r.Deps, aboutSubmitted, what, err, func(reason, message string) { r.fail(s, reason, message) })
}

// submit uploads the training data and creates the job, exactly once.
func (r *FineTuningJobReconciler) submit(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if st.JobID != "" || ftTerminal(st.Phase) {
		r.submissions.Delete(obj.UID)
		return ctrl.Result{}, nil
	}
	memo := r.memo(obj.UID)
	if memo.created != nil {
		// Created or adopted by this process, but this status does not show its id: the
		// write that recorded it lost a conflict, or the cache is behind. Record it (again).
		r.mirror(s, memo.created, time.Now())
		return ctrl.Result{RequeueAfter: r.PollIntervalMin}, nil
	}
	if memo.rejected != nil {
		r.recordUploads(s, memo)
		r.fail(s, memo.rejected.reason, memo.rejected.message)
		return ctrl.Result{}, nil
	}
	if st.Phase == openaiv1alpha1.FineTuningPhaseSubmitting {
		return r.resumeSubmission(ctx, s, memo)
	}
	return r.startSubmission(ctx, s, memo)
}

// startSubmission submits a job of which nothing can exist on OpenAI yet: it checks the
// input, records the intent, then creates.
func (r *FineTuningJobReconciler) startSubmission(ctx context.Context, s *ftScope, memo *ftSubmission) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	st.Phase = openaiv1alpha1.FineTuningPhasePending
	if obj.Spec.Cancel {
		r.cancelUnsubmitted(s)
		return ctrl.Result{}, nil
	}
	in, err := r.readInput(ctx, s)
	if err != nil {
		var missing inputMissingError
		if errors.As(err, &missing) {
			setCondition(
				&st.Conditions,
				obj,
				openaiv1alpha1.ConditionSubmitted,
				metav1.ConditionFalse,
				openaiv1alpha1.ReasonInputNotFound,
				missing.Error(),
			)
			return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
		}
		var invalid inputInvalidError
		if errors.As(err, &invalid) {
			r.fail(s, openaiv1alpha1.ReasonInvalidInput, invalid.Error())
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		return ctrl.Result{}, err
	}
	api, err := s.openAIToSubmit(ctx, &r.Deps, "Waiting for credentials")
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	// Persist the intent before anything is uploaded or created: after a crash, phase
	// Submitting without a job id is what sends the next process looking for this one.
	st.Phase = openaiv1alpha1.FineTuningPhaseSubmitting
	now := metav1.Now()
	st.SubmittingSince = &now
	setCondition(
		&st.Conditions,
		obj,
		openaiv1alpha1.ConditionSubmitted,
		metav1.ConditionFalse,
		openaiv1alpha1.ReasonPending,
		"Uploading the training data and creating the job",
	)
	// Deleted meanwhile (see ghostStore): create nothing.
	if err := r.patchStatus(ctx, s); err != nil || s.gone {
		return ctrl.Result{}, err
	}
	memo.searched = true // this process has created nothing yet
	return r.create(ctx, s, api, memo, in)
}

// resumeSubmission continues a submission whose intent is recorded: an earlier attempt,
// of this process or one before it, may have created the job. It finds that job or
// proves there is none before it creates, and nothing but a definite answer moves the
// resource out of Submitting.
func (r *FineTuningJobReconciler) resumeSubmission(ctx context.Context, s *ftScope, memo *ftSubmission) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	api, err := s.openAIToSubmit(ctx, &r.Deps,
		"Waiting for credentials to finish an interrupted submission: OpenAI may have the job already")
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	if !memo.searched {
		found, err := r.findEarlierSubmission(ctx, s, api, memo)
		if errors.Is(err, errSearchIncomplete) {
			msg := fmt.Sprintf(
				"Searching OpenAI for a job an interrupted submission may have created: %s (more than %d items since %s); creating nothing until it can",
				err,
				maxFTSearchItems,
				ftSearchSince(obj).UTC().Format(time.RFC3339),
			)
			setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionSubmitted, metav1.ConditionFalse, openaiv1alpha1.ReasonSearchIncomplete, msg)
			// Each try reads thousands of items: try again at the slow end of polling.
			return ctrl.Result{RequeueAfter: max(r.RetryInterval, r.PollIntervalMax)}, nil
		}
		if err != nil {
			return r.apiError(s, "searching OpenAI for an earlier submission", err)
		}
		memo.searched = true
		if found != nil {
			// Remembered as this process's own: should the status write below be lost, or
			// the next pass read a cache that does not show it yet, that pass records this
			// job again instead of creating one (searched is true from now on).
			memo.created = found
			s.log.Info("Adopting the fine-tuning job an earlier attempt created", "jobID", found.ID)
			r.event(obj, corev1.EventTypeNormal, "Adopted", "Reconcile", "Adopted fine-tuning job "+found.ID+" created by an earlier attempt")
			r.mirror(s, found, time.Now())
			return ctrl.Result{}, nil
		}
	}
	// OpenAI has no job of this resource: the search proved it, or this process
	// recorded the intent and has created nothing since.
	if obj.Spec.Cancel {
		r.recordUploads(s, memo)
		r.cancelUnsubmitted(s)
		return ctrl.Result{}, nil
	}
	in, err := r.readInput(ctx, s)
	if err != nil {
		var missing inputMissingError
		if errors.As(err, &missing) {
			setCondition(
				&st.Conditions,
				obj,
				openaiv1alpha1.ConditionSubmitted,
				metav1.ConditionFalse,
				openaiv1alpha1.ReasonInputNotFound,
				missing.Error(),
			)
			return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
		}
		var invalid inputInvalidError
		if errors.As(err, &invalid) {
			r.recordUploads(s, memo) // deleteUploads removes what an earlier attempt uploaded
			r.fail(s, openaiv1alpha1.ReasonInvalidInput, invalid.Error())
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	return r.create(ctx, s, api, memo, in)
}

// recordUploads puts the files this submission uploaded into status, so that
// deleteUploads removes them once the resource ends without a job.
func (r *FineTuningJobReconciler) recordUploads(s *ftScope, memo *ftSubmission) {
	st := &s.obj.Status
	if memo.trainingFileID != "" && s.obj.Spec.TrainingData.FileID == "" {
		st.TrainingFileID = memo.trainingFileID
	}
	if v := s.obj.Spec.ValidationData; memo.validationFileID != "" && v != nil && v.FileID == "" {
		st.ValidationFileID = memo.validationFileID
	}
}

// ftInput is a job's checked input.
type ftInput struct {
	training, validation []byte // nil for a file given by id (or no validation data)
	method               map[string]any
}

// create uploads what is not uploaded yet and creates the job.
func (r *FineTuningJobReconciler) create(ctx context.Context, s *ftScope, api openai.Client, memo *ftSubmission, in ftInput) (ctrl.Result, error) {
	obj := s.obj
	upload := func(data []byte, role string, id *string) error {
		if *id != "" {
			return nil
		}
		f, err := api.Files.New(ctx, openai.FileNewParams{
			File:    openai.File(bytes.NewReader(data), uploadName(obj, role), "application/jsonl"),
			Purpose: openai.FilePurposeFineTune,
		})
		if err != nil {
			return err
		}
		*id = f.ID
		return nil
	}
	trainingID := obj.Spec.TrainingData.FileID
	if trainingID == "" {
		if err := upload(in.training, "training", &memo.trainingFileID); err != nil {
			return r.createError(ctx, s, api, "uploading the training data", err, memo, false)
		}
		trainingID = memo.trainingFileID
	}
	params := openai.FineTuningJobNewParams{
		Model:        openai.FineTuningJobNewParamsModel(obj.Spec.Model),
		TrainingFile: trainingID,
		Metadata:     shared.Metadata(withTag(obj.Spec.Metadata, obj)),
	}
	if v := obj.Spec.ValidationData; v != nil {
		validationID := v.FileID
		if validationID == "" {
			if err := upload(in.validation, "validation", &memo.validationFileID); err != nil {
				return r.createError(ctx, s, api, "uploading the validation data", err, memo, false)
			}
			validationID = memo.validationFileID
		}
		params.ValidationFile = openai.String(validationID)
	}
	if obj.Spec.Suffix != "" {
		params.Suffix = openai.String(obj.Spec.Suffix)
	}
	if obj.Spec.Seed != nil {
		params.Seed = openai.Int(*obj.Spec.Seed)
	}
	job, err := api.FineTuning.Jobs.New(ctx, params, option.WithJSONSet("method", in.method))
	if err != nil {
		return r.createError(ctx, s, api, "creating the fine-tuning job", err, memo, true)
	}
	memo.created = job
	r.mirror(s, job, time.Now())
	r.event(obj, corev1.EventTypeNormal, "Submitted", "Reconcile", "Created fine-tuning job "+job.ID+" of "+job.Model)
	// Return at once so that the deferred status patch records the id without delay.
	lo, _ := r.pollBounds(s.credentialsKey(&r.Deps), time.Now())
	return ctrl.Result{RequeueAfter: lo}, nil
}

// createError handles an error of an upload or of the create call (jobCreate). Only
// OpenAI's refusal of the request itself (a 4xx other than 401, 403, 404 and 429) ends
// the resource, as Rejected; a call that may have landed sends the next pass searching
// first. A 404 refuses nothing: an upload names no object, and the create names only
// the files this submission uploaded, so it means those are gone (expired, deleted):
// they are deleted, should they still be there, and uploaded again. Either call is
// retried with backoff.
func (r *FineTuningJobReconciler) createError(
	ctx context.Context,
	s *ftScope,
	api openai.Client,
	what string,
	err error,
	memo *ftSubmission,
	jobCreate bool,
) (ctrl.Result, error) {
	c := openaiclient.Classify(err, s.apiKey)
	switch {
	case c.Class == openaiclient.Transient:
		memo.searched = false // no answer, a 5xx or a 409: it may exist
	case c.Class == openaiclient.NotFound && jobCreate:
		for _, id := range []*string{&memo.trainingFileID, &memo.validationFileID} {
			if *id == "" {
				continue
			}
			// A file that cannot be deleted now is kept, and used, rather than lost.
			if _, derr := api.Files.Delete(ctx, *id); derr == nil || openaiclient.Classify(derr).Class == openaiclient.NotFound {
				*id = ""
			}
		}
	case c.Class == openaiclient.NotFound:
		// An upload: retried as it is.
	case c.Class == openaiclient.Terminal && c.StatusCode != http.StatusUnauthorized && c.StatusCode != http.StatusForbidden:
		memo.rejected = &rejection{reason: openaiv1alpha1.ReasonRejected, message: what + ": " + c.Message}
		r.recordUploads(s, memo)
		r.fail(s, memo.rejected.reason, memo.rejected.message)
		return ctrl.Result{}, nil // the next steps delete what was uploaded
	}
	return r.apiError(s, what, err)
}

// uploadName is the deterministic name of an uploaded file (role "training" or
// "validation"), by which a restarted controller finds an upload it did not record.
func uploadName(obj client.Object, role string) string {
	return fmt.Sprintf("openai-operator_%s_%s_%s_%s.jsonl", obj.GetNamespace(), obj.GetName(), obj.GetUID(), role)
}

// ftSearchSince is when the adoption search starts: submittingSince (or, before that
// was recorded, the resource's creation) minus the clock skew allowance.
func ftSearchSince(obj *openaiv1alpha1.OpenAIFineTuningJob) time.Time {
	since := obj.CreationTimestamp.Time
	if s := obj.Status.SubmittingSince; s != nil {
		since = s.Time
	}
	return since.Add(-ftSearchSkew)
}

// findEarlierSubmission looks for the job (by the metadata tag, with OpenAI's metadata
// filter) and the uploads (by name) an interrupted attempt created. It reads back to
// ftSearchSince; if it cannot get that far it returns errSearchIncomplete, never "not
// found".
func (r *FineTuningJobReconciler) findEarlierSubmission(
	ctx context.Context,
	s *ftScope,
	api openai.Client,
	memo *ftSubmission,
) (*openai.FineTuningJob, error) {
	obj := s.obj
	tag := resourceTag(obj)
	oldest := ftSearchSince(obj).Unix()
	jobs := api.FineTuning.Jobs.ListAutoPaging(ctx, openai.FineTuningJobListParams{
		Limit: openai.Int(100), Metadata: map[string]string{openaiv1alpha1.ResourceMetadataKey: tag},
	})
	complete := false
	for n := 0; n < maxFTSearchItems && !complete; n++ {
		if !jobs.Next() {
			complete = jobs.Err() == nil
			break
		}
		j := jobs.Current()
		if j.Metadata[openaiv1alpha1.ResourceMetadataKey] == tag {
			return &j, nil
		}
		complete = j.CreatedAt < oldest
	}
	if err := jobs.Err(); err != nil {
		return nil, err
	}
	if !complete {
		return nil, errSearchIncomplete
	}

	names := map[string]*string{}
	if obj.Spec.TrainingData.FileID == "" {
		names[uploadName(obj, "training")] = &memo.trainingFileID
	}
	if v := obj.Spec.ValidationData; v != nil && v.FileID == "" {
		names[uploadName(obj, "validation")] = &memo.validationFileID
	}
	if len(names) == 0 {
		return nil, nil
	}
	files := api.Files.ListAutoPaging(ctx, openai.FileListParams{
		Purpose: openai.String(string(openai.FilePurposeFineTune)), Limit: openai.Int(1000), Order: openai.FileListParamsOrderDesc,
	})
	complete = false
	for n := 0; n < maxFTSearchItems && !complete; n++ {
		if !files.Next() {
			complete = files.Err() == nil
			break
		}
		f := files.Current()
		if id, ok := names[f.Filename]; ok && *id == "" {
			*id = f.ID
		}
		complete = f.CreatedAt < oldest
	}
	if err := files.Err(); err != nil {
		return nil, err
	}
	if !complete {
		return nil, errSearchIncomplete
	}
	return nil, nil
}

// readInput reads and checks the training and validation data and builds the method.
// It returns inputMissingError (wait) or inputInvalidError (no job can be made of it).
func (r *FineTuningJobReconciler) readInput(ctx context.Context, s *ftScope) (ftInput, error) {
	spec := &s.obj.Spec
	method, err := methodBody(spec.Method)
	if err != nil {
		return ftInput{}, inputInvalidError{"spec.method: " + err.Error()}
	}
	kind := trainingdata.Method(method["type"].(string))
	var in ftInput
	in.method = method
	if in.training, err = r.readData(ctx, s, &spec.TrainingData, "spec.trainingData", kind, trainingdata.MinTrainingExamples); err != nil {
		return ftInput{}, err
	}
	if spec.ValidationData != nil {
		if in.validation, err = r.readData(ctx, s, spec.ValidationData, "spec.validationData", kind, 1); err != nil {
			return ftInput{}, err
		}
	}
	return in, nil
}

// readData returns one data set as checked JSONL (nil for a file given by id).
func (r *FineTuningJobReconciler) readData(
	ctx context.Context,
	s *ftScope,
	td *openaiv1alpha1.TrainingData,
	field string,
	method trainingdata.Method,
	minExamples int,
) ([]byte, error) {
	var data []byte
	var err error
	switch {
	case td.FileID != "":
		return nil, nil
	case len(td.Examples) > 0:
		if data, err = trainingdata.FromExamples(td.Examples); err != nil {
			return nil, inputInvalidError{field + ".examples: " + err.Error()}
		}
	case td.ConfigMapKeyRef != nil:
		if data, err = r.readKey(ctx, s.obj.Namespace, &corev1.ConfigMap{}, td.ConfigMapKeyRef); err != nil {
			return nil, err
		}
	case td.SecretKeyRef != nil:
		if data, err = r.readKey(ctx, s.obj.Namespace, &corev1.Secret{}, td.SecretKeyRef); err != nil {
			return nil, err
		}
	default:
		return nil, inputInvalidError{field + " has no source"}
	}
	if _, err := trainingdata.Validate(data, method, minExamples); err != nil {
		return nil, inputInvalidError{fmt.Sprintf("%s is not valid %s data: %s", field, method, err)}
	}
	return data, nil
}

// readKey reads a key of a ConfigMap or Secret (obj says which) from the API server.
func (r *FineTuningJobReconciler) readKey(ctx context.Context, ns string, obj client.Object, ref *openaiv1alpha1.KeyReference) ([]byte, error) {
	kind := "ConfigMap"
	if _, ok := obj.(*corev1.Secret); ok {
		kind = "Secret"
	}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, inputMissingError{fmt.Sprintf("%s %q not found", kind, ref.Name)}
		}
		return nil, err
	}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		if v, ok := o.Data[ref.Key]; ok {
			return []byte(v), nil
		}
		if v, ok := o.BinaryData[ref.Key]; ok {
			return v, nil
		}
	case *corev1.Secret:
		if v, ok := o.Data[ref.Key]; ok {
			return v, nil
		}
	}
	return nil, inputMissingError{fmt.Sprintf("%s %q has no key %q", kind, ref.Name, ref.Key)}
}

// methodBody builds the request's method object: {"type": t, t: {parameters...,
// "hyperparameters": {...}}}, the typed hyperparameters merged into the free-form ones.
func methodBody(m *openaiv1alpha1.FineTuningMethod) (map[string]any, error) {
	typ := openaiv1alpha1.FineTuningSupervised
	var inner map[string]any
	var hp *openaiv1alpha1.Hyperparameters
	if m != nil {
		if m.Type != "" {
			typ = m.Type
		}
		hp = m.Hyperparameters
		if p := m.Parameters; p != nil && len(p.Raw) > 0 {
			if err := json.Unmarshal(p.Raw, &inner); err != nil {
				return nil, fmt.Errorf("parameters must be a JSON object: %w", err)
			}
		}
	}
	if inner == nil {
		inner = map[string]any{}
	}
	hyper := map[string]any{}
	if raw, ok := inner["hyperparameters"]; ok {
		if hyper, ok = raw.(map[string]any); !ok {
			return nil, errors.New("parameters.hyperparameters must be an object")
		}
	}
	if hp != nil {
		for key, v := range map[string]*intstr.IntOrString{
			"n_epochs": hp.NEpochs, "batch_size": hp.BatchSize, "learning_rate_multiplier": hp.LearningRateMultiplier, "beta": hp.Beta,
		} {
			if v == nil {
				continue
			}
			if _, dup := hyper[key]; dup {
				return nil, fmt.Errorf(
					"parameters.hyperparameters.%s repeats a hyperparameter typed in method.hyperparameters: set it there only",
					key,
				)
			}
			value, err := autoOrNumber(v)
			if err != nil {
				return nil, fmt.Errorf("hyperparameters: %s %w", key, err)
			}
			hyper[key] = value
		}
	}
	if len(hyper) > 0 {
		inner["hyperparameters"] = hyper
	}
	if _, ok := inner["grader"]; typ == openaiv1alpha1.FineTuningReinforcement && !ok {
		return nil, errors.New("type reinforcement needs parameters.grader (OpenAI's grader object)")
	}
	return map[string]any{"type": string(typ), string(typ): inner}, nil
}

// autoOrNumber turns a hyperparameter into its JSON value: "auto", an integer or a number.
func autoOrNumber(v *intstr.IntOrString) (any, error) {
	if v.Type == intstr.Int {
		return v.IntVal, nil
	}
	if v.StrVal == "auto" {
		return "auto", nil
	}
	f, err := strconv.ParseFloat(v.StrVal, 64)
	if err != nil || f <= 0 {
		return nil, fmt.Errorf("must be \"auto\" or a positive number, not %q", v.StrVal)
	}
	return f, nil
}

// requestCancel asks OpenAI to cancel when spec.cancel is set.
func (r *FineTuningJobReconciler) requestCancel(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if !s.obj.Spec.Cancel || st.JobID == "" || ftTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	job, err := api.FineTuning.Jobs.Cancel(ctx, st.JobID)
	if err != nil {
		if stateConflict(err) {
			// It ended meanwhile (OpenAI refuses to cancel an ended job): read it.
			st.LastSyncTime = nil
			return ctrl.Result{}, nil
		}
		return r.apiError(s, "cancelling the fine-tuning job", err)
	}
	r.event(s.obj, corev1.EventTypeNormal, "CancelRequested", "Cancel", "Asked OpenAI to cancel fine-tuning job "+st.JobID)
	r.mirror(s, job, time.Now())
	return ctrl.Result{}, nil
}

// stateConflict reports whether OpenAI refused a cancel, pause or resume because of the
// job's state (400 or 409), rather than because of the caller's access.
func stateConflict(err error) bool {
	c := openaiclient.Classify(err)
	return c.StatusCode == http.StatusBadRequest || c.StatusCode == http.StatusConflict
}

// pauseOrResume makes the job's state follow spec.paused.
func (r *FineTuningJobReconciler) pauseOrResume(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if st.JobID == "" || ftTerminal(st.Phase) || s.obj.Spec.Cancel {
		return ctrl.Result{}, nil
	}
	paused := st.Phase == openaiv1alpha1.FineTuningPhasePaused || st.Phase == openaiv1alpha1.FineTuningPhasePausing
	var reason, verb string
	switch {
	case s.obj.Spec.Paused && st.Phase == openaiv1alpha1.FineTuningPhaseRunning:
		reason, verb = "PauseRequested", "pause"
	case !s.obj.Spec.Paused && paused:
		reason, verb = "ResumeRequested", "resume"
	default:
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	call := api.FineTuning.Jobs.Pause
	if verb == "resume" {
		call = api.FineTuning.Jobs.Resume
	}
	job, err := call(ctx, st.JobID)
	if err != nil {
		if stateConflict(err) {
			st.LastSyncTime = nil // its state changed meanwhile: read it
			return ctrl.Result{}, nil
		}
		return r.apiError(s, verb+" the fine-tuning job", err)
	}
	r.event(s.obj, corev1.EventTypeNormal, reason, "Reconcile", "Asked OpenAI to "+verb+" fine-tuning job "+st.JobID)
	r.mirror(s, job, time.Now())
	return ctrl.Result{}, nil
}

// track reads the job, its newest events and its latest checkpoint from OpenAI when a
// webhook event says so or the poll is due.
func (r *FineTuningJobReconciler) track(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	st := &s.obj.Status
	if st.JobID == "" || ftTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	plan := r.planRead(s.credentialsKey(&r.Deps), ftSubmitted(s.obj), st.LastWebhookEvent, st.SyncStatus, now)
	if plan.wait > 0 {
		return ctrl.Result{RequeueAfter: plan.wait}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	job, err := api.FineTuning.Jobs.Get(ctx, st.JobID)
	if err != nil {
		return r.apiError(s, "reading the fine-tuning job", err)
	}
	s.noteFound("fine-tuning job", st.JobID)
	if plan.webhook {
		webhookToSync.WithLabelValues("OpenAIFineTuningJob").Observe(time.Since(st.LastWebhookEvent.ReceivedAt.Time).Seconds())
	}
	r.mirror(s, job, now)
	if err := r.readDetails(ctx, s, api); err != nil {
		return r.apiError(s, "reading the fine-tuning job's events and checkpoints", err)
	}
	if ftTerminal(st.Phase) {
		return ctrl.Result{}, nil
	}
	return plan.next(now), nil
}

// readDetails reads the job's newest events and, once it trains, its latest checkpoint.
func (r *FineTuningJobReconciler) readDetails(ctx context.Context, s *ftScope, api openai.Client) error {
	st := &s.obj.Status
	events, err := api.FineTuning.Jobs.ListEvents(
		ctx,
		st.JobID,
		openai.FineTuningJobListEventsParams{Limit: openai.Int(openaiv1alpha1.MaxFineTuningEvents)},
	)
	if err != nil {
		return err
	}
	st.RecentEvents = nil
	for i, ev := range events.Data {
		if i == openaiv1alpha1.MaxFineTuningEvents {
			break
		}
		st.RecentEvents = append(st.RecentEvents, openaiv1alpha1.FineTuningEvent{
			CreatedAt: unixTime(ev.CreatedAt), Level: string(ev.Level), Message: openaiclient.Scrub(ev.Message, s.apiKey),
		})
	}
	switch st.Phase {
	case openaiv1alpha1.FineTuningPhasePending, openaiv1alpha1.FineTuningPhaseSubmitting,
		openaiv1alpha1.FineTuningPhaseValidatingFiles, openaiv1alpha1.FineTuningPhaseQueued:
		return nil // no checkpoint before training
	}
	ckpts, err := api.FineTuning.Jobs.Checkpoints.List(ctx, st.JobID, openai.FineTuningJobCheckpointListParams{Limit: openai.Int(1)})
	if err != nil {
		return err
	}
	if len(ckpts.Data) > 0 {
		st.LatestCheckpoint = checkpointStatus(&ckpts.Data[0])
	}
	return nil
}

func checkpointStatus(c *openai.FineTuningJobCheckpoint) *openaiv1alpha1.FineTuningCheckpoint {
	out := &openaiv1alpha1.FineTuningCheckpoint{Step: c.StepNumber, Model: c.FineTunedModelCheckpoint, CreatedAt: unixTime(c.CreatedAt)}
	m := c.Metrics
	for name, v := range map[string]struct {
		f     float64
		valid bool
	}{
		"train_loss":                     {m.TrainLoss, m.JSON.TrainLoss.Valid()},
		"train_mean_token_accuracy":      {m.TrainMeanTokenAccuracy, m.JSON.TrainMeanTokenAccuracy.Valid()},
		"valid_loss":                     {m.ValidLoss, m.JSON.ValidLoss.Valid()},
		"valid_mean_token_accuracy":      {m.ValidMeanTokenAccuracy, m.JSON.ValidMeanTokenAccuracy.Valid()},
		"full_valid_loss":                {m.FullValidLoss, m.JSON.FullValidLoss.Valid()},
		"full_valid_mean_token_accuracy": {m.FullValidMeanTokenAccuracy, m.JSON.FullValidMeanTokenAccuracy.Valid()},
	} {
		if v.valid {
			if out.Metrics == nil {
				out.Metrics = map[string]string{}
			}
			out.Metrics[name] = strconv.FormatFloat(v.f, 'f', -1, 64)
		}
	}
	return out
}

// ftSubmitted is when the job was created on OpenAI (or, before that is known, when
// the resource was created).
func ftSubmitted(obj *openaiv1alpha1.OpenAIFineTuningJob) time.Time {
	if obj.Status.CreatedAt != nil {
		return obj.Status.CreatedAt.Time
	}
	return obj.CreationTimestamp.Time
}

// ftPhase maps OpenAI's job status to a phase.
func ftPhase(s openai.FineTuningJobStatus) openaiv1alpha1.FineTuningPhase {
	switch s {
	case openai.FineTuningJobStatusValidatingFiles:
		return openaiv1alpha1.FineTuningPhaseValidatingFiles
	case openai.FineTuningJobStatusQueued:
		return openaiv1alpha1.FineTuningPhaseQueued
	case openai.FineTuningJobStatusSucceeded:
		return openaiv1alpha1.FineTuningPhaseSucceeded
	case openai.FineTuningJobStatusFailed:
		return openaiv1alpha1.FineTuningPhaseFailed
	case openai.FineTuningJobStatusCancelled:
		return openaiv1alpha1.FineTuningPhaseCancelled
	case "pausing": // not in openai-go's list of statuses, but answered by OpenAI
		return openaiv1alpha1.FineTuningPhasePausing
	case "paused":
		return openaiv1alpha1.FineTuningPhasePaused
	}
	return openaiv1alpha1.FineTuningPhaseRunning
}

// mirror copies OpenAI's view of the job into status and sets the conditions.
func (r *FineTuningJobReconciler) mirror(s *ftScope, job *openai.FineTuningJob, readAt time.Time) {
	obj, st := s.obj, &s.obj.Status
	st.JobID = job.ID
	st.Phase = ftPhase(job.Status)
	st.BaseModel = job.Model
	st.FineTunedModel = job.FineTunedModel
	st.TrainingFileID = job.TrainingFile
	st.ValidationFileID = job.ValidationFile
	st.TrainedTokens = job.TrainedTokens
	st.EstimatedFinish = unixTime(job.EstimatedFinish)
	st.ResultFiles = job.ResultFiles
	st.Error = nil
	if e := job.Error; e.Code != "" || e.Message != "" {
		st.Error = &openaiv1alpha1.FineTuningError{Code: e.Code, Message: openaiclient.Scrub(e.Message, s.apiKey), Param: e.Param}
	}
	st.CreatedAt = unixTime(job.CreatedAt)
	st.FinishedAt = unixTime(job.FinishedAt)
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
		"OpenAI accepted fine-tuning job "+job.ID,
	)
	switch st.Phase {
	case openaiv1alpha1.FineTuningPhaseSucceeded:
		msg := fmt.Sprintf("Fine-tuning job %s succeeded: model %s (%d trained tokens)", job.ID, job.FineTunedModel, job.TrainedTokens)
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionComplete, metav1.ConditionTrue, openaiv1alpha1.ReasonSucceeded, msg)
		removeCondition(&st.Conditions, openaiv1alpha1.ConditionFailed)
	case openaiv1alpha1.FineTuningPhaseFailed, openaiv1alpha1.FineTuningPhaseCancelled:
		reason := openaiv1alpha1.ReasonFailed
		if st.Phase == openaiv1alpha1.FineTuningPhaseCancelled {
			reason = openaiv1alpha1.ReasonCancelled
		}
		msg := fmt.Sprintf("Fine-tuning job %s is %s", job.ID, job.Status)
		if st.Error != nil {
			msg += ": " + st.Error.Message
			if st.Error.Code != "" {
				msg += " (" + st.Error.Code + ")"
			}
		}
		st.Message = msg
		setCondition(&st.Conditions, obj, openaiv1alpha1.ConditionFailed, metav1.ConditionTrue, reason, msg)
		removeCondition(&st.Conditions, openaiv1alpha1.ConditionComplete)
	case openaiv1alpha1.FineTuningPhasePaused, openaiv1alpha1.FineTuningPhasePausing:
		st.Message = "Paused on OpenAI; set spec.paused to false to resume"
	}
}

// ftResultsTarget returns spec.results with its kind defaulted.
func ftResultsTarget(obj *openaiv1alpha1.OpenAIFineTuningJob) *openaiv1alpha1.ResultsTarget {
	t := obj.Spec.Results.DeepCopy()
	if t.Kind == "" {
		t.Kind = openaiv1alpha1.ResultsKindConfigMap
	}
	return t
}

// storeResults writes the model's name, the metrics and the checkpoints to
// spec.results once the job succeeded: once per target, whatever else the spec changes.
func (r *FineTuningJobReconciler) storeResults(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if obj.Spec.Results == nil || st.Phase != openaiv1alpha1.FineTuningPhaseSucceeded {
		return ctrl.Result{}, nil
	}
	target := ftResultsTarget(obj)
	if st.ResultsStoredIn != nil && *st.ResultsStoredIn == *target {
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	finish := func(status metav1.ConditionStatus, reason, msg string) (ctrl.Result, error) {
		st.ResultsStoredIn = target
		r.noteResults(s, resultsOutcome{status: status, reason: reason, message: msg})
		return ctrl.Result{}, nil
	}
	data := map[string][]byte{"model": []byte(st.FineTunedModel)}
	if len(st.ResultFiles) > 0 {
		csv, err := download(ctx, api, st.ResultFiles[0], maxResultsBytes)
		var tooLarge errTooLarge
		switch {
		case errors.As(err, &tooLarge):
			return finish(metav1.ConditionFalse, openaiv1alpha1.ReasonTooLarge,
				fmt.Sprintf("Result file %s is larger than a %s can hold (about 1 MiB); it stays on OpenAI", st.ResultFiles[0], target.Kind))
		case err != nil && openaiclient.Classify(err).Class == openaiclient.NotFound:
			return finish(metav1.ConditionFalse, openaiv1alpha1.ReasonExpired,
				fmt.Sprintf("OpenAI no longer has result file %s (files expire); the model's name is in status.fineTunedModel", st.ResultFiles[0]))
		case err != nil:
			return r.resultsError(s, "downloading the result file", err)
		}
		data["metrics.csv"] = csv
	}
	ckpts, err := r.checkpoints(ctx, api, st.JobID)
	if err != nil {
		return r.resultsError(s, "listing the checkpoints", err)
	}
	data["checkpoints.json"] = ckpts
	out, err := writeResults(ctx, r.Client, r.Scheme, obj, target, data)
	if err != nil {
		return ctrl.Result{}, err
	}
	return finish(out.status, out.reason, out.message)
}

// resultsError is an API error while storing results: the job stays Succeeded and
// ResultsStored says why they are not stored yet.
func (r *FineTuningJobReconciler) resultsError(s *ftScope, what string, err error) (ctrl.Result, error) {
	res, rerr := r.apiError(s, what, err)
	if c := meta.FindStatusCondition(s.obj.Status.Conditions, openaiv1alpha1.ConditionCredentialsReady); c != nil &&
		c.Status == metav1.ConditionFalse {
		setCondition(&s.obj.Status.Conditions, s.obj, openaiv1alpha1.ConditionResultsStored, metav1.ConditionFalse, c.Reason, c.Message)
	}
	return res, rerr
}

// noteResults records the outcome of writing results as a condition and an Event.
func (r *FineTuningJobReconciler) noteResults(s *ftScope, out resultsOutcome) {
	setCondition(&s.obj.Status.Conditions, s.obj, openaiv1alpha1.ConditionResultsStored, out.status, out.reason, out.message)
	eventType, reason := corev1.EventTypeNormal, "ResultsStored"
	if out.status != metav1.ConditionTrue {
		eventType, reason = corev1.EventTypeWarning, out.reason
	}
	r.event(s.obj, eventType, reason, "StoreResults", out.message)
}

// checkpoints returns the job's checkpoints (at most maxCheckpointsStored, newest
// first) as indented JSON.
func (r *FineTuningJobReconciler) checkpoints(ctx context.Context, api openai.Client, jobID string) ([]byte, error) {
	list := []*openaiv1alpha1.FineTuningCheckpoint{}
	pager := api.FineTuning.Jobs.Checkpoints.ListAutoPaging(ctx, jobID, openai.FineTuningJobCheckpointListParams{Limit: openai.Int(100)})
	for len(list) < maxCheckpointsStored && pager.Next() {
		c := pager.Current()
		list = append(list, checkpointStatus(&c))
	}
	if err := pager.Err(); err != nil {
		return nil, err
	}
	return json.MarshalIndent(list, "", "  ")
}

// ownsUploads reports whether the operator uploaded files for the job that are still
// there.
func ownsUploads(obj *openaiv1alpha1.OpenAIFineTuningJob) bool {
	st := &obj.Status
	training := obj.Spec.TrainingData.FileID == "" && st.TrainingFileID != ""
	validation := obj.Spec.ValidationData != nil && obj.Spec.ValidationData.FileID == "" && st.ValidationFileID != ""
	return (training || validation) && !st.UploadedFilesDeleted
}

// deleteUploads removes the files the operator uploaded once the job ended.
func (r *FineTuningJobReconciler) deleteUploads(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	if !ftTerminal(s.obj.Status.Phase) || !ownsUploads(s.obj) {
		return ctrl.Result{}, nil
	}
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return r.apiError(s, "loading credentials", err)
	}
	if err := r.removeUploads(ctx, s, api); err != nil {
		return r.apiError(s, "deleting the uploaded files", err)
	}
	return ctrl.Result{}, nil
}

// removeUploads deletes the uploaded training and validation files; files already gone
// count as deleted.
func (r *FineTuningJobReconciler) removeUploads(ctx context.Context, s *ftScope, api openai.Client) error {
	obj, st := s.obj, &s.obj.Status
	ids := []string{}
	if obj.Spec.TrainingData.FileID == "" && st.TrainingFileID != "" {
		ids = append(ids, st.TrainingFileID)
	}
	if v := obj.Spec.ValidationData; v != nil && v.FileID == "" && st.ValidationFileID != "" {
		ids = append(ids, st.ValidationFileID)
	}
	for _, id := range ids {
		if _, err := api.Files.Delete(ctx, id); err != nil && openaiclient.Classify(err).Class != openaiclient.NotFound {
			return err
		}
	}
	st.UploadedFilesDeleted = true
	return nil
}

// reconcileDelete cancels the job when spec.cancelOnDelete and deletes the files the
// operator uploaded (unless the job runs on), then lets the resource go. It gives up
// after DeletionTimeout, or at once without credentials, and says so in a Warning event.
func (r *FineTuningJobReconciler) reconcileDelete(ctx context.Context, s *ftScope) (ctrl.Result, error) {
	obj, st := s.obj, &s.obj.Status
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if m, ok := r.submissions.Load(obj.UID); ok && st.JobID == "" {
		if created := m.(*ftSubmission).created; created != nil {
			st.JobID, st.TrainingFileID, st.ValidationFileID = created.ID, created.TrainingFile, created.ValidationFile
		} else {
			r.recordUploads(s, m.(*ftSubmission))
		}
	}
	defer r.submissions.Delete(obj.UID)
	cancelOnDelete := obj.Spec.CancelOnDelete == nil || *obj.Spec.CancelOnDelete
	submitting := st.JobID == "" && st.Phase == openaiv1alpha1.FineTuningPhaseSubmitting
	running := !ftTerminal(st.Phase) && (st.JobID != "" || submitting)
	var failure error
	if (running && cancelOnDelete) || (!running && ownsUploads(obj)) {
		failure = r.cleanUp(ctx, s, cancelOnDelete)
	}
	return s.finishDeletion(ctx, &r.Deps, failure, "the job may still run and the uploaded files may remain")
}

// cleanUp finds what an interrupted submission left, cancels the job when cancel is
// set and deletes the uploads once nothing runs on them.
func (r *FineTuningJobReconciler) cleanUp(ctx context.Context, s *ftScope, cancel bool) error {
	obj, st := s.obj, &s.obj.Status
	api, err := s.openAI(ctx, &r.Deps)
	if err != nil {
		return s.credentialsProblem(err)
	}
	if st.JobID == "" && st.Phase == openaiv1alpha1.FineTuningPhaseSubmitting {
		memo := &ftSubmission{}
		job, err := r.findEarlierSubmission(ctx, s, api, memo)
		if err != nil {
			if errors.Is(err, errSearchIncomplete) {
				return err
			}
			return errors.New(openaiclient.Classify(err, s.apiKey).Message)
		}
		if job != nil {
			st.JobID, st.TrainingFileID, st.ValidationFileID = job.ID, job.TrainingFile, job.ValidationFile
		} else {
			r.recordUploads(s, memo)
		}
	}
	ended := ftTerminal(st.Phase) || st.JobID == ""
	if cancel && !ended {
		if _, err := api.FineTuning.Jobs.Cancel(ctx, st.JobID); err != nil {
			if c := openaiclient.Classify(err, s.apiKey); c.Class != openaiclient.NotFound && !stateConflict(err) {
				return errors.New(c.Message)
			}
		} else {
			r.event(obj, corev1.EventTypeNormal, "CancelRequested", "Delete", "Cancelled fine-tuning job "+st.JobID+" because the resource was deleted")
		}
		ended = true
	}
	if !ended {
		return nil // the job runs on (cancelOnDelete: false) and needs its files
	}
	if err := r.removeUploads(ctx, s, api); err != nil {
		return errors.New(openaiclient.Classify(err, s.apiKey).Message)
	}
	return nil
}

// SetupWithManager registers the reconciler.
func (r *FineTuningJobReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return setupController(mgr, &r.Deps, r, "openaifinetuningjob", &openaiv1alpha1.OpenAIFineTuningJob{}, &openaiv1alpha1.OpenAIFineTuningJobList{},
		func(o *openaiv1alpha1.OpenAIFineTuningJob) *openaiv1alpha1.CredentialsReference {
			return o.Spec.CredentialsRef
		},
		webhookTriggers(func(o *openaiv1alpha1.OpenAIFineTuningJob) *openaiv1alpha1.WebhookEvent {
			return o.Status.LastWebhookEvent
		}))
}
