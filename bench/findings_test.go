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

package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/openai-operator/openai-operator/controllers"
)

// pollingRun is a scenario 4 result at the default options with the given calls per
// later webhook batch.
func pollingRun(later float64) *PollingResults {
	o := controllers.DefaultOptions()
	p := &PollingResults{
		PollIntervalMin: o.PollIntervalMin.String(), PollIntervalMax: o.PollIntervalMax.String(),
		WebhookPollIntervalMin: o.WebhookPollIntervalMin.String(), WebhookPollIntervalMax: o.WebhookPollIntervalMax.String(),
		WebhookTrustWindow: o.WebhookTrustWindow.String(), FirstRequests: 100,
		Rows: []PollingRow{
			{
				Mode:              ModeWebhooks,
				First:             true,
				Requests:          100,
				Batches:           1,
				Completed:         1,
				BatchSeconds:      23,
				RetrievesPerBatch: 2,
				CallsPerBatch:     5,
				PredictedCalls:    5,
				ToComplete:        Latency{Max: 700},
			},
			{
				Mode:              ModeWebhooks,
				Requests:          300,
				Batches:           5,
				Completed:         5,
				BatchSeconds:      65,
				RetrievesPerBatch: later - 3,
				CallsPerBatch:     later,
				PredictedCalls:    4,
				ToComplete:        Latency{Max: 900},
			},
			{
				Mode:              ModePolling,
				First:             true,
				Requests:          100,
				Batches:           1,
				Completed:         1,
				BatchSeconds:      23,
				RetrievesPerBatch: 2,
				CallsPerBatch:     5,
				PredictedCalls:    5,
				ToComplete:        Latency{Max: 7000},
			},
			{
				Mode:              ModePolling,
				Requests:          300,
				Batches:           5,
				Completed:         5,
				BatchSeconds:      65,
				RetrievesPerBatch: 4,
				CallsPerBatch:     7,
				PredictedCalls:    7,
				ToComplete:        Latency{Max: 60000},
			},
		},
	}
	for _, l := range projectedLengths {
		p.Projection = append(p.Projection, Project(l.name, l.d, o))
	}
	return p
}

func TestPollingFindingsFollowTheFigures(t *testing.T) {
	tests := map[string]struct {
		polling       *PollingResults
		want, notWant []string
	}{
		"later batches read once, a day beyond the target": {
			polling: pollingRun(4),
			want: []string{
				"they cost 4.0 calls (1.0 reads: the webhook's\nonly) where the same batches cost 7.0 polling only",
				"The project's first batch (100 requests, 23 s) cost 5.0 calls (polling only: 5.0)",
				"Every measured row matches",
				"that end within 20m",
				"costs 13 (9 safety-net polls)",
				"**the target is missed there.**",
				"`--webhook-poll-interval-min=12h`",
				"153 calls for a 24 h batch",
			},
			notWant: []string{"whether or not events arrive", "missed by\ndesign"},
		},
		"later batches above the prediction": {
			polling: pollingRun(6),
			want: []string{
				"1 rows differ from their schedule's prediction (webhooks later 300 requests: 6.0 against 4)",
				"later batches cost up to 6.0 calls: the target (at most 5) is missed",
			},
			notWant: []string{"webhook's\nonly", "Every measured row matches"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			writePollingFindings(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, tc.polling)
			assertText(t, b.String(), tc.want, tc.notWant)
		})
	}
}

func TestScaleFindingsFollowTheFigures(t *testing.T) {
	step := func(calls int64, dueHook, dueShort, events int, peak float64) *Results {
		first := ScaleRow{ScaleStep: ScaleStep{InFlight: 1000, Completed: 100}, ManagerPeakMiB: 80, ResyncPeakMiB: 70}
		last := ScaleRow{
			ScaleStep:             ScaleStep{InFlight: 5000, Completed: 500},
			ManagerPeakMiB:        peak,
			ResyncPeakMiB:         100,
			ManagerRSSMiB:         peak,
			ManagerHeapMiB:        60,
			ManagerAnonMiB:        peak - 70,
			ManagerFileMiB:        70,
			ObjectBytes:           2700,
			ManagedFieldsBytes:    1400,
			ResyncCalls:           map[string]int64{"batches.retrieve": calls},
			ResyncDuePolls:        dueShort,
			ResyncDuePollsWebhook: dueHook,
			ResyncWebhookEvents:   events,
			ResyncKubeRequests:    map[string]int64{"GET secrets": 3},
		}
		return &Results{Scale: &ScaleResults{Steps: []ScaleRow{first, last}}}
	}
	tests := map[string]struct {
		res           *Results
		want, notWant []string
	}{
		"webhook schedule, memory met": {
			res: step(0, 0, 900, 500, 120),
			want: []string{
				"500 batches recorded a webhook event",
				"It made 0 OpenAI calls:\nno more than those polls",
				"target (< 150 MiB) is met: its peak is 120 MiB, reached while submitting",
			},
			notWant: []string{"credentials Secret was", "would fix", "strip"},
		},
		"some batches polled before the manager saw an event": {
			res: step(40, 10, 900, 500, 160),
			want: []string{
				"It made 40 OpenAI calls, more\nthan the webhook schedule had due but no more than the short one",
				"read 3 times from the API server",
				"is missed: its peak is 160 MiB",
				"70 MiB are file-backed pages",
				"and 90 MiB anonymous memory, of which the Go heap in use is 60 MiB",
				"holds every OpenAIBatch without managedFields",
			},
			notWant: []string{"36 MB", "almost all of them", "would fix"},
		},
		"no events: the short schedule": {
			res:  step(1000, 0, 900, 0, 120),
			want: []string{"No batch recorded a recent webhook event", "It made 1000 OpenAI calls, more\nthan the schedule had due"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assertText(t, findings(tc.res), tc.want, tc.notWant)
		})
	}
}

func TestCompletionCostFollowsTheFigures(t *testing.T) {
	row := func(secrets, patches float64) *Results {
		return &Results{
			EndToEnd: &EndToEndResults{Rows: []EndToEndRow{{EndToEndRun: EndToEndRun{Rate: 200, Batches: 10, Injected: true}, Completed: 10,
				FromPost: Latency{
					P99: 5000,
				}, KubeRequestsPerBatch: map[string]float64{"GET secrets": secrets, "PATCH openaibatches/status": patches, "POST events": 1}}}},
		}
	}
	tests := map[string]struct {
		res           *Results
		want, notWant []string
	}{
		"secret reused, two patches": {
			res:     row(0.01, 2),
			want:    []string{"costs 0.01 reads per completion"},
			notWant: []string{"every reconcile", "retries after a conflict"},
		},
		"conflicts":                  {res: row(0.01, 2.5), want: []string{"The 2.5 status patches per completion"}, notWant: []string{"would fix"}},
		"secret read per completion": {res: row(1, 2), want: []string{"costs 1.0 reads per completion although a read is reused"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assertText(t, findings(tc.res), tc.want, tc.notWant)
		})
	}
}

func assertText(t *testing.T, text string, want, notWant []string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(text, s) {
			t.Errorf("the text lacks %q:\n%s", s, text)
		}
	}
	for _, s := range notWant {
		if strings.Contains(text, s) {
			t.Errorf("the text says %q:\n%s", s, text)
		}
	}
}
