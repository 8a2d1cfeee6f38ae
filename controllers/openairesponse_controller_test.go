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
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3/responses"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

func TestResponseCompletesForEachInputForm(t *testing.T) {
	cases := map[string]struct {
		input      openaiv1alpha1.ResponseInput
		wantOutput string
	}{
		"text": {input: openaiv1alpha1.ResponseInput{Text: "hello operator"}, wantOutput: emulator.EchoPrefix + "hello operator"},
		"items": {input: openaiv1alpha1.ResponseInput{Items: []runtime.RawExtension{
			{Raw: []byte(`{"role":"user","content":"hello items"}`)},
		}}, wantOutput: "hello items"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			g := f.g
			r := f.response("answer", "gpt-5-mini", "")
			r.Spec.Input = tc.input
			r.Spec.Instructions = "Be brief."
			r.Spec.Metadata = map[string]string{"ticket": "42"}
			r.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{"temperature":0.5,"text":{"format":{"type":"text"}}}`)}
			r.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "answer-out"}
			f.create(r)

			g.Eventually(f.condition(r, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCompleted))
			g.Eventually(f.condition(r, openaiv1alpha1.ConditionResultsStored), 10*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue))
			r = f.getResponse("answer")
			g.Expect(r.Status.Phase).To(Equal(openaiv1alpha1.ResponsePhaseCompleted))
			g.Expect(r.Status.ResponseID).To(HavePrefix("resp_"))
			g.Expect(r.Status.OutputText).To(ContainSubstring(tc.wantOutput))
			g.Expect(r.Status.OutputTruncated).To(BeFalse())
			g.Expect(r.Status.Usage).NotTo(BeNil())
			g.Expect(r.Status.CompletedAt).NotTo(BeNil())

			remote, err := f.sdk().Responses.Get(f.ctx, r.Status.ResponseID, responses.ResponseGetParams{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(remote.Background).To(BeTrue())
			g.Expect(remote.Temperature).To(BeNumerically("==", 0.5))
			g.Expect(remote.Metadata).To(HaveKeyWithValue("ticket", "42"))
			g.Expect(remote.Metadata).To(HaveKeyWithValue(openaiv1alpha1.ResourceMetadataKey, f.ns+"/answer/"+string(r.UID)))

			cm := &corev1.ConfigMap{}
			g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "answer-out"}, cm)).To(Succeed())
			g.Expect(metav1.IsControlledBy(cm, r)).To(BeTrue())
			g.Expect(cm.Data["output.txt"]).To(Equal(r.Status.OutputText))
			var stored map[string]any
			g.Expect(json.Unmarshal([]byte(cm.Data["response.json"]), &stored)).To(Succeed())
			g.Expect(stored).To(HaveKeyWithValue("id", r.Status.ResponseID))
		})
	}
}

func TestResponseWebhookDrivesCompletionWithoutPolling(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = 3*time.Hour, 3*time.Hour
	f := newFixture(t, fixtureOptions{opts: opts})
	mr := f.startMiniReceiver()
	r := f.response("hooked", "gpt-5-mini", "ping")
	f.create(r)
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	seen := time.Now()
	r = f.getResponse("hooked")
	recorded, ok := mr.recordedAt(r.Status.ResponseID)
	f.g.Expect(ok).To(BeTrue())
	f.g.Expect(seen.Sub(recorded)).To(BeNumerically("<", 2*time.Second))
	f.g.Expect(f.emu.Calls("responses.create")).To(Equal(int64(1)))
	f.g.Expect(f.emu.Calls("responses.retrieve")).To(Equal(int64(1)))
}

func TestResponseUnsuccessfulOutcomes(t *testing.T) {
	cases := map[string]struct {
		model      string
		parameters string
		wantPhase  openaiv1alpha1.ResponsePhase
		wantReason string
		check      func(g Gomega, r *openaiv1alpha1.OpenAIResponse)
	}{
		"failed": {model: emulator.ModelFail, wantPhase: openaiv1alpha1.ResponsePhaseFailed, wantReason: openaiv1alpha1.ReasonFailed,
			check: func(g Gomega, r *openaiv1alpha1.OpenAIResponse) {
				g.Expect(r.Status.Error).NotTo(BeNil())
				g.Expect(r.Status.Error.Code).NotTo(BeEmpty())
				g.Expect(r.Status.Message).To(ContainSubstring(r.Status.Error.Code))
			}},
		"incomplete": {
			model:      "gpt-5-mini",
			parameters: `{"max_output_tokens":16}`,
			wantPhase:  openaiv1alpha1.ResponsePhaseIncomplete,
			wantReason: openaiv1alpha1.ReasonIncomplete,
			check: func(g Gomega, r *openaiv1alpha1.OpenAIResponse) {
				g.Expect(r.Status.IncompleteDetails).To(Equal(&openaiv1alpha1.IncompleteDetails{Reason: "max_output_tokens"}))
				g.Expect(r.Status.OutputText).NotTo(BeEmpty())
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			r := f.response("outcome", tc.model, strings.Repeat("a long prompt ", 40))
			if tc.parameters != "" {
				r.Spec.Parameters = &runtime.RawExtension{Raw: []byte(tc.parameters)}
			}
			f.create(r)
			f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionFailed), 30*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, tc.wantReason))
			r = f.getResponse("outcome")
			f.g.Expect(r.Status.Phase).To(Equal(tc.wantPhase))
			tc.check(f.g, r)
			f.g.Eventually(f.reasons("outcome"), 10*time.Second, 50*time.Millisecond).Should(ContainElement(string(tc.wantPhase)))
		})
	}
}

func TestResponseOutputTextIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	long := strings.Repeat("é", openaiv1alpha1.MaxOutputTextLength) // two bytes each
	r := f.response("long", "gpt-5-mini", long)
	r.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindSecret, Name: "long-out"}
	f.create(r)
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	r = f.getResponse("long")
	f.g.Expect(r.Status.OutputTruncated).To(BeTrue())
	f.g.Expect(len(r.Status.OutputText)).To(BeNumerically("<=", openaiv1alpha1.MaxOutputTextLength))
	f.g.Expect(strings.ToValidUTF8(r.Status.OutputText, "?")).To(Equal(r.Status.OutputText), "cut at a character boundary")
	s := &corev1.Secret{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "long-out"}, s)).To(Succeed())
	f.g.Expect(string(s.Data["output.txt"])).To(Equal(emulator.EchoPrefix + long))
}

func TestResponseReservedParametersFailBeforeAnythingIsSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	r := f.response("reserved", "gpt-5-mini", "hi")
	r.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{"background":false,"model":"other","top_p":1}`)}
	f.create(r)
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionFailed), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonInvalidInput),
		HaveField("Message", ContainSubstring("spec.parameters must not set model, background")),
	))
	f.g.Expect(totalCalls(f.emu.Stats().Calls)).To(BeZero())
}

func TestResponseCancelViaSpecAndOnDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	viaSpec := f.response("cancel-spec", emulator.ModelHang, "wait")
	viaDelete := f.response("cancel-delete", emulator.ModelHang, "wait")
	f.create(viaSpec)
	f.create(viaDelete)
	for _, name := range []string{"cancel-spec", "cancel-delete"} {
		f.g.Eventually(func() openaiv1alpha1.ResponsePhase { return f.getResponse(name).Status.Phase }, 20*time.Second, 50*time.Millisecond).
			Should(Equal(openaiv1alpha1.ResponsePhaseInProgress))
	}
	viaSpec = f.getResponse("cancel-spec")
	f.edit(viaSpec, func() { viaSpec.Spec.Cancel = true })
	f.g.Eventually(f.condition(viaSpec, openaiv1alpha1.ConditionFailed), 20*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))

	viaDelete = f.getResponse("cancel-delete")
	f.g.Expect(f.c.Delete(f.ctx, viaDelete)).To(Succeed())
	f.g.Eventually(func() error {
		return f.c.Get(f.ctx, client.ObjectKeyFromObject(viaDelete), &openaiv1alpha1.OpenAIResponse{})
	}, 20*time.Second).ShouldNot(Succeed())
	for _, id := range []string{viaSpec.Status.ResponseID, viaDelete.Status.ResponseID} {
		remote, err := f.sdk().Responses.Get(f.ctx, id, responses.ResponseGetParams{})
		f.g.Expect(err).NotTo(HaveOccurred())
		f.g.Expect(remote.Status).To(Equal(responses.ResponseStatusCancelled))
	}
}

// TestResponseCrashWindowRecreatesAndWarns documents the one window responses cannot
// close (OpenAI cannot list them): a process that dies between the create call and the
// status write leaves a response that nobody can find, so the next process creates it
// again and says so.
func TestResponseCrashWindowRecreatesAndWarns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	crashed, stopFirst := f.startCrashingManager(func(obj client.Object) bool {
		r, ok := obj.(*openaiv1alpha1.OpenAIResponse)
		return ok && r.Status.ResponseID != ""
	})
	r := f.response("window", "gpt-5-mini", "hi")
	f.create(r)
	f.g.Eventually(crashed, 20*time.Second, 20*time.Millisecond).Should(BeTrue())
	stopFirst()
	f.g.Expect(f.getResponse("window").Status.Phase).To(Equal(openaiv1alpha1.ResponsePhaseSubmitting))

	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("responses.create")).To(Equal(int64(2)))
	f.g.Eventually(f.reasons("window"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("PossibleDuplicate"))
}

// TestResponseCreatedAgainAfterBackToBackCrashesCountsEveryAttempt: two processes in a
// row die between the create call and the status write, the second before its Events
// were sent. The status must still count every create call (recorded before each was
// sent), and the Warning of the process that finishes must announce all of them, not
// only its own.
func TestResponseCreatedAgainAfterBackToBackCrashesCountsEveryAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	recordsID := func(obj client.Object) bool {
		r, ok := obj.(*openaiv1alpha1.OpenAIResponse)
		return ok && r.Status.ResponseID != ""
	}
	r := f.response("twice", "gpt-5-mini", "hi")
	f.create(r)
	for i, lose := range []bool{false, true} {
		f.dropEvents = func() bool { return lose }
		crashed, stop := f.startCrashingManager(recordsID)
		f.g.Eventually(crashed, 20*time.Second, 20*time.Millisecond).Should(BeTrue(), "crash %d", i+1)
		stop()
		f.g.Expect(f.emu.Calls("responses.create")).To(Equal(int64(i + 1)))
	}
	f.dropEvents = nil

	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("responses.create")).To(Equal(int64(3)))
	f.g.Expect(f.getResponse("twice").Status.CreateAttempts).To(Equal(int32(3)))
	var last string
	f.g.Eventually(func() string {
		last = ""
		for _, e := range f.events("twice") {
			if e.Reason == "PossibleDuplicate" {
				last = e.Note
			}
		}
		return last
	}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("3 create calls"), "the Warning of the last process announces the re-creation whose Warning was lost")
}

func TestResponseRetriesAfterRateLimitWithoutDuplicating(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{emulator: emulator.Options{Faults: emulator.Faults{RateLimitRate: 1, RetryAfter: 100 * time.Millisecond}}})
	r := f.response("throttled", "gpt-5-mini", "hi")
	f.create(r)
	f.g.Eventually(func() int64 { return f.emu.Stats().Faults.RateLimited }, 10*time.Second, 20*time.Millisecond).Should(BeNumerically(">=", 3))
	f.g.Expect(f.getResponse("throttled").Status.ResponseID).To(BeEmpty())
	f.emu.SetFaults(emulator.Faults{})
	f.g.Eventually(f.condition(r, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(eventReasons(f.events("throttled"))).NotTo(ContainElement("PossibleDuplicate"), "a 429 is a definite refusal")
}
