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

package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/openai/openai-go/v3/shared/constant"

	"github.com/openai-operator/openai-operator/emulator"
)

// chatExamples is a supervised training file of n chat examples.
func chatExamples(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(
			&b,
			`{"messages":[{"role":"system","content":"You answer tersely."},{"role":"user","content":"Question %d?"},{"role":"assistant","content":"Answer %d."}]}`+"\n",
			i,
			i,
		)
	}
	return b.String()
}

// preferenceExamples is a DPO training file of n preference pairs.
func preferenceExamples(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(
			&b,
			`{"input":{"messages":[{"role":"user","content":"Say hi %d"}]},"preferred_output":[{"role":"assistant","content":"Hi!"}],"non_preferred_output":[{"role":"assistant","content":"No."}]}`+"\n",
			i,
		)
	}
	return b.String()
}

func uploadFineTune(ctx context.Context, g Gomega, c openai.Client, content string) *openai.FileObject {
	f, err := c.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader(content), "train.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeFineTune,
	})
	g.Expect(err).NotTo(HaveOccurred())
	return f
}

// waitJob polls until the job reaches status.
func waitJob(ctx context.Context, g Gomega, c openai.Client, id string, status openai.FineTuningJobStatus) *openai.FineTuningJob {
	var j *openai.FineTuningJob
	g.Eventually(func(g Gomega) {
		var err error
		j, err = c.FineTuning.Jobs.Get(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(j.Status).To(Equal(status))
	}).WithTimeout(waitFor).WithPolling(2 * time.Millisecond).Should(Succeed())
	return j
}

func eventMessages(ctx context.Context, g Gomega, c openai.Client, id string) []string {
	var out []string
	pager := c.FineTuning.Jobs.ListEventsAutoPaging(ctx, id, openai.FineTuningJobListEventsParams{Limit: openai.Int(7)})
	for pager.Next() {
		out = append(out, pager.Current().Message)
	}
	g.Expect(pager.Err()).NotTo(HaveOccurred())
	return out
}

func TestFineTuneJobSucceedsWithModelCheckpointsEventsAndResults(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	rc := newReceiver(t, srv.WebhookSecret())
	srv.AddWebhookURL(rc.URL())
	c := client(srv)
	train := uploadFineTune(ctx, g, c, chatExamples(10))
	valid := uploadFineTune(ctx, g, c, chatExamples(2))

	job, err := c.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{
		Model:          openai.FineTuningJobNewParamsModelGPT4oMini,
		TrainingFile:   train.ID,
		ValidationFile: openai.String(valid.ID),
		Suffix:         openai.String("support-bot"),
		Metadata:       shared.Metadata{"team": "support"},
		Method: openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{
			Hyperparameters: openai.SupervisedHyperparameters{NEpochs: openai.SupervisedHyperparametersNEpochsUnion{OfInt: openai.Int(2)}},
		}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(job.ID).To(MatchRegexp(`^ftjob-[A-Za-z0-9]{24}$`))
	g.Expect(job.Object).To(Equal(constant.FineTuningJob("fine_tuning.job")))
	g.Expect(job.Status).To(Equal(openai.FineTuningJobStatusValidatingFiles))
	g.Expect(job.Model).To(Equal("gpt-4o-mini-2024-07-18"), "the base model is answered as its dated snapshot")
	g.Expect(job.FineTunedModel).To(BeEmpty())
	g.Expect(job.JSON.FineTunedModel.Valid()).To(BeFalse(), "fine_tuned_model is null while the job runs")
	g.Expect(job.JSON.TrainedTokens.Valid()).To(BeFalse())
	g.Expect(job.Metadata).To(Equal(shared.Metadata{"team": "support"}))
	g.Expect(job.Method.Type).To(Equal("supervised"))
	g.Expect(job.Method.Supervised.Hyperparameters.NEpochs.OfInt).To(Equal(int64(2)))
	g.Expect(job.Method.Supervised.Hyperparameters.BatchSize.OfAuto).To(Equal(constant.Auto("auto")))
	g.Expect(job.TrainingFile).To(Equal(train.ID))
	g.Expect(job.ValidationFile).To(Equal(valid.ID))
	g.Expect(job.OrganizationID).To(Equal("org-emulator"))

	done := waitJob(ctx, g, c, job.ID, openai.FineTuningJobStatusSucceeded)
	g.Expect(done.FineTunedModel).To(MatchRegexp(`^ft:gpt-4o-mini-2024-07-18:emulator:support-bot:[A-Za-z0-9]{8}$`))
	g.Expect(done.TrainedTokens).To(BeNumerically(">", 0))
	g.Expect(done.FinishedAt).To(BeNumerically(">=", done.CreatedAt))
	g.Expect(done.JSON.EstimatedFinish.Valid()).To(BeFalse(), "estimated_finish is null once the job has ended")
	g.Expect(done.Hyperparameters.BatchSize.OfInt).To(Equal(int64(1)), "auto resolves once the files are validated")
	g.Expect(done.Hyperparameters.LearningRateMultiplier.OfFloat).To(BeNumerically(">", 0))
	g.Expect(done.Error.Code).To(BeEmpty())

	// The result file: a CSV of metrics per step (2 epochs of 10 examples).
	g.Expect(done.ResultFiles).To(HaveLen(1))
	f, err := c.Files.Get(ctx, done.ResultFiles[0])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Purpose).To(Equal(openai.FileObjectPurposeFineTuneResults))
	resp, err := c.Files.Content(ctx, f.ID)
	g.Expect(err).NotTo(HaveOccurred())
	csv, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
	g.Expect(rows[0]).To(Equal("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"))
	g.Expect(rows).To(HaveLen(21))
	g.Expect(rows[20]).To(MatchRegexp(`^20,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+$`))

	// Checkpoints at the end of each epoch, newest first; the last is the final model.
	page, err := c.FineTuning.Jobs.Checkpoints.List(ctx, job.ID, openai.FineTuningJobCheckpointListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Data).To(HaveLen(2))
	g.Expect(page.Data[0].StepNumber).To(Equal(int64(20)))
	g.Expect(page.Data[0].FineTunedModelCheckpoint).To(Equal(done.FineTunedModel))
	g.Expect(page.Data[1].StepNumber).To(Equal(int64(10)))
	g.Expect(page.Data[1].FineTunedModelCheckpoint).To(Equal(done.FineTunedModel + ":ckpt-step-10"))
	g.Expect(page.Data[1].ID).To(HavePrefix("ftckpt_"))
	g.Expect(page.Data[1].FineTuningJobID).To(Equal(job.ID))
	g.Expect(page.Data[1].Metrics.TrainLoss).To(BeNumerically(">", page.Data[0].Metrics.TrainLoss), "the loss falls")
	g.Expect(page.Data[0].Metrics.ValidLoss).To(BeNumerically(">", 0))

	// Events, newest first, across pages.
	msgs := eventMessages(ctx, g, c, job.ID)
	g.Expect(msgs[0]).To(Equal("The job has successfully completed"))
	g.Expect(msgs).To(ContainElements(
		"New fine-tuned model created",
		"Checkpoint created at step 10",
		"Fine-tuning job started",
		"Files validated, moving job to queued state",
		"Validating training file: "+train.ID+" and validation file: "+valid.ID,
		"Created fine-tuning job: "+job.ID,
	))
	g.Expect(msgs).To(ContainElement(MatchRegexp(`^Step 20/20: training loss=[0-9.]+, validation loss=[0-9.]+$`)))
	events, err := c.FineTuning.Jobs.ListEvents(ctx, job.ID, openai.FineTuningJobListEventsParams{Limit: openai.Int(100)})
	g.Expect(err).NotTo(HaveOccurred())
	var metrics int
	for _, ev := range events.Data {
		g.Expect(ev.ID).To(HavePrefix("ftevent-"))
		g.Expect(ev.Level).To(Equal(openai.FineTuningJobEventLevelInfo))
		if ev.Type == openai.FineTuningJobEventTypeMetrics {
			metrics++
			g.Expect(ev.Data).To(HaveKeyWithValue("total_steps", BeNumerically("==", 20)))
		}
	}
	g.Expect(metrics).To(Equal(20))

	g.Eventually(rc.events).WithTimeout(waitFor).Should(ConsistOf("fine_tuning.job.succeeded " + job.ID))
	g.Expect(srv.Calls(emulator.OpFineTuningJobsCreate)).To(Equal(int64(1)))
}

func TestFineTuneDPOJob(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	train := uploadFineTune(ctx, g, c, preferenceExamples(10))
	job, err := c.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{
		Model: "gpt-4.1-mini", TrainingFile: train.ID,
		Method: openai.FineTuningJobNewParamsMethod{Type: "dpo", Dpo: openai.DpoMethodParam{
			Hyperparameters: openai.DpoHyperparameters{Beta: openai.DpoHyperparametersBetaUnion{OfFloat: openai.Float(0.2)}},
		}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	done := waitJob(ctx, g, c, job.ID, openai.FineTuningJobStatusSucceeded)
	g.Expect(done.Model).To(Equal("gpt-4.1-mini-2025-04-14"))
	g.Expect(done.FineTunedModel).To(MatchRegexp(`^ft:gpt-4.1-mini-2025-04-14:emulator::[A-Za-z0-9]{8}$`), "no suffix leaves its part empty")
	g.Expect(done.Method.Type).To(Equal("dpo"))
	g.Expect(done.Method.Dpo.Hyperparameters.Beta.OfFloat).To(Equal(0.2))
	g.Expect(done.Method.Dpo.Hyperparameters.NEpochs.OfInt).To(Equal(int64(3)))
}

func TestFineTuneCreateRefusesBadRequests(t *testing.T) {
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	g := NewWithT(t)
	train := uploadFineTune(ctx, g, c, chatExamples(10))
	batchFile := upload(ctx, g, c, "in.jsonl", chatExamples(10))
	supervised := func(h openai.SupervisedHyperparameters) openai.FineTuningJobNewParamsMethod {
		return openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{Hyperparameters: h}}
	}
	metadata := shared.Metadata{}
	for i := range 17 {
		metadata[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := map[string]struct {
		params    openai.FineTuningJobNewParams
		opts      []option.RequestOption
		wantParam string
		wantCode  string
		wantMsg   string
	}{
		"unknown model": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-9", TrainingFile: train.ID},
			wantParam: "model",
			wantCode:  "model_not_available",
			wantMsg:   "Model gpt-9 is not available for fine-tuning",
		},
		"no training file": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-4o-mini"},
			wantParam: "training_file",
			wantCode:  "missing_required_parameter",
		},
		"unknown file": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: "file-nope"},
			wantParam: "training_file",
			wantMsg:   "no such file",
		},
		"batch file": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: batchFile.ID},
			wantParam: "training_file",
			wantMsg:   "purpose 'batch'",
		},
		"unknown validation": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID, ValidationFile: openai.String("file-nope")},
			wantParam: "validation_file",
		},
		"suffix too long": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID, Suffix: openai.String(strings.Repeat("s", 65))},
			wantParam: "suffix",
		},
		"zero epochs": {params: openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID,
			Method: supervised(openai.SupervisedHyperparameters{NEpochs: openai.SupervisedHyperparametersNEpochsUnion{OfInt: openai.Int(0)}})},
			wantParam: "method.supervised.hyperparameters.n_epochs"},
		"negative learning rate": {params: openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID,
			Method: supervised(
				openai.SupervisedHyperparameters{
					LearningRateMultiplier: openai.SupervisedHyperparametersLearningRateMultiplierUnion{OfFloat: openai.Float(-1)},
				},
			)},
			wantParam: "method.supervised.hyperparameters.learning_rate_multiplier"},
		"epochs as a word": {params: openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID},
			opts: []option.RequestOption{
				option.WithJSONSet(
					"method",
					map[string]any{"type": "supervised", "supervised": map[string]any{"hyperparameters": map[string]any{"n_epochs": "many"}}},
				),
			},
			wantParam: "method.supervised.hyperparameters.n_epochs", wantMsg: "Expected 'auto' or a number"},
		"beta outside dpo": {params: openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID},
			opts: []option.RequestOption{
				option.WithJSONSet(
					"method",
					map[string]any{"type": "supervised", "supervised": map[string]any{"hyperparameters": map[string]any{"beta": 0.1}}},
				),
			},
			wantParam: "method.supervised.hyperparameters.beta"},
		"unknown method": {params: openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID},
			opts: []option.RequestOption{option.WithJSONSet("method", map[string]any{"type": "magic"})}, wantParam: "method.type"},
		"reinforcement without grader": {params: openai.FineTuningJobNewParams{Model: "o4-mini", TrainingFile: train.ID},
			opts: []option.RequestOption{
				option.WithJSONSet("method", map[string]any{"type": "reinforcement"}),
			}, wantParam: "method.reinforcement.grader"},
		"reinforcement on a chat model": {params: openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID},
			opts: []option.RequestOption{
				option.WithJSONSet(
					"method",
					map[string]any{"type": "reinforcement", "reinforcement": map[string]any{"grader": map[string]any{"type": "string_check"}}},
				),
			},
			wantParam: "model", wantMsg: "does not support the reinforcement method"},
		"too much metadata": {
			params:    openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID, Metadata: metadata},
			wantParam: "metadata",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := c.FineTuning.Jobs.New(ctx, tc.params, append(tc.opts, option.WithMaxRetries(0))...)
			aerr := apiError(g, err)
			g.Expect(aerr.StatusCode).To(Equal(http.StatusBadRequest))
			g.Expect(aerr.Type).To(Equal("invalid_request_error"))
			g.Expect(aerr.Param).To(Equal(tc.wantParam))
			if tc.wantCode != "" {
				g.Expect(aerr.Code).To(Equal(tc.wantCode))
			}
			g.Expect(aerr.Message).To(ContainSubstring(tc.wantMsg))
		})
	}
	g.Expect(srv.Calls(emulator.OpFineTuningJobsCreate)).To(Equal(int64(len(cases))))
	page, err := c.FineTuning.Jobs.List(ctx, openai.FineTuningJobListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Data).To(BeEmpty(), "a refused request creates no job")
}

func TestFineTuneInvalidFilesFailWhileValidating(t *testing.T) {
	cases := map[string]struct {
		model    string
		content  string
		wantCode string
		wantMsg  string
	}{
		"too few examples": {
			model:    "gpt-4o-mini",
			content:  chatExamples(9),
			wantCode: "invalid_n_examples",
			wantMsg:  "has 9 example(s), but must have at least 10 examples",
		},
		"unknown role": {
			model:    "gpt-4o-mini",
			content:  chatExamples(4) + `{"messages":[{"role":"bot","content":"x"},{"role":"assistant","content":"y"}]}` + "\n" + chatExamples(5),
			wantCode: "invalid_training_file",
			wantMsg:  `Line 5, message 1: unrecognized role "bot"`,
		},
		"no assistant message": {
			model:    "gpt-4o-mini",
			content:  `{"messages":[{"role":"user","content":"x"}]}` + "\n" + chatExamples(9),
			wantCode: "invalid_training_file",
			wantMsg:  "Line 1, key \"messages\": no assistant message",
		},
		"not JSON": {
			model:    "gpt-4o-mini",
			content:  chatExamples(10) + "oops\n",
			wantCode: "invalid_training_file",
			wantMsg:  "Line 11 is not a JSON object",
		},
		"completions for chat": {
			model:    "gpt-4o-mini",
			content:  strings.Repeat(`{"prompt":"a","completion":"b"}`+"\n", 10),
			wantCode: "invalid_training_file",
			wantMsg:  `key "messages": expected an array`,
		},
		"chat for completion model": {
			model:    "babbage-002",
			content:  chatExamples(10),
			wantCode: "invalid_training_file",
			wantMsg:  "babbage-002 takes the prompt/completion format",
		},
		"flagged content": {
			model:    "gpt-4o-mini",
			content:  chatExamples(9) + `{"messages":[{"role":"user","content":"` + emulator.FlagMarker + `"},{"role":"assistant","content":"y"}]}`,
			wantCode: "invalid_training_file",
			wantMsg:  "blocked by our moderation system",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			srv := start(t, emulator.Options{})
			rc := newReceiver(t, srv.WebhookSecret())
			srv.AddWebhookURL(rc.URL())
			c := client(srv)
			train := uploadFineTune(ctx, g, c, tc.content)
			job, err := c.FineTuning.Jobs.New(
				ctx,
				openai.FineTuningJobNewParams{Model: openai.FineTuningJobNewParamsModel(tc.model), TrainingFile: train.ID},
			)
			g.Expect(err).NotTo(HaveOccurred(), "the content is checked after the job is created, as OpenAI does")
			failed := waitJob(ctx, g, c, job.ID, openai.FineTuningJobStatusFailed)
			g.Expect(failed.Error.Code).To(Equal(tc.wantCode))
			g.Expect(failed.Error.Param).To(Equal("training_file"))
			g.Expect(failed.Error.Message).To(ContainSubstring(tc.wantMsg))
			g.Expect(failed.FineTunedModel).To(BeEmpty())
			g.Expect(failed.ResultFiles).To(BeEmpty())
			g.Expect(eventMessages(ctx, g, c, job.ID)[0]).To(Equal(failed.Error.Message))
			g.Eventually(rc.events).WithTimeout(waitFor).Should(ConsistOf("fine_tuning.job.failed " + job.ID))
		})
	}
}

func TestFineTuneMagicModelsFailOrRunUntilCancelled(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	rc := newReceiver(t, srv.WebhookSecret())
	srv.AddWebhookURL(rc.URL())
	c := client(srv)
	train := uploadFineTune(ctx, g, c, chatExamples(10))

	failing, err := c.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{Model: emulator.ModelFail, TrainingFile: train.ID})
	g.Expect(err).NotTo(HaveOccurred())
	failed := waitJob(ctx, g, c, failing.ID, openai.FineTuningJobStatusFailed)
	g.Expect(failed.Error.Code).To(Equal("server_error"))
	g.Expect(failed.Error.JSON.Param.Valid()).To(BeFalse(), "param is null when the failure concerns no parameter")
	g.Expect(eventMessages(ctx, g, c, failing.ID)).To(ContainElement("Fine-tuning job started"), "it failed while running")

	hanging, err := c.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{Model: emulator.ModelHang, TrainingFile: train.ID})
	g.Expect(err).NotTo(HaveOccurred())
	waitJob(ctx, g, c, hanging.ID, openai.FineTuningJobStatusRunning)
	g.Consistently(func() openai.FineTuningJobStatus {
		j, err := c.FineTuning.Jobs.Get(ctx, hanging.ID)
		g.Expect(err).NotTo(HaveOccurred())
		return j.Status
	}, 200*time.Millisecond, 20*time.Millisecond).Should(Equal(openai.FineTuningJobStatusRunning))
	cancelled, err := c.FineTuning.Jobs.Cancel(ctx, hanging.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cancelled.Status).To(Equal(openai.FineTuningJobStatusCancelled))
	g.Expect(cancelled.FinishedAt).To(BeNumerically(">", 0))
	g.Expect(eventMessages(ctx, g, c, hanging.ID)[0]).To(Equal("Fine-tuning job cancelled"))
	_, err = c.FineTuning.Jobs.Cancel(ctx, hanging.ID, option.WithMaxRetries(0))
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusBadRequest), "an ended job cannot be cancelled")
	_, err = c.FineTuning.Jobs.Get(ctx, "ftjob-missing")
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))

	g.Eventually(rc.events).WithTimeout(waitFor).Should(ConsistOf("fine_tuning.job.failed "+failing.ID, "fine_tuning.job.cancelled "+hanging.ID))
}

func TestFineTunePauseAndResume(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// 30 steps of 5 ms: the job runs for 150 ms, long enough to pause it.
	srv := start(t, emulator.Options{TimeScale: 0.05})
	c := client(srv)
	train := uploadFineTune(ctx, g, c, chatExamples(10))
	job, err := c.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.FineTuning.Jobs.Pause(ctx, job.ID, option.WithMaxRetries(0))
	g.Expect(apiError(g, err).Message).To(ContainSubstring("only running jobs can be paused"))

	running := waitJob(ctx, g, c, job.ID, openai.FineTuningJobStatusRunning)
	g.Expect(running.EstimatedFinish).To(BeNumerically(">", 0))
	paused, err := c.FineTuning.Jobs.Pause(ctx, job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(paused.Status)).To(Equal("paused"))
	g.Expect(paused.JSON.EstimatedFinish.Valid()).To(BeFalse())
	again, err := c.FineTuning.Jobs.Pause(ctx, job.ID)
	g.Expect(err).NotTo(HaveOccurred(), "pausing a paused job changes nothing")
	g.Expect(string(again.Status)).To(Equal("paused"))

	// Paused, it makes no progress: no new events, no end.
	before := eventMessages(ctx, g, c, job.ID)
	g.Expect(before[0]).To(Equal("Fine-tuning job paused"))
	time.Sleep(300 * time.Millisecond) // longer than the whole remaining plan
	g.Expect(eventMessages(ctx, g, c, job.ID)).To(Equal(before))
	still, err := c.FineTuning.Jobs.Get(ctx, job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(still.Status)).To(Equal("paused"))

	resumed, err := c.FineTuning.Jobs.Resume(ctx, job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resumed.Status).To(Equal(openai.FineTuningJobStatusRunning))
	g.Expect(resumed.EstimatedFinish).To(BeNumerically(">=", running.EstimatedFinish), "the plan moved by the pause")
	done := waitJob(ctx, g, c, job.ID, openai.FineTuningJobStatusSucceeded)
	g.Expect(eventMessages(ctx, g, c, job.ID)).
		To(ContainElements("Fine-tuning job paused", "Fine-tuning job resumed", "The job has successfully completed"))
	_, err = c.FineTuning.Jobs.Resume(ctx, done.ID, option.WithMaxRetries(0))
	g.Expect(apiError(g, err).Message).To(ContainSubstring("only paused jobs can be resumed"))
	g.Expect(srv.Calls(emulator.OpFineTuningJobsPause)).To(Equal(int64(3)))
	g.Expect(srv.Calls(emulator.OpFineTuningJobsResume)).To(Equal(int64(2)))
}

func TestFineTuneListFiltersByMetadataAndPages(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	train := uploadFineTune(ctx, g, c, chatExamples(10))
	var ids []string
	for i, md := range []shared.Metadata{{"owner": "ns/a/uid-1"}, {"owner": "ns/b/uid-2", "team": "x"}, nil, {"owner": "ns/b/uid-2"}} {
		j, err := c.FineTuning.Jobs.New(
			ctx,
			openai.FineTuningJobNewParams{Model: "gpt-4o-mini", TrainingFile: train.ID, Metadata: md, Suffix: openai.String(fmt.Sprint(i))},
		)
		g.Expect(err).NotTo(HaveOccurred())
		ids = append(ids, j.ID)
	}
	list := func(params openai.FineTuningJobListParams, opts ...option.RequestOption) []string {
		var out []string
		pager := c.FineTuning.Jobs.ListAutoPaging(ctx, params, opts...)
		for pager.Next() {
			out = append(out, pager.Current().ID)
		}
		g.Expect(pager.Err()).NotTo(HaveOccurred())
		return out
	}
	g.Expect(list(openai.FineTuningJobListParams{Limit: openai.Int(1)})).
		To(Equal([]string{ids[3], ids[2], ids[1], ids[0]}), "newest first, one page each")
	g.Expect(list(openai.FineTuningJobListParams{Metadata: map[string]string{"owner": "ns/b/uid-2"}})).To(Equal([]string{ids[3], ids[1]}))
	g.Expect(list(openai.FineTuningJobListParams{Metadata: map[string]string{"owner": "ns/b/uid-2", "team": "x"}})).To(Equal([]string{ids[1]}))
	g.Expect(list(openai.FineTuningJobListParams{Metadata: map[string]string{"owner": "nobody"}})).To(BeEmpty())
	g.Expect(list(openai.FineTuningJobListParams{}, option.WithQuery("metadata", "null"))).To(Equal([]string{ids[2]}))

	// The wire shape of a page, as OpenAI sends it.
	page, err := c.FineTuning.Jobs.List(ctx, openai.FineTuningJobListParams{Limit: openai.Int(2)})
	g.Expect(err).NotTo(HaveOccurred())
	var raw map[string]json.RawMessage
	g.Expect(json.Unmarshal([]byte(page.RawJSON()), &raw)).To(Succeed())
	g.Expect(string(raw["object"])).To(Equal(`"list"`))
	g.Expect(string(raw["has_more"])).To(Equal("true"))
	_, err = c.FineTuning.Jobs.List(ctx, openai.FineTuningJobListParams{Limit: openai.Int(101)}, option.WithMaxRetries(0))
	g.Expect(apiError(g, err).Param).To(Equal("limit"))
}
