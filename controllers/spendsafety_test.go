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

// The spend-safety cases: a rotated or refused key, a crash, a rate limit or a user's
// edit must never make the operator spend twice, leave work running with nobody
// tracking it, or say work failed while OpenAI runs it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/batchinput"
)

// failedCondition reads the resource's Failed condition, for Eventually and Consistently.
func (f *fixture) failedCondition(obj client.Object) func() *metav1.Condition {
	return f.condition(obj, openaiv1alpha1.ConditionFailed)
}

// earlierAttempt leaves what a process that died during submission leaves: the intent
// (phase Submitting since a moment ago), the input uploaded under its deterministic
// name and, with withBatch, the batch created and tagged. It returns their ids.
func (f *fixture) earlierAttempt(b *openaiv1alpha1.OpenAIBatch, withBatch bool) (fileID, batchID string) {
	f.t.Helper()
	b = f.getBatch(b.Name)
	jsonl, err := batchinput.FromRequests(string(b.Spec.Endpoint), b.Spec.Input.Requests)
	f.g.Expect(err).NotTo(HaveOccurred())
	file, err := f.sdk().Files.New(
		f.ctx,
		openai.FileNewParams{File: openai.File(bytes.NewReader(jsonl), inputFileName(b), "application/jsonl"), Purpose: openai.FilePurposeBatch},
	)
	f.g.Expect(err).NotTo(HaveOccurred())
	if withBatch {
		created, err := f.sdk().Batches.New(f.ctx, openai.BatchNewParams{
			InputFileID: file.ID, Endpoint: openai.BatchNewParamsEndpoint(b.Spec.Endpoint), CompletionWindow: "24h",
			Metadata: shared.Metadata(withTag(b.Spec.Metadata, b)),
		})
		f.g.Expect(err).NotTo(HaveOccurred())
		batchID = created.ID
	}
	since := metav1.NewTime(time.Now().Add(-time.Second))
	b.Status.Phase = openaiv1alpha1.BatchPhaseSubmitting
	b.Status.SubmittingSince = &since
	f.g.Expect(f.c.Status().Update(f.ctx, b)).To(Succeed())
	return file.ID, batchID
}

// remoteBatch reads a batch from the emulator with the tests' own key.
func (f *fixture) remoteBatch(id string) *openai.Batch {
	b, err := f.sdk().Batches.Get(f.ctx, id)
	f.g.Expect(err).NotTo(HaveOccurred())
	return b
}

// fileExists reports whether OpenAI still has the file.
func (f *fixture) fileExists(id string) bool {
	_, err := f.sdk().Files.Get(f.ctx, id)
	return err == nil
}

// filesNamed returns the ids of the batch files named name.
func (f *fixture) filesNamed(name string) []string {
	page, err := f.sdk().Files.List(f.ctx, openai.FileListParams{Purpose: openai.String("batch")})
	f.g.Expect(err).NotTo(HaveOccurred())
	var ids []string
	for _, file := range page.Data {
		if file.Filename == name {
			ids = append(ids, file.ID)
		}
	}
	return ids
}

func (f *fixture) inject(in emulator.Injection) {
	f.t.Helper()
	f.g.Expect(f.emu.Inject(in)).To(Succeed())
}

func (f *fixture) waitPhase(name string, phase openaiv1alpha1.BatchPhase) *openaiv1alpha1.OpenAIBatch {
	f.t.Helper()
	f.g.Eventually(func() openaiv1alpha1.BatchPhase { return f.getBatch(name).Status.Phase }, 20*time.Second, 20*time.Millisecond).
		Should(Equal(phase))
	return f.getBatch(name)
}

// Case 1: after submission, a refused key is about access, not the work.
func TestBatchKeyRevokedWhileRunningKeepsItsPhaseAndContinues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{emulator: emulator.Options{TimeScale: 0.5}})
	b := f.batch("revoked", 3, "text-embedding-3-small")
	f.create(b)
	b = f.waitPhase("revoked", openaiv1alpha1.BatchPhaseValidating)

	f.g.Expect(f.emu.SetKeyState(emulator.DefaultAPIKey, emulator.KeyRevoked)).To(Succeed())
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 20*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonUnauthorized),
		HaveField("Message", ContainSubstring("invalid_api_key")),
	))
	// The batch runs on at OpenAI: the resource neither fails nor deletes its input.
	f.g.Consistently(f.failedCondition(b), 1500*time.Millisecond, 50*time.Millisecond).Should(BeNil())
	got := f.getBatch("revoked")
	f.g.Expect(got.Status.Phase).
		To(BeElementOf(openaiv1alpha1.BatchPhaseValidating, openaiv1alpha1.BatchPhaseInProgress, openaiv1alpha1.BatchPhaseFinalizing))
	f.g.Expect(f.fileExists(got.Status.InputFileID)).To(BeTrue(), "the input of a running batch must stay")
	f.g.Eventually(f.reasons("revoked"), 10*time.Second, 50*time.Millisecond).Should(ContainElement(openaiv1alpha1.ReasonUnauthorized))

	// The key works again: the batch goes on by itself, to the end.
	f.g.Expect(f.emu.SetKeyState(emulator.DefaultAPIKey, emulator.KeyActive)).To(Succeed())
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.condition(b, openaiv1alpha1.ConditionCredentialsReady)()).To(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.failedCondition(b)()).To(BeNil())
	f.g.Eventually(func() bool { return f.getBatch("revoked").Status.InputFileDeleted }, 10*time.Second).Should(BeTrue())
}

func TestBatchRefusalsAfterSubmissionNeverEndIt(t *testing.T) {
	cases := map[string]struct {
		fault  emulator.FaultKind
		reason string
	}{
		"403 on reads":           {fault: emulator.FaultForbidden, reason: openaiv1alpha1.ReasonForbidden},
		"wrong project on reads": {fault: emulator.FaultWrongProject, reason: openaiv1alpha1.ReasonWrongProject},
		"400 on reads":           {fault: emulator.FaultBadRequest, reason: openaiv1alpha1.ReasonRequestRefused},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			opts.BackoffMax = 200 * time.Millisecond // RequestRefused waits BackoffMax
			f := newFixture(t, fixtureOptions{opts: opts})
			b := f.batch("refused", 2, emulator.ModelHang)
			f.create(b)
			f.waitPhase("refused", openaiv1alpha1.BatchPhaseInProgress)
			f.inject(emulator.Injection{Op: emulator.OpBatchesRetrieve, Fault: tc.fault, Count: 3})
			f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 20*time.Millisecond).
				Should(haveStatus(metav1.ConditionFalse, tc.reason))
			f.g.Eventually(f.emu.Injections, 10*time.Second, 50*time.Millisecond).Should(BeEmpty())
			f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 20*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue))
			f.g.Expect(f.getBatch("refused").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseInProgress))
			f.g.Expect(f.failedCondition(b)()).To(BeNil())
		})
	}
}

// A Completed batch whose results download is refused stays Completed (never Failed
// too) and says why in ResultsStored until the download works.
func TestCompletedBatchRefusedWhileDownloadingResultsStaysCompleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.inject(emulator.Injection{Op: emulator.OpFilesContent, Fault: emulator.FaultUnauthorized, Count: 3})
	b := f.batch("download", 2, "text-embedding-3-small")
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "download-out"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 10*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonUnauthorized))
	got := f.getBatch("download")
	f.g.Expect(got.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCompleted))
	f.g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, openaiv1alpha1.ConditionComplete)).To(BeTrue())
	f.g.Expect(f.failedCondition(b)()).To(BeNil(), "Complete and Failed must never both be True")
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	got = f.getBatch("download")
	f.g.Expect(got.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCompleted))
	f.g.Expect(f.failedCondition(b)()).To(BeNil())
}

// A 404 for a created batch is its own condition and a Warning, never a silent Failed;
// the batch is tracked on, and found again when OpenAI shows it again.
func TestBatchNotFoundAfterCreationIsReportedNotFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("vanished", 1, emulator.ModelHang)
	f.create(b)
	f.waitPhase("vanished", openaiv1alpha1.BatchPhaseInProgress)
	f.inject(emulator.Injection{Op: emulator.OpBatchesRetrieve, Fault: emulator.FaultNotFound, Count: 3})
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionObjectFound), 10*time.Second, 20*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonNotFound),
		HaveField("Message", ContainSubstring("the resource keeps its phase")),
	))
	f.g.Expect(f.getBatch("vanished").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseInProgress))
	f.g.Expect(f.failedCondition(b)()).To(BeNil())
	f.g.Eventually(f.reasons("vanished"), 10*time.Second, 50*time.Millisecond).Should(ContainElement(openaiv1alpha1.ReasonNotFound))
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionObjectFound), 20*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonFound))
	f.g.Expect(f.getBatch("vanished").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseInProgress))
}

// Only OpenAI's refusal of the request itself (400) ends a batch; a refused key at the
// create call waits.
func TestBatchCreateAnswers(t *testing.T) {
	cases := map[string]struct {
		in       emulator.Injection
		rejected bool
	}{
		"400 on create ends it":            {in: emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultBadRequest}, rejected: true},
		"400 on the upload ends it":        {in: emulator.Injection{Op: emulator.OpFilesCreate, Fault: emulator.FaultBadRequest}, rejected: true},
		"401 on create waits":              {in: emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultUnauthorized, Count: 2}},
		"403 on the upload waits":          {in: emulator.Injection{Op: emulator.OpFilesCreate, Fault: emulator.FaultForbidden, Count: 2}},
		"insufficient quota waits":         {in: emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultInsufficientQuota}},
		"429 tokens without Retry-After":   {in: emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultRateLimitTokens, Count: 2}},
		"lost answer of the create call":   {in: emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultLostAnswer}},
		"lost answer of the upload":        {in: emulator.Injection{Op: emulator.OpFilesCreate, Fault: emulator.FaultLostAnswer}},
		"500 on create searches, then one": {in: emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultServerError}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			f.inject(tc.in)
			b := f.batch("create", 1, "text-embedding-3-small")
			f.create(b)
			if tc.rejected {
				f.g.Eventually(f.failedCondition(b), 20*time.Second, 20*time.Millisecond).
					Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonRejected))
				got := f.getBatch("create")
				f.g.Expect(got.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseFailed))
				f.g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
				if got.Status.InputFileID != "" {
					f.g.Eventually(func() bool { return f.fileExists(got.Status.InputFileID) }, 10*time.Second).
						Should(BeFalse(), "the upload of a refused batch is deleted")
				}
				return
			}
			f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue))
			f.g.Expect(f.failedCondition(b)()).To(BeNil())
			page, err := f.sdk().Batches.List(f.ctx, openai.BatchListParams{})
			f.g.Expect(err).NotTo(HaveOccurred())
			f.g.Expect(page.Data).To(HaveLen(1), "one batch on OpenAI")
			f.g.Expect(f.filesNamed(inputFileName(b))).To(BeEmpty(), "one upload, used and then deleted")
			f.g.Expect(f.emu.Calls("files.create")).
				To(Equal(int64(1)+int64(max(tc.in.Count, 1))*boolInt64(tc.in.Op == emulator.OpFilesCreate && tc.in.Fault != emulator.FaultLostAnswer)),
					"no upload is made again after one that landed")
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An older operator ended resources on refused keys; deleting such a Failed resource
// must still cancel the batch OpenAI runs.
func TestFailedBatchStillRunningIsCancelledOnDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("legacy", 1, emulator.ModelHang)
	f.create(b)
	b = f.waitPhase("legacy", openaiv1alpha1.BatchPhaseInProgress)
	b.Status.Phase = openaiv1alpha1.BatchPhaseFailed
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: openaiv1alpha1.ConditionFailed, Status: metav1.ConditionTrue,
		Reason: openaiv1alpha1.ReasonRejected, Message: "reading the batch: OpenAI answered 401", ObservedGeneration: b.Generation})
	f.g.Expect(f.c.Status().Update(f.ctx, b)).To(Succeed())
	f.g.Expect(f.c.Delete(f.ctx, b)).To(Succeed())
	f.g.Eventually(func() error { return f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{}) }, 20*time.Second).
		ShouldNot(Succeed())
	f.g.Expect(f.remoteBatch(b.Status.BatchID).Status).To(BeElementOf(openai.BatchStatusCancelling, openai.BatchStatusCancelled))
}

// Case 2: once Submitting is recorded, only "found", "created" or "refused" end it.
func TestSubmittingSurvivesAMissingCredentialsSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("rotated", 1, "text-embedding-3-small")
	f.create(b)
	_, batchID := f.earlierAttempt(b, true)
	// Delete-and-recreate rotation: the Secret is briefly gone when the manager starts.
	f.g.Expect(f.c.Delete(f.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "openai-credentials"}})).To(Succeed())
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSecretNotFound))
	f.g.Consistently(func() openaiv1alpha1.BatchPhase { return f.getBatch("rotated").Status.Phase }, time.Second, 20*time.Millisecond).
		Should(Equal(openaiv1alpha1.BatchPhaseSubmitting))

	f.createSecret("openai-credentials", map[string]string{"apiKey": emulator.DefaultAPIKey})
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("rotated").Status.BatchID).To(Equal(batchID))
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)), "the earlier attempt's batch is adopted, not created again")
	f.g.Eventually(f.reasons("rotated"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Adopted"))
}

func TestSubmittingSurvivesAnEditedOrMissingInput(t *testing.T) {
	const good = `{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}` + "\n"
	cases := map[string]struct {
		withBatch bool
		change    func(f *fixture)
	}{
		"input edited to something invalid, batch created": {withBatch: true, change: func(f *fixture) {
			invalid := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "input"}, Data: map[string]string{"in.jsonl": "not json"}}
			f.g.Expect(f.c.Update(f.ctx, invalid)).To(Succeed())
		}},
		"input deleted, batch created": {withBatch: true, change: func(f *fixture) {
			f.g.Expect(f.c.Delete(f.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "input"}})).To(Succeed())
		}},
		"input edited to something invalid, only uploaded": {withBatch: false, change: func(f *fixture) {
			invalid := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "input"}, Data: map[string]string{"in.jsonl": "not json"}}
			f.g.Expect(f.c.Update(f.ctx, invalid)).To(Succeed())
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{noManager: true})
			f.createConfigMap("input", map[string]string{"in.jsonl": good})
			b := f.batch("edited", 0, "")
			b.Spec.Input = openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "input", Key: "in.jsonl"}}
			f.create(b)
			// The earlier attempt uploaded the good input (earlierAttempt reads inline
			// requests, so upload it here).
			b = f.getBatch("edited")
			file, err := f.sdk().Files.New(
				f.ctx,
				openai.FileNewParams{
					File:    openai.File(strings.NewReader(good), inputFileName(b), "application/jsonl"),
					Purpose: openai.FilePurposeBatch,
				},
			)
			f.g.Expect(err).NotTo(HaveOccurred())
			creates := int64(0)
			if tc.withBatch {
				_, err := f.sdk().Batches.New(f.ctx, openai.BatchNewParams{InputFileID: file.ID, Endpoint: "/v1/embeddings", CompletionWindow: "24h",
					Metadata: shared.Metadata(withTag(nil, b))})
				f.g.Expect(err).NotTo(HaveOccurred())
				creates = 1
			}
			since := metav1.NewTime(time.Now().Add(-time.Second))
			b.Status.Phase, b.Status.SubmittingSince = openaiv1alpha1.BatchPhaseSubmitting, &since
			f.g.Expect(f.c.Status().Update(f.ctx, b)).To(Succeed())
			tc.change(f)

			f.startManager(testOptions(), nil)
			f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue))
			f.g.Expect(f.failedCondition(b)()).To(BeNil())
			f.g.Expect(f.emu.Calls("batches.create")).To(Equal(creates+boolInt64(!tc.withBatch)), "exactly one batch in all")
			f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)), "the earlier upload is used as it is")
		})
	}
}

func boolInt64(b bool) int64 { return int64(boolInt(b)) }

// Case 3: spec.cancel while Submitting looks before it ends the resource.
func TestCancelDuringSubmittingFindsWhatTheEarlierAttemptCreated(t *testing.T) {
	cases := map[string]struct{ withBatch bool }{
		"batch created: adopted and cancelled": {withBatch: true},
		"only uploaded: the upload is deleted": {withBatch: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{noManager: true})
			b := f.batch("stop", 1, emulator.ModelHang)
			f.create(b)
			fileID, batchID := f.earlierAttempt(b, tc.withBatch)
			b = f.getBatch("stop")
			b.Spec.Cancel = true
			f.g.Expect(f.c.Update(f.ctx, b)).To(Succeed())
			f.startManager(testOptions(), nil)
			f.g.Eventually(f.failedCondition(b), 20*time.Second, 20*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
			if tc.withBatch {
				f.g.Expect(f.remoteBatch(batchID).Status).To(BeElementOf(openai.BatchStatusCancelling, openai.BatchStatusCancelled))
				f.g.Expect(f.getBatch("stop").Status.BatchID).To(Equal(batchID))
			}
			f.g.Eventually(func() bool { return f.fileExists(fileID) }, 10*time.Second, 50*time.Millisecond).
				Should(BeFalse(), "the uploaded input is not orphaned")
			f.g.Expect(f.emu.Calls("batches.create")).To(Equal(boolInt64(tc.withBatch)))
		})
	}
}

func TestResponseCancelDuringSubmittingWarnsThatTheOutcomeIsUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	r := f.response("unknown", "gpt-5-mini", "hi")
	r.Spec.Cancel = true
	f.create(r)
	r = f.getResponse("unknown")
	r.Status.Phase = openaiv1alpha1.ResponsePhaseSubmitting
	f.g.Expect(f.c.Status().Update(f.ctx, r)).To(Succeed())
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionFailed), 20*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
	f.g.Eventually(func() []string { return eventReasons(f.events("unknown")) }, 5*time.Second).Should(ContainElement("OutcomeUnknown"))
	// Events may be lost with the process that sends them: the status says it too, in
	// its message and in a condition.
	f.g.Expect(f.getResponse("unknown").Status.Message).To(ContainSubstring("if OpenAI created it, it runs on"))
	f.g.Expect(f.condition(r, openaiv1alpha1.ConditionObjectFound)()).To(haveStatus(metav1.ConditionUnknown, openaiv1alpha1.ReasonOutcomeUnknown))
	f.g.Expect(f.emu.Calls("responses.create")).To(BeZero())
}

// Case 4: the adoption search reads everything since the intent, however much.
func TestAdoptionSearchReadsPastFiveThousandNewerBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("needle", 1, "text-embedding-3-small")
	f.create(b)
	_, batchID := f.earlierAttempt(b, true)
	// After the crash, 5,000 other batches are created on the same project.
	f.createOtherBatches(5000)
	f.emu.ResetStats()

	began := time.Now()
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionSubmitted), 60*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	t.Logf("adopted after %s and %d batches.list calls", time.Since(began).Round(time.Millisecond), f.emu.Calls("batches.list"))
	f.g.Expect(f.emu.Calls("batches.create")).To(BeZero(), "no second batch")
	f.g.Expect(f.getBatch("needle").Status.BatchID).To(Equal(batchID))
	f.g.Expect(f.emu.Calls("batches.list")).To(BeNumerically(">=", 5001/100), "the search read every page")
}

// A search that cannot finish creates nothing and says why.
func TestAdoptionSearchThatFailsCreatesNothingAndSaysWhy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("interrupted", 1, "text-embedding-3-small")
	f.create(b)
	f.earlierAttempt(b, false)
	f.createOtherBatches(250)
	f.inject(emulator.Injection{Op: emulator.OpBatchesList, Fault: emulator.FaultServerError, Count: 2})
	f.emu.ResetStats()

	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionSubmitted), 30*time.Second, 10*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSearchIncomplete),
		HaveField("Message", ContainSubstring("nothing is created until the search has finished")),
	))
	f.g.Expect(f.emu.Calls("batches.create")).To(BeZero())
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)), "created once the search proved there was none")
	f.g.Expect(f.emu.Calls("files.create")).To(BeZero(), "the earlier upload is used")
}

// createOtherBatches creates n batches of other resources (or none) on the project.
func (f *fixture) createOtherBatches(n int) {
	f.t.Helper()
	other, err := f.sdk().Files.New(
		f.ctx,
		openai.FileNewParams{
			File: openai.File(
				strings.NewReader(`{"custom_id":"x","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}`+"\n"),
				"other.jsonl",
				"application/jsonl",
			),
			Purpose: openai.FilePurposeBatch,
		},
	)
	f.g.Expect(err).NotTo(HaveOccurred())
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if _, err := f.sdk().Batches.New(f.ctx, openai.BatchNewParams{InputFileID: other.ID, Endpoint: "/v1/embeddings", CompletionWindow: "24h",
					Metadata: shared.Metadata{"n": fmt.Sprint(i)}}); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	f.g.Expect(failed.Load()).To(BeZero())
}

// Case 5: a rate limit holds the whole project, not one object.
func TestRateLimitHoldsEveryResourceOfTheProject(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = 250*time.Millisecond, 250*time.Millisecond
	f := newFixture(t, fixtureOptions{opts: opts})
	for i := range 10 {
		f.create(f.batch(fmt.Sprintf("busy-%02d", i), 1, emulator.ModelHang))
	}
	for i := range 10 {
		f.waitPhase(fmt.Sprintf("busy-%02d", i), openaiv1alpha1.BatchPhaseInProgress)
	}
	f.inject(emulator.Injection{Op: emulator.OpBatchesRetrieve, Fault: emulator.FaultRateLimitRequests, RetryAfter: 3 * time.Second})
	f.g.Eventually(func() int64 { return f.emu.Stats().Faults.Injected[string(emulator.FaultRateLimitRequests)] }, 10*time.Second, time.Millisecond).
		Should(Equal(int64(1)))
	before := totalCalls(f.emu.Stats().Calls)
	time.Sleep(2 * time.Second)
	// Calls already in flight when the 429 came may land; nothing after.
	t.Logf("API calls during the 2 s after the 429: %d", totalCalls(f.emu.Stats().Calls)-before)
	f.g.Expect(totalCalls(f.emu.Stats().Calls)-before).
		To(BeNumerically("<=", 4), "10 resources polling every 250 ms made calls during a 3 s Retry-After")
}

func TestInsufficientQuotaSaysSoAndRetriesSlowly(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.QuotaRetryInterval = 4 * time.Second
	f := newFixture(t, fixtureOptions{opts: opts})
	f.inject(emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultInsufficientQuota, Count: 1000})
	metric := quotaExhausted.WithLabelValues(f.ns, "openai-credentials")
	b := f.batch("broke", 1, "text-embedding-3-small")
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 20*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonInsufficientQuota),
		HaveField("Message", ContainSubstring("insufficient_quota")),
	))
	f.g.Eventually(f.reasons("broke"), 10*time.Second, 50*time.Millisecond).Should(ContainElement(openaiv1alpha1.ReasonInsufficientQuota))
	f.g.Expect(testutil.ToFloat64(metric)).To(BeNumerically(">=", 1))
	// QuotaRetryInterval is 4 s here: no create call for that long.
	calls := f.emu.Calls("batches.create")
	f.g.Consistently(func() int64 { return f.emu.Calls("batches.create") }, 1500*time.Millisecond, 50*time.Millisecond).Should(Equal(calls))
	f.g.Expect(f.getBatch("broke").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseSubmitting))
	f.emu.ClearInjections()
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
}

// Case 6: a batch left running keeps its input.
func TestBatchLeftRunningOnDeleteKeepsItsInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("keep", 1, emulator.ModelHang)
	b.Spec.CancelOnDelete = ptr.To(false)
	f.create(b)
	b = f.waitPhase("keep", openaiv1alpha1.BatchPhaseInProgress)
	f.g.Expect(f.c.Delete(f.ctx, b)).To(Succeed())
	f.g.Eventually(func() error { return f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{}) }, 20*time.Second).
		ShouldNot(Succeed())
	f.g.Expect(f.remoteBatch(b.Status.BatchID).Status).To(Equal(openai.BatchStatusInProgress))
	f.g.Expect(f.fileExists(b.Status.InputFileID)).To(BeTrue(), "the running batch's input must stay")
}

// Case 7: uploads an earlier attempt left are reused once and the others deleted.
func TestStrayUploadsAreDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("strays", 1, "text-embedding-3-small")
	f.create(b)
	first, _ := f.earlierAttempt(b, false)
	second, _ := f.earlierAttempt(b, false) // a second attempt uploaded again
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("strays").Status.InputFileID).To(Equal(second), "the newest upload is used")
	f.g.Eventually(func() bool { return f.fileExists(first) }, 10*time.Second, 50*time.Millisecond).Should(BeFalse(), "the stray upload is deleted")
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(2)), "no third upload")
}

// A stray upload found by the pass that adopted the batch is still deleted when the
// process stops before it could delete it: the adoption's status write, which ends the
// search for good, carries the strays too.
func TestStrayUploadsOutliveACrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("strays-crash", 1, emulator.ModelHang)
	f.create(b)
	stray, _ := f.earlierAttempt(b, false)
	_, batchID := f.earlierAttempt(b, true) // the second attempt got as far as the batch
	f.inject(emulator.Injection{Op: emulator.OpFilesDelete, Fault: emulator.FaultServerError, Count: 1000})
	stop := f.startManager(testOptions(), nil)
	f.g.Eventually(func() string { return f.getBatch("strays-crash").Status.BatchID }, 20*time.Second, 50*time.Millisecond).
		Should(Equal(batchID), "the earlier batch is adopted")
	f.g.Eventually(func() int64 { return f.emu.Calls("files.delete") }, 10*time.Second, 50*time.Millisecond).
		Should(BeNumerically(">=", 1), "the stray's deletion is tried")
	stop() // the process ends with the stray still on OpenAI
	f.g.Expect(f.fileExists(stray)).To(BeTrue())
	f.emu.ClearInjections()
	f.startManager(testOptions(), nil)
	f.g.Eventually(func() bool { return f.fileExists(stray) }, 20*time.Second, 50*time.Millisecond).
		Should(BeFalse(), "the restarted process deletes the stray the first one found")
	f.g.Expect(f.remoteBatch(batchID).Status).NotTo(BeElementOf(openai.BatchStatusCancelling, openai.BatchStatusCancelled), "the adopted batch runs on")
	f.g.Eventually(func() []string { return f.getBatch("strays-crash").Status.UnusedUploads }, 10*time.Second, 50*time.Millisecond).
		Should(BeEmpty(), "a deleted stray leaves the status")
}

// An upload recorded as unused, then found by a restarted process's search and used
// for the batch (it is the newest upload of the input), is the batch's input, not a
// stray: it must not be deleted (fault seed 770359: a 404 to batches.create, the
// upload's deletion refused, a crash).
func TestAStrayThatBecameTheInputIsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("stray-reused", 1, emulator.ModelHang)
	f.create(b)
	upload, _ := f.earlierAttempt(b, false)
	b = f.getBatch("stray-reused")
	b.Status.UnusedUploads = []string{upload}
	f.g.Expect(f.c.Status().Update(f.ctx, b)).To(Succeed())
	f.startManager(testOptions(), nil)
	f.g.Eventually(func() string { return f.getBatch("stray-reused").Status.BatchID }, 20*time.Second, 50*time.Millisecond).ShouldNot(BeEmpty())
	f.g.Expect(f.remoteBatch(f.getBatch("stray-reused").Status.BatchID).InputFileID).To(Equal(upload), "the upload is reused")
	f.g.Eventually(func() []string { return f.getBatch("stray-reused").Status.UnusedUploads }, 10*time.Second, 50*time.Millisecond).
		Should(BeEmpty(), "the input leaves the list of unused uploads")
	f.g.Consistently(func() bool { return f.fileExists(upload) }, time.Second, 50*time.Millisecond).Should(BeTrue(), "the running batch's input stays")
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)), "nothing uploaded again")
}

// Case 8: an expired output file is reported once, not retried forever; results are
// stored once per finished batch.
func TestExpiredOutputFileIsReportedNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.inject(emulator.Injection{Op: emulator.OpFilesContent, Fault: emulator.FaultNotFound, Count: 1000})
	b := f.batch("expired", 1, "text-embedding-3-small")
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "expired-out"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonExpired))
	f.g.Consistently(func() int64 { return f.emu.Calls("files.content") }, 1500*time.Millisecond, 50*time.Millisecond).Should(Equal(int64(1)))
	f.g.Expect(f.getBatch("expired").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCompleted))
	f.emu.ClearInjections()
}

func TestResultsAreNotStoredAgainAfterAnUnrelatedSpecEdit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("once", 2, "text-embedding-3-small")
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "once-out"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	cm := &corev1.ConfigMap{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "once-out"}, cm)).To(Succeed())
	downloads := f.emu.Calls("files.content")
	f.g.Expect(f.c.Patch(f.ctx, f.getBatch("once"), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancelOnDelete":false}}`)))).To(Succeed())
	f.g.Eventually(func() int64 { return f.getBatch("once").Status.ObservedGeneration }, 10*time.Second).Should(Equal(int64(2)))
	f.g.Consistently(func() int64 { return f.emu.Calls("files.content") }, time.Second, 50*time.Millisecond).Should(Equal(downloads))
	after := &corev1.ConfigMap{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "once-out"}, after)).To(Succeed())
	f.g.Expect(after.ResourceVersion).To(Equal(cm.ResourceVersion), "the results are not rewritten")
}

// Case 9: a pass that ends in a terminal error observes the generation.
func TestObservedGenerationFollowsTerminalErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.createConfigMap("bad", map[string]string{"in.jsonl": "not json"})
	b := f.batch("bad-input", 0, "")
	b.Spec.Input = openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "bad", Key: "in.jsonl"}}
	f.create(b)
	r := f.response("bad-params", "gpt-5-mini", "hi")
	r.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{"model":"other"}`)}
	f.create(r)
	f.g.Eventually(f.failedCondition(b), 10*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonInvalidInput))
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionFailed), 10*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonInvalidInput))
	f.g.Eventually(func() int64 { return f.getBatch("bad-input").Status.ObservedGeneration }, 5*time.Second).Should(Equal(int64(1)))
	f.g.Eventually(func() int64 { return f.getResponse("bad-params").Status.ObservedGeneration }, 5*time.Second).Should(Equal(int64(1)))
}

// Case 10: OpenAI's words in an Event are never a format string.
func TestEventMessagesKeepPercentSigns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("percent", 2, "")
	b.Spec.Input.Requests[0].Body.Raw = []byte(`{"model":"model-a%d%s","input":"x"}`)
	b.Spec.Input.Requests[1].Body.Raw = []byte(`{"model":"model-b","input":"y"}`)
	f.create(b)
	f.g.Eventually(f.failedCondition(b), 20*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonFailed))
	f.g.Eventually(func() []string {
		var notes []string
		for _, e := range f.events("percent") {
			if e.Reason == string(openaiv1alpha1.BatchPhaseFailed) {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}, 10*time.Second).Should(ContainElement(SatisfyAll(ContainSubstring("model-a%d%s"), Not(ContainSubstring("%!")))))
}

// Case 11: a change of the credentials Secret wakes its resources; failed reads are
// cached.
func TestCredentialsSecretChangeWakesItsResources(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.RetryInterval = time.Hour // only the watch can wake them
	f := newFixture(t, fixtureOptions{opts: opts})
	b := f.batch("woken", 1, "text-embedding-3-small")
	b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "later"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSecretNotFound))
	f.createSecret("later", map[string]string{"apiKey": emulator.DefaultAPIKey})
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 15*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
}

// countingReader counts the Secret reads of the manager.
type countingReader struct {
	client.Reader
	secretGets atomic.Int64
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		r.secretGets.Add(1)
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

func TestWaitingResourcesDoNotEachReadTheirMissingSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	counter := &countingReader{}
	f.wrapReader = func(r client.Reader) client.Reader { counter.Reader = r; return counter }
	f.startManager(testOptions(), nil) // RetryInterval 200 ms
	for i := range 20 {
		b := f.batch(fmt.Sprintf("waiting-%02d", i), 1, "text-embedding-3-small")
		b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "missing"}
		f.create(b)
	}
	f.g.Eventually(func() int {
		list := &openaiv1alpha1.OpenAIBatchList{}
		f.g.Expect(f.c.List(f.ctx, list, client.InNamespace(f.ns))).To(Succeed())
		n := 0
		for _, b := range list.Items {
			if c := meta.FindStatusCondition(b.Status.Conditions, openaiv1alpha1.ConditionCredentialsReady); c != nil &&
				c.Reason == openaiv1alpha1.ReasonSecretNotFound {
				n++
			}
		}
		return n
	}, 10*time.Second, 50*time.Millisecond).Should(Equal(20))
	before := counter.secretGets.Load()
	time.Sleep(2 * time.Second)
	// At most one read per credentialsTTL (30 s) for the project; 20 resources retrying
	// every 200 ms would have read it about 200 times.
	t.Logf("Secret reads by 20 waiting resources in 2 s: %d", counter.secretGets.Load()-before)
	f.g.Expect(counter.secretGets.Load() - before).To(BeNumerically("<=", 1))
}

// Case 12: a receiver write during a pass does not repeat the pass's side effects.
func TestReceiverWritesDoNotRepeatSideEffects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	var configMapWrites atomic.Int64
	fired := map[string]bool{}
	var mu sync.Mutex
	n := 0
	// Just before the controller's write that records a side effect, the receiver
	// records a webhook event: the controller's optimistic lock fails.
	interfere := func(obj client.Object, patch client.Patch) {
		data, err := patch.Data(obj)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, marker := range []string{"cancellingAt", "ResultsStored"} {
			if !bytes.Contains(data, []byte(marker)) || fired[marker] {
				continue
			}
			fired[marker] = true
			n++
			ev, _ := json.Marshal(map[string]any{"status": map[string]any{"lastWebhookEvent": openaiv1alpha1.WebhookEvent{
				ID: fmt.Sprintf("evt_interfering_%d", n), Type: "batch.cancelled", CreatedAt: metav1.Now(), ReceivedAt: metav1.NowMicro()}}})
			target := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: obj.GetName()}}
			f.g.Expect(f.c.Status().Patch(f.ctx, target, client.RawPatch(types.MergePatchType, ev))).To(Succeed())
		}
	}
	f.startManager(testOptions(), func(c client.Client) client.Client {
		return interferingClient{Client: c, before: interfere, configMapWrites: &configMapWrites}
	})
	b := f.batch("busy", 2, "text-embedding-3-small")
	b.Spec.Input.Requests[1].Body.Raw = []byte(`{"model":"` + emulator.ModelHang + `","input":"x"}`)
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "busy-out"}
	f.create(b)
	f.g.Eventually(func() int64 {
		if rc := f.getBatch("busy").Status.RequestCounts; rc != nil {
			return rc.Completed
		}
		return 0
	}, 20*time.Second, 20*time.Millisecond).Should(Equal(int64(1)))
	b = f.getBatch("busy")
	b.Spec.Cancel = true
	f.g.Expect(f.c.Update(f.ctx, b)).To(Succeed())
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 20*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	f.g.Eventually(func() bool { return f.getBatch("busy").Status.InputFileDeleted }, 10*time.Second).Should(BeTrue())
	mu.Lock()
	f.g.Expect(fired).To(HaveLen(2), "the receiver wrote during both side effects")
	mu.Unlock()

	count := func(reason string) int {
		n := 0
		for _, r := range eventReasons(f.events("busy")) {
			if r == reason {
				n++
			}
		}
		return n
	}
	f.g.Expect(f.emu.Calls("batches.cancel")).To(Equal(int64(1)), "one cancel call")
	f.g.Expect(count("CancelRequested")).To(Equal(1))
	f.g.Expect(count("ResultsStored")).To(Equal(1))
	f.g.Expect(configMapWrites.Load()).To(Equal(int64(1)), "the results are written once")
	f.g.Expect(f.emu.Calls("files.content")).To(Equal(int64(1)), "the results are downloaded once")
}

// interferingClient calls before ahead of every status patch and counts ConfigMap writes.
type interferingClient struct {
	client.Client
	before          func(client.Object, client.Patch)
	configMapWrites *atomic.Int64
}

func (c interferingClient) Status() client.SubResourceWriter {
	return interferingStatus{SubResourceWriter: c.Client.Status(), before: c.before}
}

func (c interferingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if _, ok := obj.(*corev1.ConfigMap); ok {
		c.configMapWrites.Add(1)
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c interferingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if _, ok := obj.(*corev1.ConfigMap); ok {
		c.configMapWrites.Add(1)
	}
	return c.Client.Update(ctx, obj, opts...)
}

type interferingStatus struct {
	client.SubResourceWriter
	before func(client.Object, client.Patch)
}

func (w interferingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	w.before(obj, patch)
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// Responses: refusals after submission never end them either.
func TestResponseRefusalsAfterSubmissionNeverEndIt(t *testing.T) {
	cases := map[string]struct {
		in        emulator.Injection
		condition string
		reason    string
	}{
		"401 on read": {in: emulator.Injection{Op: emulator.OpResponsesRetrieve, Fault: emulator.FaultUnauthorized, Count: 3},
			condition: openaiv1alpha1.ConditionCredentialsReady, reason: openaiv1alpha1.ReasonUnauthorized},
		"404 on read": {in: emulator.Injection{Op: emulator.OpResponsesRetrieve, Fault: emulator.FaultNotFound, Count: 3},
			condition: openaiv1alpha1.ConditionObjectFound, reason: openaiv1alpha1.ReasonNotFound},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{emulator: emulator.Options{TimeScale: 0.5}})
			f.inject(tc.in)
			r := f.response("patient", "gpt-5-mini", "hi")
			f.create(r)
			f.g.Eventually(f.condition(r, tc.condition), 10*time.Second, 10*time.Millisecond).Should(haveStatus(metav1.ConditionFalse, tc.reason))
			f.g.Expect(f.condition(r, openaiv1alpha1.ConditionFailed)()).To(BeNil())
			f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue))
			f.g.Expect(f.condition(r, openaiv1alpha1.ConditionFailed)()).To(BeNil())
			f.g.Expect(f.condition(r, tc.condition)()).To(haveStatus(metav1.ConditionTrue))
			remote, err := f.sdk().Responses.Get(f.ctx, f.getResponse("patient").Status.ResponseID, responses.ResponseGetParams{})
			f.g.Expect(err).NotTo(HaveOccurred())
			f.g.Expect(remote.Status).To(Equal(responses.ResponseStatusCompleted))
			f.g.Expect(f.emu.Calls("responses.create")).To(Equal(int64(1)))
		})
	}
}

// An adoption whose status write is lost to another change reruns the pass: the rerun
// must record the adopted batch, not create a second one.
func TestAdoptionSurvivesALostStatusWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("adopted", 1, "text-embedding-3-small")
	f.create(b)
	_, batchID := f.earlierAttempt(b, true)
	f.emu.ResetStats()
	var once sync.Once
	f.startManager(testOptions(), func(c client.Client) client.Client {
		return interferingClient{Client: c, configMapWrites: &atomic.Int64{}, before: func(obj client.Object, patch client.Patch) {
			if data, err := patch.Data(obj); err != nil || !bytes.Contains(data, []byte(batchID)) {
				return
			}
			once.Do(func() {
				// Someone labels the resource meanwhile: a change the pass must not write over.
				target := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: obj.GetName()}}
				f.g.Expect(f.c.Patch(f.ctx, target, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"search"}}}`)))).
					To(Succeed())
			})
		}}
	})
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("adopted").Status.BatchID).To(Equal(batchID))
	f.g.Expect(f.emu.Calls("batches.create")).To(BeZero(), "the adopted batch is recorded, not created again")
}

// The same for a fine-tuning job: the adoption's status write is lost to another
// change, and the rerun (which may also read a cache that does not show the adoption
// yet) must record the adopted job, not create a second one, nor, when spec.cancel is
// set, end the resource as cancelled before it was submitted while the job runs on.
func TestFineTuningJobAdoptionSurvivesALostStatusWrite(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		cancel bool
	}{
		"running":             {},
		"cancelled meanwhile": {cancel: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{noManager: true})
			j := f.fineTuningJob("adopted", 10)
			j.Spec.Cancel = tc.cancel
			j = f.submittingJob(j)
			model := "gpt-4o-mini"
			if tc.cancel {
				model = emulator.ModelHang
			}
			earlier := f.createRemoteJob(j, model)
			f.emu.ResetStats()
			var once sync.Once
			f.startManager(testOptions(), func(c client.Client) client.Client {
				return interferingClient{Client: c, configMapWrites: &atomic.Int64{}, before: func(obj client.Object, patch client.Patch) {
					if data, err := patch.Data(obj); err != nil || !bytes.Contains(data, []byte(earlier.ID)) {
						return
					}
					once.Do(func() {
						target := &openaiv1alpha1.OpenAIFineTuningJob{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: obj.GetName()}}
						f.g.Expect(f.c.Patch(f.ctx, target, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"search"}}}`)))).To(Succeed())
					})
				}}
			})
			if tc.cancel {
				f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionFailed), 30*time.Second, 50*time.Millisecond).
					Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
				remote, err := f.sdk().FineTuning.Jobs.Get(f.ctx, earlier.ID)
				f.g.Expect(err).NotTo(HaveOccurred())
				f.g.Expect(remote.Status).To(Equal(openai.FineTuningJobStatusCancelled), "the adopted job is cancelled, not left running")
			} else {
				f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
			}
			f.g.Expect(f.getJob("adopted").Status.JobID).To(Equal(earlier.ID))
			f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(BeZero(), "the adopted job is recorded, not created again")
			f.g.Expect(f.remoteJobs(j)).To(HaveLen(1))
		})
	}
}

// TestDeletionFinishesWhenOpenAIAnswersTheCancel409: the batch ended on OpenAI after
// the status last read it, so the cancel on deletion is answered 409 (nothing to
// cancel). That is OpenAI saying the work is over, not a transient error: deletion
// must finish at once and delete the input, not retry until DeletionTimeout and give up.
func TestDeletionFinishesWhenOpenAIAnswersTheCancel409(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.DeletionTimeout = time.Minute
	f := newFixture(t, fixtureOptions{opts: opts})
	b := f.batch("ended", 2, emulator.ModelHang)
	f.create(b)
	b = f.waitPhase("ended", openaiv1alpha1.BatchPhaseInProgress)
	f.g.Expect(f.emu.Inject(emulator.Injection{Op: emulator.OpBatchesCancel, Fault: emulator.FaultConflict, Count: 1000})).To(Succeed())
	f.g.Expect(f.c.Delete(f.ctx, b)).To(Succeed())
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{}))
	}, 10*time.Second, 50*time.Millisecond).Should(BeTrue(), "the deletion must finish")
	f.g.Expect(eventReasons(f.events("ended"))).NotTo(ContainElement("CleanupAbandoned"))
	f.g.Expect(f.emu.Calls("batches.cancel")).To(BeNumerically("<=", 2), "a 409 is not retried")
	_, err := f.sdk().Files.Get(f.ctx, b.Status.InputFileID)
	f.g.Expect(err).To(HaveOccurred(), "the uploaded input must be deleted")
}

// A 404 to batches.create reads as "the upload is gone" and the input is uploaded again;
// when the first upload was there after all, nothing used it and it stayed on OpenAI
// (fault schedule seed 500155). Every upload of the resource is gone once the batch ended.
func TestUploadForgottenAfterA404OnCreateIsDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.inject(emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultNotFound, Count: 1})
	b := f.batch("reupload", 1, "text-embedding-3-small")
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Eventually(func() bool { return f.getBatch("reupload").Status.InputFileDeleted }, 10*time.Second, 50*time.Millisecond).Should(BeTrue())
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(2)), "the input was uploaded again after the 404")
	f.g.Eventually(func() []string { return f.filesNamed(inputFileName(f.getBatch("reupload"))) }, 10*time.Second, 50*time.Millisecond).
		Should(BeEmpty(),
			"no upload of the resource is left on OpenAI")
}

// A response deleted while an earlier create call's outcome is unknown cannot be found
// (responses cannot be listed) nor cancelled: the deletion says so in an OutcomeUnknown
// Warning rather than letting it go silently (fault schedule seed 710102).
func TestResponseDeletedDuringSubmittingWarnsThatTheOutcomeIsUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	r := f.response("gone", "gpt-5-mini", "hi")
	r.Finalizers = []string{Finalizer}
	f.create(r)
	r = f.getResponse("gone")
	r.Status.Phase = openaiv1alpha1.ResponsePhaseSubmitting
	f.g.Expect(f.c.Status().Update(f.ctx, r)).To(Succeed())
	f.g.Expect(f.c.Delete(f.ctx, r)).To(Succeed())
	f.startManager(testOptions(), nil)
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(f.c.Get(f.ctx, client.ObjectKeyFromObject(r), &openaiv1alpha1.OpenAIResponse{}))
	}, 20*time.Second, 20*time.Millisecond).Should(BeTrue(), "the deletion is not held up")
	f.g.Eventually(func() []string { return eventReasons(f.events("gone")) }, 5*time.Second).Should(ContainElement("OutcomeUnknown"))
	f.g.Expect(f.emu.Calls("responses.create")).To(BeZero())
}

// A batch OpenAI refused whose upload could not be deleted at once still gets its upload
// deleted: the refusal ends the resource with a terminal error, which is never retried,
// so the pass asks to run again while an upload is left (fault schedule seed
// 989781674565: a 400 to batches.create, then a 400 to deleting the upload).
func TestRefusedBatchStillDeletesItsUpload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.inject(emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultBadRequest, Count: 1})
	f.inject(emulator.Injection{Op: emulator.OpFilesDelete, Fault: emulator.FaultBadRequest, Count: 1})
	b := f.batch("refused", 1, "text-embedding-3-small")
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionFailed), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonRejected))
	f.g.Eventually(func() []string { return f.filesNamed(inputFileName(f.getBatch("refused"))) }, 10*time.Second, 50*time.Millisecond).
		Should(BeEmpty(), "the upload of the refused batch is left on OpenAI")
	f.g.Eventually(func() bool { return f.getBatch("refused").Status.InputFileDeleted }, 10*time.Second, 50*time.Millisecond).Should(BeTrue())
	f.g.Expect(f.emu.Calls(emulator.OpBatchesCreate)).To(Equal(int64(1)), "a refused batch is not submitted again")
}

// refuseWhileEditing stands a proxy between the manager and the emulator that answers
// the nth call to "METHOD /path" with a 400, after flipping the resource's
// cancelOnDelete (cur, with field pointing into it) the way a user might while the pass
// waits, and giving the manager's cache time to see the edit. It returns credentials
// through the proxy, the count of calls to that route and of the edits that landed.
func (f *fixture) refuseWhileEditing(
	call string, nth int64, cur client.Object, field func() **bool,
) (creds *openaiv1alpha1.CredentialsReference, calls, edits *atomic.Int64) {
	target, err := url.Parse(f.emu.URL())
	f.g.Expect(err).NotTo(HaveOccurred())
	target.Path = ""
	rp := httputil.NewSingleHostReverseProxy(target)
	calls, edits = &atomic.Int64{}, &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method+" "+r.URL.Path != call || calls.Add(1) != nth {
			rp.ServeHTTP(w, r)
			return
		}
		if f.c.Get(f.ctx, client.ObjectKeyFromObject(cur), cur) == nil {
			p := field()
			*p = ptr.To(!ptr.Deref(*p, true))
			if f.c.Update(f.ctx, cur) == nil {
				edits.Add(1)
			}
		}
		time.Sleep(200 * time.Millisecond) // the edit reaches the manager's cache first
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"message":"Invalid request.","type":"invalid_request_error","param":null,"code":null}}`))
	}))
	f.t.Cleanup(srv.Close)
	f.createSecret("proxied", map[string]string{"apiKey": emulator.DefaultAPIKey, "baseURL": srv.URL + "/v1/"})
	return &openaiv1alpha1.CredentialsReference{Name: "proxied"}, calls, edits
}

// OpenAI refuses the batch while a spec edit lands, so the status write that ends the
// resource conflicts and the pass runs again from the stored state (still Submitting)
// after it already deleted the upload. The refusal must stand: the pass that runs again
// neither uploads the input again nor asks OpenAI for the batch it refused.
func TestBatchRefusalStandsWhenItsStatusWriteIsLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cur := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "refused"}}
	creds, creates, edits := f.refuseWhileEditing("POST /v1/batches", 1, cur, func() **bool { return &cur.Spec.CancelOnDelete })
	b := f.batch("refused", 2, "text-embedding-3-small")
	b.Spec.CredentialsRef = creds
	f.create(b)

	f.g.Eventually(func() bool { return f.getBatch("refused").Status.InputFileDeleted }, 30*time.Second, 50*time.Millisecond).Should(BeTrue())
	f.g.Expect(edits.Load()).To(Equal(int64(1)), "the spec edit raced the refused create")
	// Passes that would submit again come soon after the conflict; give them time.
	f.g.Consistently(creates.Load, 2*time.Second, 100*time.Millisecond).Should(Equal(int64(1)), "a refused batch is not submitted again")
	b = f.getBatch("refused")
	f.g.Expect(b.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseFailed))
	f.g.Expect(b.Status.Message).To(HavePrefix("creating the batch: OpenAI answered 400"), "the refusal that ended it")
	f.g.Expect(b.Status.BatchID).To(BeEmpty())
	f.g.Expect(f.emu.Calls(emulator.OpFilesCreate)).To(Equal(int64(1)), "the input is not uploaded again")
	f.g.Expect(f.filesNamed(inputFileName(b))).To(BeEmpty(), "the upload is deleted")
}

// The same for a response: OpenAI refuses the create while a spec edit lands; the pass
// that runs again from the stored state (Submitting) does not ask OpenAI again.
func TestResponseRefusalStandsWhenItsStatusWriteIsLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cur := &openaiv1alpha1.OpenAIResponse{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "refused"}}
	creds, creates, edits := f.refuseWhileEditing("POST /v1/responses", 1, cur, func() **bool { return &cur.Spec.CancelOnDelete })
	resp := f.response("refused", "gpt-4o-mini", "hello")
	resp.Spec.CredentialsRef = creds
	f.create(resp)

	f.g.Eventually(func() openaiv1alpha1.ResponsePhase { return f.getResponse("refused").Status.Phase }, 30*time.Second, 50*time.Millisecond).
		Should(Equal(openaiv1alpha1.ResponsePhaseFailed))
	f.g.Expect(edits.Load()).To(Equal(int64(1)), "the spec edit raced the refused create")
	f.g.Consistently(creates.Load, 2*time.Second, 100*time.Millisecond).Should(Equal(int64(1)), "a refused response is not created again")
	resp = f.getResponse("refused")
	f.g.Expect(resp.Status.Phase).To(Equal(openaiv1alpha1.ResponsePhaseFailed))
	f.g.Expect(resp.Status.Message).To(HavePrefix("creating the response: OpenAI answered 400"))
	f.g.Expect(resp.Status.ResponseID).To(BeEmpty())
}
