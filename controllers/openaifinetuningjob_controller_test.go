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
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

// chatJSONL is a supervised training set of n chat examples, marked with tag.
func chatJSONL(n int, tag string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"messages":[{"role":"user","content":"%s question %d"},{"role":"assistant","content":"answer %d"}]}`+"\n", tag, i, i)
	}
	return b.String()
}

// fineTuningJob builds an OpenAIFineTuningJob of gpt-4o-mini trained on n inline chat
// examples.
func (f *fixture) fineTuningJob(name string, n int) *openaiv1alpha1.OpenAIFineTuningJob {
	j := &openaiv1alpha1.OpenAIFineTuningJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec:       openaiv1alpha1.OpenAIFineTuningJobSpec{Model: "gpt-4o-mini"},
	}
	for _, line := range strings.Split(strings.TrimSpace(chatJSONL(n, name)), "\n") {
		j.Spec.TrainingData.Examples = append(j.Spec.TrainingData.Examples, runtime.RawExtension{Raw: []byte(line)})
	}
	return j
}

func (f *fixture) getJob(name string) *openaiv1alpha1.OpenAIFineTuningJob {
	j := &openaiv1alpha1.OpenAIFineTuningJob{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, j)).To(Succeed())
	return j
}

func (f *fixture) jobPhase(name string) func() openaiv1alpha1.FineTuningPhase {
	return func() openaiv1alpha1.FineTuningPhase { return f.getJob(name).Status.Phase }
}

// remoteJobs lists the emulator's fine-tuning jobs tagged with obj.
func (f *fixture) remoteJobs(obj client.Object) []openai.FineTuningJob {
	var out []openai.FineTuningJob
	pager := f.sdk().FineTuning.Jobs.ListAutoPaging(f.ctx, openai.FineTuningJobListParams{
		Limit: openai.Int(100), Metadata: map[string]string{openaiv1alpha1.ResourceMetadataKey: resourceTag(obj)},
	})
	for pager.Next() {
		out = append(out, pager.Current())
	}
	f.g.Expect(pager.Err()).NotTo(HaveOccurred())
	return out
}

// uploadTraining uploads a training file as the operator would, under name.
func (f *fixture) uploadTraining(name, content string) *openai.FileObject {
	file, err := f.sdk().Files.New(f.ctx, openai.FileNewParams{
		File: openai.File(strings.NewReader(content), name, "application/jsonl"), Purpose: openai.FilePurposeFineTune,
	})
	f.g.Expect(err).NotTo(HaveOccurred())
	return file
}

// resultsData returns the data of the results ConfigMap or Secret name.
func (f *fixture) resultsData(kind openaiv1alpha1.ResultsKind, name string) (map[string]string, client.Object) {
	out := map[string]string{}
	if kind == openaiv1alpha1.ResultsKindSecret {
		s := &corev1.Secret{}
		f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, s)).To(Succeed())
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, s
	}
	cm := &corev1.ConfigMap{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, cm)).To(Succeed())
	return cm.Data, cm
}

func TestFineTuningJobSucceedsForEachTrainingSource(t *testing.T) {
	cases := map[string]struct {
		arrange func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob)
		results openaiv1alpha1.ResultsKind
		// uploads is how many files the operator uploads (and deletes at the end).
		uploads int64
	}{
		"inline examples": {
			arrange: func(*fixture, *openaiv1alpha1.OpenAIFineTuningJob) {},
			results: openaiv1alpha1.ResultsKindConfigMap, uploads: 1,
		},
		"ConfigMap key, with validation data inline": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				f.createConfigMap("training", map[string]string{"train.jsonl": chatJSONL(12, "cm")})
				j.Spec.ValidationData = &openaiv1alpha1.TrainingData{Examples: j.Spec.TrainingData.Examples[:2]}
				j.Spec.TrainingData = openaiv1alpha1.TrainingData{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "training", Key: "train.jsonl"}}
			},
			results: openaiv1alpha1.ResultsKindSecret, uploads: 2,
		},
		"Secret key": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				f.createSecret("training", map[string]string{"train.jsonl": chatJSONL(10, "secret")})
				j.Spec.TrainingData = openaiv1alpha1.TrainingData{SecretKeyRef: &openaiv1alpha1.KeyReference{Name: "training", Key: "train.jsonl"}}
			},
			results: openaiv1alpha1.ResultsKindConfigMap, uploads: 1,
		},
		"existing file": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				j.Spec.TrainingData = openaiv1alpha1.TrainingData{FileID: f.uploadTraining("mine.jsonl", chatJSONL(10, "file")).ID}
			},
			results: openaiv1alpha1.ResultsKindConfigMap, uploads: 0,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			g := f.g
			j := f.fineTuningJob("support-bot", 10)
			tc.arrange(f, j)
			j.Spec.Suffix = "support"
			j.Spec.Seed = ptr.To[int64](42)
			j.Spec.Metadata = map[string]string{"team": "support"}
			j.Spec.Method = &openaiv1alpha1.FineTuningMethod{Hyperparameters: &openaiv1alpha1.Hyperparameters{
				NEpochs: ptr.To(intstr.FromInt32(2)), LearningRateMultiplier: ptr.To(intstr.FromString("0.5")),
			}}
			j.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: tc.results, Name: "support-bot-model"}
			f.create(j)

			g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonSucceeded))
			g.Eventually(f.condition(j, openaiv1alpha1.ConditionResultsStored), 10*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonStored))
			j = f.getJob("support-bot")
			st := j.Status
			g.Expect(st.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseSucceeded))
			g.Expect(st.JobID).To(HavePrefix("ftjob-"))
			g.Expect(st.BaseModel).To(Equal("gpt-4o-mini-2024-07-18"))
			g.Expect(st.FineTunedModel).To(MatchRegexp(`^ft:gpt-4o-mini-2024-07-18:emulator:support:[A-Za-z0-9]{8}$`))
			g.Expect(st.TrainedTokens).To(BeNumerically(">", 0))
			g.Expect(st.FinishedAt).NotTo(BeNil())
			g.Expect(st.ResultFiles).To(HaveLen(1))
			g.Expect(st.Error).To(BeNil())
			g.Expect(st.LatestCheckpoint).NotTo(BeNil())
			g.Expect(st.LatestCheckpoint.Model).To(Equal(st.FineTunedModel))
			g.Expect(st.LatestCheckpoint.Metrics).To(HaveKey("train_loss"))
			g.Expect(st.RecentEvents).NotTo(BeEmpty())
			g.Expect(st.RecentEvents[0].Message).To(Equal("The job has successfully completed"))
			g.Expect(st.ObservedGeneration).To(Equal(j.Generation))
			g.Expect(st.Message).To(BeEmpty())

			// OpenAI has one job, tagged with this resource, as the spec asked.
			remote := f.remoteJobs(j)
			g.Expect(remote).To(HaveLen(1))
			g.Expect(remote[0].Metadata).To(HaveKeyWithValue("team", "support"))
			g.Expect(remote[0].Seed).To(Equal(int64(42)))
			g.Expect(remote[0].Method.Supervised.Hyperparameters.NEpochs.OfInt).To(Equal(int64(2)))
			g.Expect(remote[0].Method.Supervised.Hyperparameters.LearningRateMultiplier.OfFloat).To(Equal(0.5))
			if j.Spec.ValidationData != nil {
				g.Expect(remote[0].ValidationFile).NotTo(BeEmpty())
			} else {
				g.Expect(remote[0].ValidationFile).To(BeEmpty())
			}

			// The results object, owned by the resource, hands the model to workloads.
			data, owner := f.resultsData(tc.results, "support-bot-model")
			g.Expect(metav1.IsControlledBy(owner, j)).To(BeTrue())
			g.Expect(data["model"]).To(Equal(st.FineTunedModel))
			g.Expect(data["metrics.csv"]).To(HavePrefix("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"))
			var ckpts []openaiv1alpha1.FineTuningCheckpoint
			g.Expect(json.Unmarshal([]byte(data["checkpoints.json"]), &ckpts)).To(Succeed())
			g.Expect(ckpts).To(HaveLen(2), "one per epoch")
			g.Expect(ckpts[0].Model).To(Equal(st.FineTunedModel))

			// The uploads are deleted at the end; a file the user gave is kept.
			wantUploads := tc.uploads
			if j.Spec.TrainingData.FileID != "" {
				wantUploads++ // the test's own
			}
			g.Expect(f.emu.Calls("files.create")).To(Equal(wantUploads))
			if tc.uploads > 0 {
				g.Eventually(func() bool { return f.getJob("support-bot").Status.UploadedFilesDeleted }, 10*time.Second, 50*time.Millisecond).
					Should(BeTrue())
				g.Expect(f.emu.Calls("files.delete")).To(Equal(tc.uploads))
				_, err := f.sdk().Files.Get(f.ctx, st.TrainingFileID)
				g.Expect(err).To(HaveOccurred())
			} else {
				_, err := f.sdk().Files.Get(f.ctx, st.TrainingFileID)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(f.emu.Calls("files.delete")).To(BeZero())
			}
			g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)))
			g.Expect(eventReasons(f.events("support-bot"))).To(ContainElements("Submitted", "Succeeded", "ResultsStored"))
		})
	}
}

func TestFineTuningJobWebhookDrivesCompletionWithoutPolling(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = 3*time.Hour, 3*time.Hour
	f := newFixture(t, fixtureOptions{opts: opts})
	mr := f.startMiniReceiver()
	j := f.fineTuningJob("hooked", 10)
	j.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "hooked-model"}
	f.create(j)

	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	completeSeen := time.Now()
	j = f.getJob("hooked")
	recorded, ok := mr.recordedAt(j.Status.JobID)
	f.g.Expect(ok).To(BeTrue(), "the webhook event must have been recorded")
	f.g.Expect(completeSeen.Sub(recorded)).To(BeNumerically("<", 2*time.Second), "Complete must follow the event within 2 s")
	f.g.Expect(j.Status.LastWebhookEvent.Type).To(Equal("fine_tuning.job.succeeded"))
	f.g.Expect(j.Status.HandledWebhookEventID).To(Equal(j.Status.LastWebhookEvent.ID))

	// Upload, create, one read (job, events, checkpoint), the results (result file and
	// checkpoints) and the upload's deletion: nothing else.
	f.g.Eventually(func() bool { return f.getJob("hooked").Status.UploadedFilesDeleted }, 10*time.Second).Should(BeTrue())
	calls := f.emu.Stats().Calls
	f.g.Expect(calls).To(SatisfyAll(
		HaveKeyWithValue("files.create", int64(1)), HaveKeyWithValue("fine_tuning.jobs.create", int64(1)),
		HaveKeyWithValue("fine_tuning.jobs.retrieve", int64(1)), HaveKeyWithValue("fine_tuning.jobs.events", int64(1)),
		HaveKeyWithValue("fine_tuning.jobs.checkpoints", int64(2)), HaveKeyWithValue("files.content", int64(1)),
		HaveKeyWithValue("files.delete", int64(1)),
	))
	f.g.Expect(totalCalls(calls)).To(Equal(int64(8)), "API calls: %v", calls)
}

func TestFineTuningJobInvalidTrainingDataFailsBeforeAnythingIsSpent(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		arrange func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob)
		want    string
	}{
		"too few examples": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				j.Spec.TrainingData.Examples = j.Spec.TrainingData.Examples[:9]
			},
			want: "spec.trainingData is not valid supervised data: the data holds 9 example(s); OpenAI needs at least 10",
		},
		"a bad role on line 4 of a ConfigMap": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				lines := strings.Split(chatJSONL(10, "x"), "\n")
				lines[3] = `{"messages":[{"role":"100% bot","content":"hi"},{"role":"assistant","content":"yo"}]}`
				f.createConfigMap("training", map[string]string{"train.jsonl": strings.Join(lines, "\n")})
				j.Spec.TrainingData = openaiv1alpha1.TrainingData{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "training", Key: "train.jsonl"}}
			},
			want: `spec.trainingData is not valid supervised data: line 4: messages[0].role is "100% bot"; use system, developer, user, assistant or tool`,
		},
		"chat examples for dpo": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				j.Spec.Method = &openaiv1alpha1.FineTuningMethod{Type: openaiv1alpha1.FineTuningDPO}
			},
			want: "spec.trainingData is not valid dpo data: line 1: input is missing or not an object",
		},
		"bad validation data": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				j.Spec.ValidationData = &openaiv1alpha1.TrainingData{
					Examples: []runtime.RawExtension{{Raw: []byte(`{"messages":[{"role":"user","content":"no answer"}]}`)}},
				}
			},
			want: "spec.validationData is not valid supervised data: line 1: messages has no assistant message",
		},
		"a typed hyperparameter repeated in parameters": {
			arrange: func(f *fixture, j *openaiv1alpha1.OpenAIFineTuningJob) {
				j.Spec.Method = &openaiv1alpha1.FineTuningMethod{
					Hyperparameters: &openaiv1alpha1.Hyperparameters{NEpochs: ptr.To(intstr.FromInt32(2))},
					Parameters:      &runtime.RawExtension{Raw: []byte(`{"hyperparameters":{"n_epochs":3}}`)},
				}
			},
			want: "spec.method: parameters.hyperparameters.n_epochs repeats a hyperparameter typed in method.hyperparameters",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			j := f.fineTuningJob("bad-data", 10)
			tc.arrange(f, j)
			f.create(j)
			f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionFailed), 10*time.Second, 50*time.Millisecond).Should(SatisfyAll(
				haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonInvalidInput), HaveField("Message", ContainSubstring(tc.want))))
			j = f.getJob("bad-data")
			f.g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseFailed))
			f.g.Expect(j.Status.ObservedGeneration).To(Equal(j.Generation), "a pass that ends in a terminal error still observes its generation")
			f.g.Expect(totalCalls(f.emu.Stats().Calls)).To(BeZero(), "nothing is sent to OpenAI")
			// The Event carries OpenAI-free text as it is: a '%' is not a format verb.
			f.g.Eventually(func() []string {
				var notes []string
				for _, e := range f.events("bad-data") {
					notes = append(notes, e.Note)
				}
				return notes
			}, 5*time.Second, 50*time.Millisecond).Should(ContainElement(ContainSubstring(tc.want)))
		})
	}
}

func TestFineTuningJobEndsAsOpenAIEndsIt(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		arrange  func(j *openaiv1alpha1.OpenAIFineTuningJob)
		reason   string
		code     string
		message  string
		rejected bool
	}{
		"training file refused by moderation": {
			arrange: func(j *openaiv1alpha1.OpenAIFineTuningJob) {
				j.Spec.TrainingData.Examples[3] = runtime.RawExtension{
					Raw: []byte(`{"messages":[{"role":"user","content":"` + emulator.FlagMarker + `"},{"role":"assistant","content":"x"}]}`),
				}
			},
			reason: openaiv1alpha1.ReasonFailed, code: "invalid_training_file", message: "blocked by our moderation system",
		},
		"failure while training": {
			arrange: func(j *openaiv1alpha1.OpenAIFineTuningJob) { j.Spec.Model = emulator.ModelFail },
			reason:  openaiv1alpha1.ReasonFailed, code: "server_error", message: "failed due to an internal error",
		},
		"a model OpenAI does not fine-tune": {
			arrange: func(j *openaiv1alpha1.OpenAIFineTuningJob) { j.Spec.Model = "gpt-9" },
			reason:  openaiv1alpha1.ReasonRejected, message: "creating the fine-tuning job: OpenAI answered 400 (model_not_available): Model gpt-9 is not available for fine-tuning",
			rejected: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			j := f.fineTuningJob("ends", 10)
			j.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "ends-model"}
			tc.arrange(j)
			f.create(j)
			f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionFailed), 30*time.Second, 50*time.Millisecond).Should(SatisfyAll(
				haveStatus(metav1.ConditionTrue, tc.reason), HaveField("Message", ContainSubstring(tc.message))))
			f.g.Eventually(func() bool { return f.getJob("ends").Status.UploadedFilesDeleted }, 10*time.Second, 50*time.Millisecond).
				Should(BeTrue(), "the upload is deleted")
			j = f.getJob("ends")
			f.g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseFailed))
			f.g.Expect(f.condition(j, openaiv1alpha1.ConditionComplete)()).To(BeNil())
			f.g.Expect(f.condition(j, openaiv1alpha1.ConditionResultsStored)()).To(BeNil(), "a failed job stores no results")
			f.g.Expect(f.emu.Calls("files.delete")).To(Equal(int64(1)))
			if tc.rejected {
				f.g.Expect(j.Status.JobID).To(BeEmpty())
				f.g.Expect(f.remoteJobs(j)).To(BeEmpty())
				return
			}
			f.g.Expect(j.Status.Error).NotTo(BeNil())
			f.g.Expect(j.Status.Error.Code).To(Equal(tc.code))
			f.g.Expect(j.Status.Message).To(ContainSubstring(tc.message))
			f.g.Eventually(f.reasons("ends"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Failed"))
		})
	}
}

func TestFineTuningJobCancelViaSpec(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	j := f.fineTuningJob("stopme", 10)
	j.Spec.Model = emulator.ModelHang
	f.create(j)
	f.g.Eventually(f.jobPhase("stopme"), 20*time.Second, 50*time.Millisecond).Should(Equal(openaiv1alpha1.FineTuningPhaseRunning))
	j = f.getJob("stopme")
	f.edit(j, func() { j.Spec.Cancel = true })
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionFailed), 20*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
	f.g.Eventually(func() bool { return f.getJob("stopme").Status.UploadedFilesDeleted }, 10*time.Second, 50*time.Millisecond).Should(BeTrue())
	remote, err := f.sdk().FineTuning.Jobs.Get(f.ctx, f.getJob("stopme").Status.JobID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.Status).To(Equal(openai.FineTuningJobStatusCancelled))
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.cancel")).To(Equal(int64(1)))
	f.g.Eventually(f.reasons("stopme"), 10*time.Second, 50*time.Millisecond).Should(ContainElements("CancelRequested", "Cancelled"))
}

func TestFineTuningJobPauseAndResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	j := f.fineTuningJob("pausable", 40)
	// 2,000 steps run for about 12 s at this time scale: long enough to be paused while
	// running on a loaded machine (500 steps, 3 s, were not).
	j.Spec.Method = &openaiv1alpha1.FineTuningMethod{Hyperparameters: &openaiv1alpha1.Hyperparameters{NEpochs: ptr.To(intstr.FromInt32(50))}}
	j.Spec.Paused = true
	f.create(j)
	f.g.Eventually(f.jobPhase("pausable"), 20*time.Second, 20*time.Millisecond).Should(Equal(openaiv1alpha1.FineTuningPhasePaused))
	j = f.getJob("pausable")
	f.g.Expect(j.Status.Message).To(ContainSubstring("set spec.paused to false to resume"))
	remote, err := f.sdk().FineTuning.Jobs.Get(f.ctx, j.Status.JobID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(string(remote.Status)).To(Equal("paused"))
	// Paused, it stays paused: longer than the whole run would take.
	f.g.Consistently(f.jobPhase("pausable"), 4*time.Second, 200*time.Millisecond).Should(Equal(openaiv1alpha1.FineTuningPhasePaused))
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.pause")).To(Equal(int64(1)))

	j = f.getJob("pausable")
	f.edit(j, func() { j.Spec.Paused = false })
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.resume")).To(Equal(int64(1)))
	f.g.Eventually(f.reasons("pausable"), 10*time.Second, 50*time.Millisecond).
		Should(ContainElements("PauseRequested", "Paused", "ResumeRequested", "Succeeded"))
}

func TestFineTuningJobCrashAfterCreateAdoptsInsteadOfDuplicating(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	crashed, stopFirst := f.startCrashingManager(func(obj client.Object) bool {
		j, ok := obj.(*openaiv1alpha1.OpenAIFineTuningJob)
		return ok && j.Status.JobID != ""
	})
	j := f.fineTuningJob("crashy", 10)
	f.create(j)
	f.g.Eventually(crashed, 20*time.Second, 20*time.Millisecond).Should(BeTrue())
	stopFirst()
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)))
	j = f.getJob("crashy")
	f.g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseSubmitting))
	f.g.Expect(j.Status.JobID).To(BeEmpty())
	f.g.Expect(j.Status.SubmittingSince).NotTo(BeNil())

	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)), "no second job may be created")
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)), "the upload is reused")
	f.g.Eventually(f.reasons("crashy"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Adopted"))
}

// submittingJob creates a job resource whose status says an earlier process recorded
// its intent (phase Submitting) and then stopped, as a crash leaves it.
func (f *fixture) submittingJob(j *openaiv1alpha1.OpenAIFineTuningJob) *openaiv1alpha1.OpenAIFineTuningJob {
	f.create(j)
	j = f.getJob(j.Name)
	j.Status.Phase = openaiv1alpha1.FineTuningPhaseSubmitting
	now := metav1.Now()
	j.Status.SubmittingSince = &now
	f.g.Expect(f.c.Status().Update(f.ctx, j)).To(Succeed())
	return j
}

// createRemoteJob creates on the emulator the job an earlier process would have
// created for j, tagged with j's UID.
func (f *fixture) createRemoteJob(j *openaiv1alpha1.OpenAIFineTuningJob, model string) *openai.FineTuningJob {
	file := f.uploadTraining(uploadName(j, "training"), chatJSONL(10, j.Name))
	job, err := f.sdk().FineTuning.Jobs.New(f.ctx, openai.FineTuningJobNewParams{
		Model: openai.FineTuningJobNewParamsModel(model), TrainingFile: file.ID, Metadata: shared.Metadata(withTag(nil, j)),
	})
	f.g.Expect(err).NotTo(HaveOccurred())
	return job
}

func TestFineTuningJobUploadedButNotCreatedReusesTheUpload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	j := f.submittingJob(f.fineTuningJob("half", 10))
	// What a process that died between upload and create leaves: the intent and the
	// upload under its deterministic name.
	f.uploadTraining(uploadName(j, "training"), chatJSONL(10, "half"))
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)), "the earlier upload is reused")
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)))
}

func TestFineTuningJobSubmittingSurvivesMissingCredentialsAndInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	j := f.fineTuningJob("rotated", 10)
	j.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "rotating"}
	f.createConfigMap("training", map[string]string{"train.jsonl": chatJSONL(10, "rotated")})
	j.Spec.TrainingData = openaiv1alpha1.TrainingData{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "training", Key: "train.jsonl"}}
	j = f.submittingJob(j)
	earlier := f.createRemoteJob(j, "gpt-4o-mini")
	// The restart finds the credentials Secret gone (a delete-and-recreate rotation) and
	// the training ConfigMap edited to something invalid.
	cm := &corev1.ConfigMap{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "training"}, cm)).To(Succeed())
	cm.Data["train.jsonl"] = "not json"
	f.g.Expect(f.c.Update(f.ctx, cm)).To(Succeed())
	f.startManager(testOptions(), nil)

	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionCredentialsReady), 10*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSecretNotFound))
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionSubmitted), 10*time.Second, 50*time.Millisecond).
		Should(HaveField("Message", ContainSubstring("OpenAI may have the job already")))
	f.g.Consistently(f.jobPhase("rotated"), time.Second, 100*time.Millisecond).
		Should(Equal(openaiv1alpha1.FineTuningPhaseSubmitting), "the intent is never erased")

	f.createSecret("rotating", map[string]string{"apiKey": emulator.DefaultAPIKey})
	f.g.Eventually(func() string { return f.getJob("rotated").Status.JobID }, 20*time.Second, 50*time.Millisecond).Should(Equal(earlier.ID))
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)), "only the earlier attempt's job")
	f.g.Expect(f.emu.Calls("files.create")).To(Equal(int64(1)))
}

func TestFineTuningJobCancelDuringSubmittingSearchesFirst(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		remote bool // an earlier attempt created the job
	}{
		"the job exists":  {remote: true},
		"only the upload": {remote: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{noManager: true})
			j := f.fineTuningJob("late-cancel", 10)
			j.Spec.Cancel = true
			j = f.submittingJob(j)
			var earlier *openai.FineTuningJob
			var upload string
			if tc.remote {
				earlier = f.createRemoteJob(j, emulator.ModelHang)
				upload = earlier.TrainingFile
			} else {
				upload = f.uploadTraining(uploadName(j, "training"), chatJSONL(10, "x")).ID
			}
			f.startManager(testOptions(), nil)
			f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionFailed), 20*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
			f.g.Eventually(func() bool { return f.getJob("late-cancel").Status.UploadedFilesDeleted }, 10*time.Second, 50*time.Millisecond).
				Should(BeTrue())
			_, err := f.sdk().Files.Get(f.ctx, upload)
			f.g.Expect(err).To(HaveOccurred(), "the stray upload is deleted")
			f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(map[bool]int64{true: 1}[tc.remote]), "nothing new is created")
			if tc.remote {
				remote, err := f.sdk().FineTuning.Jobs.Get(f.ctx, earlier.ID)
				f.g.Expect(err).NotTo(HaveOccurred())
				f.g.Expect(remote.Status).To(Equal(openai.FineTuningJobStatusCancelled), "the adopted job is cancelled, not left running")
				f.g.Expect(f.getJob("late-cancel").Status.JobID).To(Equal(earlier.ID))
			} else {
				f.g.Expect(f.getJob("late-cancel").Status.Message).To(Equal("Cancelled before it was submitted"))
			}
		})
	}
}

// apiProxy stands between the operator and the emulator. It passes calls through, or,
// when told, answers every call with an error as OpenAI does when it refuses access,
// or answers job lists with an endless list of other jobs (as if OpenAI ignored the
// metadata filter of a very busy organisation).
type apiProxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	// refuse is the status every call is answered with; 0 passes calls through.
	refuse int
	// endless makes job lists endless.
	endless bool
	// notFound answers the next calls to a "METHOD /path" with a 404, as many as its count.
	notFound map[string]int
}

func (f *fixture) startProxy() *apiProxy {
	target, err := url.Parse(f.emu.URL())
	f.g.Expect(err).NotTo(HaveOccurred())
	target.Path = ""
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &apiProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		refuse, endless := p.refuse, p.endless
		if call := r.Method + " " + r.URL.Path; p.notFound[call] > 0 {
			p.notFound[call]--
			refuse = http.StatusNotFound
		}
		p.mu.Unlock()
		bodies := map[int]string{
			http.StatusUnauthorized: `{"error":{"message":"Incorrect API key provided: sk-em***or.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			http.StatusForbidden:    `{"error":{"message":"You have insufficient permissions for this operation.","type":"invalid_request_error","param":null,"code":"insufficient_permissions"}}`,
			http.StatusNotFound:     `{"error":{"message":"Could not find fine-tune job.","type":"invalid_request_error","param":null,"code":null}}`,
		}
		switch {
		case refuse != 0:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(refuse)
			_, _ = w.Write([]byte(bodies[refuse]))
		case endless && r.Method == http.MethodGet && r.URL.Path == "/v1/fine_tuning/jobs":
			start, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("after"), "ftjob-other"))
			var data []string
			for i := start + 1; i <= start+100; i++ {
				data = append(
					data,
					fmt.Sprintf(
						`{"id":"ftjob-other%d","object":"fine_tuning.job","created_at":%d,"model":"gpt-4o-mini-2024-07-18","status":"running","metadata":{"team":"other"}}`,
						i,
						time.Now().Unix(),
					),
				)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"object":"list","data":[%s],"has_more":true}`, strings.Join(data, ","))
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	f.t.Cleanup(p.srv.Close)
	return p
}

func (p *apiProxy) set(refuse int, endless bool) {
	p.mu.Lock()
	p.refuse, p.endless = refuse, endless
	p.mu.Unlock()
}

// useProxy makes j use credentials whose base URL is the proxy.
func (f *fixture) useProxy(p *apiProxy, j *openaiv1alpha1.OpenAIFineTuningJob) {
	f.createSecret("proxied", map[string]string{"apiKey": emulator.DefaultAPIKey, "baseURL": p.srv.URL + "/v1/"})
	j.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "proxied"}
}

// A 404 to a create call is not OpenAI refusing the job: an upload names no object, and
// the job's create names only the files the operator uploaded itself. The job is
// submitted all the same, once, and no upload is left behind.
func TestFineTuningJobNotFoundOnCreateCallsIsNotARefusal(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		call    string
		uploads int64 // training data uploads in all
	}{
		"the upload":     {call: "POST /v1/files", uploads: 1},
		"the job create": {call: "POST /v1/fine_tuning/jobs", uploads: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			p := f.startProxy()
			p.mu.Lock()
			p.notFound = map[string]int{tc.call: 1}
			p.mu.Unlock()
			j := f.fineTuningJob("notfound", 10)
			f.useProxy(p, j)
			f.create(j)
			f.g.Eventually(f.jobPhase("notfound"), 30*time.Second, 50*time.Millisecond).Should(BeElementOf(
				openaiv1alpha1.FineTuningPhaseSucceeded, openaiv1alpha1.FineTuningPhaseFailed))
			j = f.getJob("notfound")
			f.g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseSucceeded), "a 404 to %s ended it: %s", tc.call, j.Status.Message)
			f.g.Expect(f.remoteJobs(j)).To(HaveLen(1))
			f.g.Expect(f.emu.Calls("files.create")).To(Equal(tc.uploads))
			f.g.Eventually(func() bool { return f.getJob("notfound").Status.UploadedFilesDeleted }, 20*time.Second, 50*time.Millisecond).
				Should(BeTrue())
			files, err := f.sdk().Files.List(f.ctx, openai.FileListParams{Purpose: openai.String(string(openai.FilePurposeFineTune))})
			f.g.Expect(err).NotTo(HaveOccurred())
			f.g.Expect(files.Data).To(BeEmpty(), "every upload is deleted once the job ended")
		})
	}
}

func TestFineTuningJobSearchThatCannotFinishCreatesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	p := f.startProxy()
	j := f.fineTuningJob("busy", 10)
	f.useProxy(p, j)
	j = f.submittingJob(j)
	p.set(0, true)
	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionSubmitted), 30*time.Second, 50*time.Millisecond).Should(SatisfyAll(
		haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSearchIncomplete),
		HaveField("Message", ContainSubstring("creating nothing until it can")),
	))
	f.g.Consistently(func() int64 { return f.emu.Calls("fine_tuning.jobs.create") + f.emu.Calls("files.create") }, time.Second, 100*time.Millisecond).
		Should(BeZero())
	f.g.Expect(f.getJob("busy").Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseSubmitting))

	// Once the search can finish, it finds nothing and creates the job once.
	p.set(0, false)
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)))
}

func TestFineTuningJobAccessLostAfterSubmissionKeepsTheResource(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status    int
		condition string // the condition that says what is wrong
		reason    string
	}{
		"401": {http.StatusUnauthorized, openaiv1alpha1.ConditionCredentialsReady, openaiv1alpha1.ReasonUnauthorized},
		"403": {http.StatusForbidden, openaiv1alpha1.ConditionCredentialsReady, openaiv1alpha1.ReasonForbidden},
		"404": {http.StatusNotFound, openaiv1alpha1.ConditionObjectFound, openaiv1alpha1.ReasonNotFound},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			p := f.startProxy()
			j := f.fineTuningJob("keeper", 10)
			j.Spec.Model = emulator.ModelHang
			f.useProxy(p, j)
			f.create(j)
			f.g.Eventually(f.jobPhase("keeper"), 20*time.Second, 50*time.Millisecond).Should(Equal(openaiv1alpha1.FineTuningPhaseRunning))

			p.set(tc.status, false)
			f.g.Eventually(f.condition(j, tc.condition), 20*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionFalse, tc.reason))
			j = f.getJob("keeper")
			f.g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseRunning), "the job runs on at OpenAI: the resource keeps its phase")
			f.g.Expect(f.condition(j, openaiv1alpha1.ConditionFailed)()).To(BeNil())
			f.g.Consistently(f.condition(j, openaiv1alpha1.ConditionFailed), time.Second, 100*time.Millisecond).Should(BeNil())
			f.g.Eventually(f.reasons("keeper"), 10*time.Second, 50*time.Millisecond).Should(ContainElement(tc.reason))

			// Access comes back: it carries on by itself, and a cancel works.
			p.set(0, false)
			f.g.Eventually(f.condition(j, tc.condition), 20*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
			j = f.getJob("keeper")
			f.edit(j, func() { j.Spec.Cancel = true })
			f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionFailed), 20*time.Second, 50*time.Millisecond).
				Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonCancelled))
			f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(Equal(int64(1)))
		})
	}
}

func TestFineTuningJobSurvivesARateLimitStorm(t *testing.T) {
	t.Parallel()
	f := newFixture(
		t,
		fixtureOptions{emulator: emulator.Options{Faults: emulator.Faults{RateLimitRate: 0.5, RetryAfter: 50 * time.Millisecond}, Seed: 11}},
	)
	var jobs []*openaiv1alpha1.OpenAIFineTuningJob
	for i := range 3 {
		j := f.fineTuningJob(fmt.Sprintf("storm-%d", i), 10)
		f.create(j)
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionComplete), 60*time.Second, 100*time.Millisecond).
			Should(haveStatus(metav1.ConditionTrue))
	}
	f.g.Expect(f.emu.Stats().Faults.RateLimited).To(BeNumerically(">", 0), "the storm must have hit")
	f.emu.SetFaults(emulator.Faults{})
	for _, j := range jobs {
		f.g.Expect(f.remoteJobs(j)).To(HaveLen(1), "exactly one job per resource")
	}
}

func TestFineTuningJobDeletion(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		cancelOnDelete bool
	}{
		"cancels the job and deletes the upload": {cancelOnDelete: true},
		"lets the job run on with its upload":    {cancelOnDelete: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			j := f.fineTuningJob("doomed", 10)
			j.Spec.Model = emulator.ModelHang
			j.Spec.CancelOnDelete = ptr.To(tc.cancelOnDelete)
			f.create(j)
			f.g.Eventually(f.jobPhase("doomed"), 20*time.Second, 50*time.Millisecond).Should(Equal(openaiv1alpha1.FineTuningPhaseRunning))
			j = f.getJob("doomed")
			f.g.Expect(j.Finalizers).To(ContainElement(Finalizer))
			f.g.Expect(f.c.Delete(f.ctx, j)).To(Succeed())
			f.g.Eventually(func() error {
				return f.c.Get(f.ctx, client.ObjectKeyFromObject(j), &openaiv1alpha1.OpenAIFineTuningJob{})
			}, 20*time.Second, 50*time.Millisecond).ShouldNot(Succeed())
			remote, err := f.sdk().FineTuning.Jobs.Get(f.ctx, j.Status.JobID)
			f.g.Expect(err).NotTo(HaveOccurred())
			_, fileErr := f.sdk().Files.Get(f.ctx, j.Status.TrainingFileID)
			if tc.cancelOnDelete {
				f.g.Expect(remote.Status).To(Equal(openai.FineTuningJobStatusCancelled))
				f.g.Expect(fileErr).To(HaveOccurred(), "the upload is deleted")
			} else {
				f.g.Expect(remote.Status).To(Equal(openai.FineTuningJobStatusRunning))
				f.g.Expect(fileErr).NotTo(HaveOccurred(), "the running job keeps its training file")
				f.g.Expect(f.emu.Calls("fine_tuning.jobs.cancel")).To(BeZero())
			}
		})
	}
}

func TestFineTuningJobResultsAreStoredOncePerTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	j := f.fineTuningJob("once", 10)
	j.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "once-model"}
	f.create(j)
	f.g.Eventually(f.condition(j, openaiv1alpha1.ConditionResultsStored), 30*time.Second, 50*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	downloads := f.emu.Calls("files.content")
	f.g.Expect(downloads).To(Equal(int64(1)))

	// A later edit of a control field does not download and write them again...
	j = f.getJob("once")
	f.edit(j, func() { j.Spec.CancelOnDelete = ptr.To(false) })
	f.g.Eventually(func() int64 { return f.getJob("once").Status.ObservedGeneration }, 10*time.Second, 50*time.Millisecond).
		Should(Equal(j.Generation))
	f.g.Consistently(func() int64 { return f.emu.Calls("files.content") }, time.Second, 100*time.Millisecond).Should(Equal(downloads))

	// ...but a new target gets them.
	j = f.getJob("once")
	f.edit(j, func() {
		j.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindSecret, Name: "once-secret"}
	})
	f.g.Eventually(func() error {
		return f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "once-secret"}, &corev1.Secret{})
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	data, _ := f.resultsData(openaiv1alpha1.ResultsKindSecret, "once-secret")
	f.g.Expect(data["model"]).To(Equal(f.getJob("once").Status.FineTunedModel))
}

func TestMethodBody(t *testing.T) {
	cases := map[string]struct {
		method *openaiv1alpha1.FineTuningMethod
		want   string
		err    string
	}{
		"defaults": {method: nil, want: `{"supervised":{},"type":"supervised"}`},
		"typed hyperparameters": {
			method: &openaiv1alpha1.FineTuningMethod{Type: openaiv1alpha1.FineTuningDPO, Hyperparameters: &openaiv1alpha1.Hyperparameters{
				NEpochs: ptr.To(
					intstr.FromString("auto"),
				), BatchSize: ptr.To(intstr.FromInt32(8)), LearningRateMultiplier: ptr.To(intstr.FromString("0.5")), Beta: ptr.To(intstr.FromString(".1")),
			}},
			want: `{"dpo":{"hyperparameters":{"batch_size":8,"beta":0.1,"learning_rate_multiplier":0.5,"n_epochs":"auto"}},"type":"dpo"}`,
		},
		"free-form parameters merged": {method: &openaiv1alpha1.FineTuningMethod{Type: openaiv1alpha1.FineTuningReinforcement,
			Hyperparameters: &openaiv1alpha1.Hyperparameters{NEpochs: ptr.To(intstr.FromInt32(2))},
			Parameters:      &runtime.RawExtension{Raw: []byte(`{"grader":{"type":"string_check"},"hyperparameters":{"reasoning_effort":"low"}}`)},
		}, want: `{"reinforcement":{"grader":{"type":"string_check"},"hyperparameters":{"n_epochs":2,"reasoning_effort":"low"}},"type":"reinforcement"}`},
		"reinforcement without grader": {
			method: &openaiv1alpha1.FineTuningMethod{Type: openaiv1alpha1.FineTuningReinforcement},
			err:    "needs parameters.grader",
		},
		"a bad fraction": {
			method: &openaiv1alpha1.FineTuningMethod{
				Hyperparameters: &openaiv1alpha1.Hyperparameters{LearningRateMultiplier: ptr.To(intstr.FromString("x"))},
			},
			err: `learning_rate_multiplier must be "auto" or a positive number, not "x"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := methodBody(tc.method)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			raw, _ := json.Marshal(got)
			g.Expect(string(raw)).To(MatchJSON(tc.want))
		})
	}
}

// OpenAI refuses the validation upload while a spec edit lands, so the status write that
// ends the resource conflicts and the pass runs again from the stored state (still
// Submitting) after it already deleted the training upload. The refusal must stand: the
// pass that runs again neither submits with the deleted upload (which ended the resource
// with a 400 "no such file" for a job it should never have tried) nor, had the delete
// failed, creates a job that the resource never records (fault schedule seed
// 476070041227 ended that way).
func TestFineTuningJobRefusalStandsWhenItsStatusWriteIsLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	// The second upload is the validation data: the user edits the spec while the pass
	// waits for the answer, then OpenAI refuses the file.
	cur := &openaiv1alpha1.OpenAIFineTuningJob{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "refused"}}
	creds, uploads, edits := f.refuseWhileEditing("POST /v1/files", 2, cur, func() **bool { return &cur.Spec.CancelOnDelete })
	j := f.fineTuningJob("refused", 10)
	j.Spec.ValidationData = &openaiv1alpha1.TrainingData{Examples: j.Spec.TrainingData.Examples[:2]}
	j.Spec.CredentialsRef = creds
	f.create(j)

	f.g.Eventually(func() bool { return f.getJob("refused").Status.UploadedFilesDeleted }, 30*time.Second, 50*time.Millisecond).Should(BeTrue())
	f.g.Expect(edits.Load()).To(Equal(int64(1)), "the spec edit raced the refused upload")
	j = f.getJob("refused")
	f.g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseFailed))
	f.g.Expect(j.Status.Message).To(HavePrefix("uploading the validation data: OpenAI answered 400"), "the refusal that ended it")
	f.g.Expect(j.Status.JobID).To(BeEmpty())
	f.g.Expect(f.emu.Calls("fine_tuning.jobs.create")).To(BeZero(), "no job is created after OpenAI refused the submission")
	f.g.Expect(uploads.Load()).To(Equal(int64(2)), "nothing is uploaded again")
	files, err := f.sdk().Files.List(f.ctx, openai.FileListParams{Purpose: openai.String(string(openai.FilePurposeFineTune))})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(files.Data).To(BeEmpty(), "the training upload is deleted")
}
