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
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

func TestBatchCompletesForEachInputSource(t *testing.T) {
	const endpoint = "/v1/embeddings"
	jsonl := func(ids ...string) string {
		var b strings.Builder
		for _, id := range ids {
			fmt.Fprintf(
				&b,
				`{"custom_id":%q,"method":"POST","url":%q,"body":{"model":"text-embedding-3-small","input":"text of %s"}}`+"\n",
				id,
				endpoint,
				id,
			)
		}
		return b.String()
	}
	cases := map[string]struct {
		arrange func(f *fixture) openaiv1alpha1.BatchInput
		results openaiv1alpha1.ResultsKind
		ids     []string
		// ownsInput: the operator uploaded the input, so it deletes it at the end.
		ownsInput bool
	}{
		"inline requests": {
			arrange: func(f *fixture) openaiv1alpha1.BatchInput {
				return f.batch("x", 3, "text-embedding-3-small").Spec.Input
			},
			results: openaiv1alpha1.ResultsKindConfigMap, ids: []string{"req-0", "req-1", "req-2"}, ownsInput: true,
		},
		"ConfigMap key": {
			arrange: func(f *fixture) openaiv1alpha1.BatchInput {
				f.createConfigMap("requests", map[string]string{"batch.jsonl": jsonl("a", "b")})
				return openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "requests", Key: "batch.jsonl"}}
			},
			results: openaiv1alpha1.ResultsKindSecret, ids: []string{"a", "b"}, ownsInput: true,
		},
		"Secret key": {
			arrange: func(f *fixture) openaiv1alpha1.BatchInput {
				f.createSecret("requests", map[string]string{"batch.jsonl": jsonl("s1")})
				return openaiv1alpha1.BatchInput{SecretKeyRef: &openaiv1alpha1.KeyReference{Name: "requests", Key: "batch.jsonl"}}
			},
			results: openaiv1alpha1.ResultsKindConfigMap, ids: []string{"s1"}, ownsInput: true,
		},
		"existing file": {
			arrange: func(f *fixture) openaiv1alpha1.BatchInput {
				file, err := f.sdk().Files.New(f.ctx, openai.FileNewParams{
					File: openai.File(strings.NewReader(jsonl("f1", "f2")), "mine.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch,
				})
				f.g.Expect(err).NotTo(HaveOccurred())
				return openaiv1alpha1.BatchInput{FileID: file.ID}
			},
			results: openaiv1alpha1.ResultsKindConfigMap, ids: []string{"f1", "f2"}, ownsInput: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			g := f.g
			b := f.batch("embeddings", 0, "")
			b.Spec.Input = tc.arrange(f)
			b.Spec.Metadata = map[string]string{"team": "search"}
			b.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: tc.results, Name: "embeddings-out"}
			f.create(b)

			g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCompleted))
			g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 10*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonStored))
			b = f.getBatch("embeddings")
			g.Expect(b.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCompleted))
			g.Expect(b.Status.BatchID).To(HavePrefix("batch_"))
			g.Expect(b.Status.Progress).To(Equal(fmt.Sprintf("%d/%d", len(tc.ids), len(tc.ids))))
			g.Expect(b.Status.RequestCounts).To(Equal(&openaiv1alpha1.RequestCounts{Total: int64(len(tc.ids)), Completed: int64(len(tc.ids))}))
			g.Expect(b.Status.Usage).NotTo(BeNil())
			g.Expect(b.Status.Usage.TotalTokens).To(BeNumerically(">", 0))
			g.Expect(b.Status.CompletedAt).NotTo(BeNil())
			g.Expect(b.Status.ObservedGeneration).To(Equal(b.Generation))

			// OpenAI has the batch, tagged with this resource and the user's metadata.
			remote, err := f.sdk().Batches.Get(f.ctx, b.Status.BatchID)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(remote.Metadata).To(HaveKeyWithValue("team", "search"))
			g.Expect(remote.Metadata).To(HaveKeyWithValue(openaiv1alpha1.ResourceMetadataKey, f.ns+"/embeddings/"+string(b.UID)))

			// The results object is owned by the batch and holds one output line per request.
			var output string
			var owner client.Object
			if tc.results == openaiv1alpha1.ResultsKindSecret {
				s := &corev1.Secret{}
				g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "embeddings-out"}, s)).To(Succeed())
				output, owner = string(s.Data["output.jsonl"]), s
			} else {
				cm := &corev1.ConfigMap{}
				g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "embeddings-out"}, cm)).To(Succeed())
				output, owner = cm.Data["output.jsonl"], cm
			}
			g.Expect(metav1.IsControlledBy(owner, b)).To(BeTrue(), "results must be owned by the batch")
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(output), "\n") {
				var out struct {
					CustomID string `json:"custom_id"`
					Response struct {
						StatusCode int `json:"status_code"`
					} `json:"response"`
				}
				g.Expect(json.Unmarshal([]byte(line), &out)).To(Succeed())
				g.Expect(out.Response.StatusCode).To(Equal(200))
				got = append(got, out.CustomID)
			}
			g.Expect(got).To(ConsistOf(tc.ids))

			// The uploaded input is deleted at the end; a file the user gave is kept.
			_, err = f.sdk().Files.Get(f.ctx, b.Status.InputFileID)
			if tc.ownsInput {
				g.Eventually(func() bool { return f.getBatch("embeddings").Status.InputFileDeleted }, 10*time.Second, 50*time.Millisecond).
					Should(BeTrue())
				_, err = f.sdk().Files.Get(f.ctx, b.Status.InputFileID)
				g.Expect(err).To(HaveOccurred())
			} else {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(f.getBatch("embeddings").Status.InputFileDeleted).To(BeFalse())
			}
			g.Expect(eventReasons(f.events("embeddings"))).To(ContainElements("Submitted", "Completed", "ResultsStored"))
		})
	}
}

func TestBatchFailedRequestsGoToErrorsKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("mixed", 2, "text-embedding-3-small")
	b.Spec.Input.Requests[1].Body.Raw = []byte(`{"model":"` + emulator.ModelFail + `","input":"x"}`)
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "mixed-out"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	b = f.getBatch("mixed")
	f.g.Expect(b.Status.RequestCounts).To(Equal(&openaiv1alpha1.RequestCounts{Total: 2, Completed: 1, Failed: 1}))
	cm := &corev1.ConfigMap{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "mixed-out"}, cm)).To(Succeed())
	f.g.Expect(cm.Data["output.jsonl"]).To(ContainSubstring(`"custom_id":"req-0"`))
	f.g.Expect(cm.Data["errors.jsonl"]).To(ContainSubstring(`"custom_id":"req-1"`))
}

func TestBatchWebhookDrivesCompletionWithoutPolling(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = 3*time.Hour, 3*time.Hour
	f := newFixture(t, fixtureOptions{opts: opts})
	mr := f.startMiniReceiver()
	b := f.batch("hooked", 3, "text-embedding-3-small")
	f.create(b)

	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	completeSeen := time.Now()
	b = f.getBatch("hooked")
	recorded, ok := mr.recordedAt(b.Status.BatchID)
	f.g.Expect(ok).To(BeTrue(), "the webhook event must have been recorded")
	f.g.Expect(completeSeen.Sub(recorded)).To(BeNumerically("<", 2*time.Second), "Complete must follow the event within 2 s")
	f.g.Expect(b.Status.HandledWebhookEventID).To(Equal(b.Status.LastWebhookEvent.ID))

	// At most 5 calls: upload, create, one read after the event, output download, input delete.
	f.g.Eventually(func() bool { return f.getBatch("hooked").Status.InputFileDeleted }, 10*time.Second).Should(BeTrue())
	calls := f.emu.Stats().Calls
	total := totalCalls(calls)
	f.g.Expect(calls["files.create"]).To(Equal(int64(1)))
	f.g.Expect(calls["batches.create"]).To(Equal(int64(1)))
	f.g.Expect(calls["batches.retrieve"]).To(Equal(int64(1)))
	f.g.Expect(calls["files.delete"]).To(Equal(int64(1)))
	f.g.Expect(total).To(BeNumerically("<=", 5), "API calls: %v", calls)
}

func TestBatchCompletesByPollingWithoutWebhooks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("polled", 3, "text-embedding-3-small")
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	b = f.getBatch("polled")
	f.g.Expect(b.Status.LastWebhookEvent).To(BeNil())
	f.g.Expect(f.emu.Calls("batches.retrieve")).To(BeNumerically(">=", 1))
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)))
}

func TestBatchCrashAfterCreateAdoptsInsteadOfDuplicating(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	crashed, stopFirst := f.startCrashingManager(func(obj client.Object) bool {
		b, ok := obj.(*openaiv1alpha1.OpenAIBatch)
		return ok && b.Status.BatchID != ""
	})
	b := f.batch("crashy", 2, "text-embedding-3-small")
	f.create(b)
	f.g.Eventually(crashed, 20*time.Second, 20*time.Millisecond).Should(BeTrue())
	stopFirst()
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)))
	f.g.Expect(f.getBatch("crashy").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseSubmitting))
	f.g.Expect(f.getBatch("crashy").Status.BatchID).To(BeEmpty())

	// A new process adopts the batch the first one created.
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)), "no second batch may be created")
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)), "the uploaded input is reused")
	f.g.Eventually(f.reasons("crashy"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Adopted"))
}

func TestBatchUploadedButNotCreatedReusesTheInputFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("half", 1, "text-embedding-3-small")
	f.create(b)
	b = f.getBatch("half")
	// What a process that died between upload and create leaves: intent recorded, the
	// input uploaded under its deterministic name, no batch.
	jsonl := `{"custom_id":"req-0","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"document 0"}}` + "\n"
	_, err := f.sdk().Files.New(
		f.ctx,
		openai.FileNewParams{File: openai.File(strings.NewReader(jsonl), inputFileName(b), "application/jsonl"), Purpose: openai.FilePurposeBatch},
	)
	f.g.Expect(err).NotTo(HaveOccurred())
	b.Status.Phase = openaiv1alpha1.BatchPhaseSubmitting
	f.g.Expect(f.c.Status().Update(f.ctx, b)).To(Succeed())

	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)), "the earlier upload is reused")
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)))
}

func TestBatchWaitsForMissingSecretThenRecovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("patient", 1, "text-embedding-3-small")
	b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "late-credentials"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSecretNotFound),
		HaveField("Message", ContainSubstring(`Secret "late-credentials" not found`)),
	))
	f.g.Expect(f.getBatch("patient").Status.Phase).To(Equal(openaiv1alpha1.BatchPhasePending))
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionSubmitted), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonPending),
		HaveField("Message", Equal("Waiting for credentials")),
	))

	f.createSecret("late-credentials", map[string]string{"organization": "org-1"})
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonKeyNotFound),
		HaveField("Message", ContainSubstring(`has no "apiKey" key`)),
	))

	s := &corev1.Secret{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "late-credentials"}, s)).To(Succeed())
	s.StringData = map[string]string{"apiKey": emulator.DefaultAPIKey}
	f.g.Expect(f.c.Update(f.ctx, s)).To(Succeed())
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.condition(b, openaiv1alpha1.ConditionCredentialsReady)()).To(haveStatus(metav1.ConditionTrue))
}

// A key OpenAI refuses is an access problem, not a refusal of the work: the batch
// waits (with backoff, saying why), never ends, never leaks the key, and goes on by
// itself once the Secret holds a key OpenAI accepts.
func TestBatchRefusedKeyWaitsWithoutEndingOrLeakingIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	const badKey = "sk-wrong-key-0123456789abcdef"
	f.createSecret("bad-credentials", map[string]string{"apiKey": badKey})
	b := f.batch("denied", 1, "text-embedding-3-small")
	b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "bad-credentials"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonUnauthorized),
		HaveField("Message", ContainSubstring("401 (invalid_api_key)")),
	))
	b = f.getBatch("denied")
	f.g.Expect(b.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseSubmitting), "it waits with its intent recorded")
	f.g.Expect(meta.FindStatusCondition(b.Status.Conditions, openaiv1alpha1.ConditionFailed)).To(BeNil())
	status, _ := json.Marshal(b.Status)
	f.g.Expect(string(status)).NotTo(ContainSubstring(badKey[:12]), "status must not carry the key or a fragment of it")
	for _, e := range f.events("denied") {
		f.g.Expect(e.Note).NotTo(ContainSubstring(badKey[:12]))
	}
	f.g.Eventually(f.reasons("denied"), 10*time.Second, 50*time.Millisecond).Should(ContainElement(openaiv1alpha1.ReasonUnauthorized))

	// It backs off: 50 ms doubling up to 1 s makes at most 6 calls in 2 s (a fixed
	// retry every 50 ms would make 40).
	before := f.emu.Stats().Faults.Unauthorized
	time.Sleep(2 * time.Second)
	t.Logf("401 answers in 2 s of backoff: %d", f.emu.Stats().Faults.Unauthorized-before)
	f.g.Expect(f.emu.Stats().Faults.Unauthorized - before).To(BeNumerically("<=", 6))

	s := &corev1.Secret{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "bad-credentials"}, s)).To(Succeed())
	s.StringData = map[string]string{"apiKey": emulator.DefaultAPIKey}
	f.g.Expect(f.c.Update(f.ctx, s)).To(Succeed())
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.condition(b, openaiv1alpha1.ConditionCredentialsReady)()).To(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)))
}

func TestBatchInvalidInputFailsBeforeAnythingIsSpent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.createConfigMap("bad", map[string]string{"in.jsonl": `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}`})
	b := f.batch("wrong-url", 0, "")
	b.Spec.Input = openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "bad", Key: "in.jsonl"}}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionFailed), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonInvalidInput),
		HaveField("Message", ContainSubstring(`line 1: url is "/v1/chat/completions" but the batch endpoint is "/v1/embeddings"`)),
	))
	f.g.Expect(totalCalls(f.emu.Stats().Calls)).To(BeZero())
}

func TestBatchWaitsForMissingInputConfigMap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("later", 0, "")
	b.Spec.Input = openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "later-input", Key: "in.jsonl"}}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionSubmitted), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonInputNotFound),
		HaveField("Message", ContainSubstring(`ConfigMap "later-input" not found`)),
	))
	f.createConfigMap(
		"later-input",
		map[string]string{"in.jsonl": `{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}`},
	)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
}

func TestBatchSurvivesARateLimitStorm(t *testing.T) {
	t.Parallel()
	f := newFixture(
		t,
		fixtureOptions{emulator: emulator.Options{Faults: emulator.Faults{RateLimitRate: 0.6, RetryAfter: 50 * time.Millisecond}, Seed: 7}},
	)
	var names []string
	for i := range 5 {
		name := fmt.Sprintf("storm-%d", i)
		names = append(names, name)
		f.create(f.batch(name, 2, "text-embedding-3-small"))
	}
	for _, name := range names {
		b := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}}
		f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 60*time.Second, 100*time.Millisecond).
			Should(haveStatus(metav1.ConditionTrue))
	}
	stats := f.emu.Stats()
	f.g.Expect(stats.Faults.RateLimited).To(BeNumerically(">", 0), "the storm must have hit")
	f.emu.SetFaults(emulator.Faults{})
	page, err := f.sdk().Batches.List(f.ctx, openai.BatchListParams{Limit: openai.Int(100)})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(page.Data).To(HaveLen(len(names)), "exactly one batch per resource")
}

func TestBatchCancelViaSpec(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("stopme", 2, emulator.ModelHang)
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "stopme-out"}
	f.create(b)
	f.g.Eventually(func() openaiv1alpha1.BatchPhase { return f.getBatch("stopme").Status.Phase }, 20*time.Second, 50*time.Millisecond).
		Should(Equal(openaiv1alpha1.BatchPhaseInProgress))
	b = f.getBatch("stopme")
	f.edit(b, func() { b.Spec.Cancel = true })
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionFailed), 20*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
	b = f.getBatch("stopme")
	f.g.Expect(b.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCancelled))
	f.g.Expect(b.Status.CancelledAt).NotTo(BeNil())
	remote, err := f.sdk().Batches.Get(f.ctx, b.Status.BatchID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.Status).To(Equal(openai.BatchStatusCancelled))
	f.g.Eventually(f.reasons("stopme"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("CancelRequested"))
}

func TestBatchCancelledOnDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("doomed", 2, emulator.ModelHang)
	f.create(b)
	f.g.Eventually(func() openaiv1alpha1.BatchPhase { return f.getBatch("doomed").Status.Phase }, 20*time.Second, 50*time.Millisecond).
		Should(Equal(openaiv1alpha1.BatchPhaseInProgress))
	b = f.getBatch("doomed")
	f.g.Expect(b.Finalizers).To(ContainElement(Finalizer))
	f.g.Expect(f.c.Delete(f.ctx, b)).To(Succeed())
	f.g.Eventually(func() bool {
		return client.IgnoreNotFound(f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{})) == nil &&
			f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{}) != nil
	}, 20*time.Second, 50*time.Millisecond).Should(BeTrue(), "the resource must go away")
	remote, err := f.sdk().Batches.Get(f.ctx, b.Status.BatchID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.Status).To(BeElementOf(openai.BatchStatusCancelling, openai.BatchStatusCancelled))
	_, err = f.sdk().Files.Get(f.ctx, b.Status.InputFileID)
	f.g.Expect(err).To(HaveOccurred(), "the uploaded input must be deleted")
}

func TestBatchKeptRunningWhenCancelOnDeleteIsOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("orphan", 1, emulator.ModelHang)
	b.Spec.CancelOnDelete = ptr.To(false)
	f.create(b)
	f.g.Eventually(func() string { return f.getBatch("orphan").Status.BatchID }, 20*time.Second, 50*time.Millisecond).ShouldNot(BeEmpty())
	b = f.getBatch("orphan")
	f.g.Expect(f.c.Delete(f.ctx, b)).To(Succeed())
	f.g.Eventually(func() error { return f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{}) }, 20*time.Second).
		ShouldNot(Succeed())
	remote, err := f.sdk().Batches.Get(f.ctx, b.Status.BatchID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.Status).To(BeElementOf(openai.BatchStatusValidating, openai.BatchStatusInProgress))
}

func TestBatchDeletionDoesNotHangWithoutCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	stop := f.startManager(testOptions(), nil)
	b := f.batch("stranded", 1, emulator.ModelHang)
	b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "temporary"}
	f.createSecret("temporary", map[string]string{"apiKey": emulator.DefaultAPIKey})
	f.create(b)
	f.g.Eventually(func() string { return f.getBatch("stranded").Status.BatchID }, 20*time.Second, 50*time.Millisecond).ShouldNot(BeEmpty())
	// The Secret goes away, and the manager restarts (so it has no recent read of it).
	stop()
	f.g.Expect(f.c.Delete(f.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "temporary"}})).To(Succeed())
	f.startManager(testOptions(), nil)
	f.g.Expect(f.c.Delete(f.ctx, b)).To(Succeed())
	f.g.Eventually(func() error { return f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{}) }, 10*time.Second).
		ShouldNot(Succeed())
	f.g.Eventually(f.reasons("stranded"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("CleanupAbandoned"))
}

func TestBatchDeletionGivesUpWhenTheAPIKeepsFailing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("unreachable", 1, emulator.ModelHang)
	f.create(b)
	f.g.Eventually(func() string { return f.getBatch("unreachable").Status.BatchID }, 20*time.Second, 50*time.Millisecond).ShouldNot(BeEmpty())
	f.emu.SetFaults(emulator.Faults{ServerErrorRate: 1})
	start := time.Now()
	f.g.Expect(f.c.Delete(f.ctx, f.getBatch("unreachable"))).To(Succeed())
	f.g.Eventually(func() error {
		return f.c.Get(f.ctx, client.ObjectKeyFromObject(b), &openaiv1alpha1.OpenAIBatch{})
	}, 20*time.Second, 50*time.Millisecond).ShouldNot(Succeed())
	f.g.Expect(time.Since(start)).To(BeNumerically(">=", testOptions().DeletionTimeout-time.Second), "it retries for DeletionTimeout first")
	f.g.Eventually(f.reasons("unreachable"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("CleanupAbandoned"))
}

func TestBatchResultsNeverOverwriteSomeoneElsesObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.createConfigMap("taken", map[string]string{"keep": "me"})
	b := f.batch("polite", 1, "text-embedding-3-small")
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "taken"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonTargetConflict))
	cm := &corev1.ConfigMap{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "taken"}, cm)).To(Succeed())
	f.g.Expect(cm.Data).To(Equal(map[string]string{"keep": "me"}))

	// Pointing results elsewhere (a control field) stores them there.
	b = f.getBatch("polite")
	f.edit(b, func() { b.Spec.Results.Name = "polite-out" })
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
}

func TestNextPollDoublesWithAgeWithinBounds(t *testing.T) {
	g := NewWithT(t)
	t0 := time.Unix(1_000_000, 0)
	lo, hi := 10*time.Second, 10*time.Minute
	g.Expect(nextPoll(t0, t0.Add(time.Second), lo, hi)).To(Equal(t0.Add(11 * time.Second)))
	g.Expect(nextPoll(t0, t0.Add(40*time.Second), lo, hi)).To(Equal(t0.Add(80 * time.Second)))
	g.Expect(nextPoll(t0, t0.Add(time.Hour), lo, hi)).To(Equal(t0.Add(time.Hour + 10*time.Minute)))
}

func totalCalls(calls map[string]int64) int64 {
	var total int64
	for _, n := range calls {
		total += n
	}
	return total
}

// failingStatusWrites fails the status writes that fail chooses, as a crash or an
// unavailable API server would.
type failingStatusWrites struct {
	client.Client
	fail func(client.Object) error
}

func (c failingStatusWrites) Status() client.SubResourceWriter {
	return failingSubResource{SubResourceWriter: c.Client.Status(), fail: c.fail}
}

type failingSubResource struct {
	client.SubResourceWriter
	fail func(client.Object) error
}

func (w failingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if err := w.fail(obj); err != nil {
		return err
	}
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// startCrashingManager runs a manager that "crashes" at the first status write for
// which recordsID is true (the write that would record an OpenAI id): it fails that
// write and every status write after it, and stops, as a killed process would, after
// OpenAI created the object. crashed reports whether it happened; stop waits for the
// manager to be gone.
func (f *fixture) startCrashingManager(recordsID func(client.Object) bool) (crashed func() bool, stop func()) {
	var hit atomic.Bool
	stop = f.startManager(testOptions(), func(c client.Client) client.Client {
		return failingStatusWrites{Client: c, fail: func(obj client.Object) error {
			if hit.Load() {
				// Dead: the pass that runs again before the manager has stopped (its
				// memory of the create is still there) must not record the id either.
				return fmt.Errorf("simulated crash: the process is gone")
			}
			if recordsID(obj) && hit.CompareAndSwap(false, true) {
				go stop()
				return fmt.Errorf("simulated crash before the id was recorded")
			}
			return nil
		}}
	})
	return hit.Load, stop
}

func TestBatchResultsTooLargeStayOnOpenAI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b := f.batch("huge", 150, "text-embedding-3-small")
	for i := range b.Spec.Input.Requests {
		// 1,000 dimensions make each output line about 10 KB: 1.5 MB in all.
		b.Spec.Input.Requests[i].Body.Raw = []byte(fmt.Sprintf(`{"model":"text-embedding-3-small","input":"document %d","dimensions":1000}`, i))
	}
	b.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "huge-out"}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionResultsStored), 60*time.Second, 100*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonTooLarge),
		HaveField("Message", ContainSubstring("the results stay on OpenAI")),
	))
	b = f.getBatch("huge")
	f.g.Expect(b.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCompleted))
	f.g.Expect(b.Status.OutputFileID).To(HavePrefix("file-"))
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "huge-out"}, &corev1.ConfigMap{})).NotTo(Succeed())
	// Refused for good at this generation: no further downloads.
	downloads := f.emu.Calls("files.content")
	f.g.Consistently(func() int64 { return f.emu.Calls("files.content") }, time.Second, 100*time.Millisecond).Should(Equal(downloads))
}

func TestBatchPollsOnlyAsASafetyNetOnceWebhooksArrive(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.WebhookPollIntervalMin, opts.WebhookPollIntervalMax, opts.WebhookTrustWindow = time.Hour, time.Hour, time.Hour
	f := newFixture(t, fixtureOptions{opts: opts})
	mr := f.startMiniReceiver()

	// The first batch of the project polls on the short schedule: no event has arrived yet.
	first := f.batch("first", 1, "text-embedding-3-small")
	f.create(first)
	f.g.Eventually(f.condition(first, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	// Polling may see the end before the receiver records the event.
	f.g.Eventually(func() *openaiv1alpha1.WebhookEvent { return f.getBatch("first").Status.LastWebhookEvent }, 10*time.Second, 20*time.Millisecond).
		ShouldNot(BeNil())

	// Events arrive for this project now: the next batch is read once, when its event comes.
	before := f.emu.Calls("batches.retrieve")
	second := f.batch("second", 3, "text-embedding-3-small")
	f.create(second)
	f.g.Eventually(f.condition(second, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("batches.retrieve")-before).To(Equal(int64(1)), "one read, triggered by the webhook")

	// Another project (credentials Secret) has seen no event: it keeps the short schedule
	// and completes by polling alone.
	f.emu.RemoveWebhookURL(mr.srv.URL)
	f.createSecret("other-project", map[string]string{"apiKey": emulator.DefaultAPIKey})
	other := f.batch("other", 1, "text-embedding-3-small")
	other.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "other-project"}
	f.create(other)
	f.g.Eventually(f.condition(other, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("other").Status.LastWebhookEvent).To(BeNil())
}
