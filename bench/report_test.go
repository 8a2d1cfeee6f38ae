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
	"strings"
	"testing"
	"time"
)

func TestChecks(t *testing.T) {
	res := &Results{
		Verify: &VerifyResults{Rows: []VerifyRow{
			{Body: "1KiB", Library: "receiver", VsOpenAIGo: 0.3}, {Body: "64KiB", Library: "receiver", VsOpenAIGo: 1.2},
		}},
		Throughput: &ThroughputResults{Cells: []ThroughputCell{{ThroughputCellSpec: ThroughputCellSpec{Resources: 1000, Concurrency: 8}, Ratio: 0.9}}},
		Latency:    &LatencyResults{Rows: []LatencyRow{{Rate: 200, Receiver: Latency{P99: 60}}}},
		Scale:      &ScaleResults{Steps: []ScaleRow{{ScaleStep: ScaleStep{InFlight: 1000}, ManagerPeakMiB: 10}}},
	}
	want := map[string]string{"1.": "no", "2.": "yes", "3a": "no", "3b": "unmeasured", "4.": "unmeasured", "5.": "unmeasured"}
	check(t, res, want)
}

func TestCallsTargetCountsLaterBatchesAndTheDay(t *testing.T) {
	rows := func(first, later float64) []PollingRow {
		return []PollingRow{
			{Mode: ModeWebhooks, First: true, Completed: 1, CallsPerBatch: first},
			{Mode: ModeWebhooks, Completed: 5, CallsPerBatch: later},
			{Mode: ModePolling, Completed: 5, CallsPerBatch: 9},
		}
	}
	day := func(calls int) []PollingProjection {
		return []PollingProjection{{Batch: dayBatch, WebhookCalls: calls}}
	}
	tests := map[string]struct {
		polling *PollingResults
		met     string
	}{
		"met: later batches and the day within the target, the first batch above it": {&PollingResults{Rows: rows(7, 4), Projection: day(5)}, "yes"},
		"missed: a day costs more":         {&PollingResults{Rows: rows(5, 4), Projection: day(13)}, "no"},
		"missed: later batches cost more":  {&PollingResults{Rows: rows(5, 6), Projection: day(5)}, "no"},
		"missed: no later batch completed": {&PollingResults{Rows: rows(5, 4)[:1], Projection: day(5)}, "no"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			check(t, &Results{Polling: tc.polling}, map[string]string{"4.": tc.met})
		})
	}
}

func check(t *testing.T, res *Results, want map[string]string) {
	t.Helper()
	met := map[string]*bool{}
	for _, c := range Checks(res) {
		met[c.Target[:2]] = c.Met
	}
	for k, w := range want {
		got := "unmeasured"
		if m := met[k]; m != nil {
			got = map[bool]string{true: "yes", false: "no"}[*m]
		}
		if got != w {
			t.Errorf("target %s: met = %s, want %s", k, got, w)
		}
	}
}

func TestReportShowsEveryScenario(t *testing.T) {
	res := &Results{
		StartedAt: time.Unix(1750861210, 0), FinishedAt: time.Unix(1750862110, 0),
		Machine:    Machine{NProc: 2, LoadStart: [3]float64{1.5, 1, 1}},
		Verify:     &VerifyResults{Count: 10, Rows: []VerifyRow{{Body: "1KiB", Library: "receiver", NsPerOp: 1700}}},
		Throughput: &ThroughputResults{Cells: []ThroughputCell{{ReceiverMedian: 300, BareMedian: 320}}},
		Latency:    &LatencyResults{Rows: []LatencyRow{{Rate: 200}}},
		EndToEnd:   &EndToEndResults{Rows: []EndToEndRow{{EndToEndRun: EndToEndRun{Rate: 200, Injected: true}}}},
		Polling:    &PollingResults{Projection: []PollingProjection{{Batch: dayBatch, WebhookCalls: 13}}},
		Scale:      &ScaleResults{Steps: []ScaleRow{{ScaleStep: ScaleStep{InFlight: 5000, Completed: 1000}, ManagerPeakMiB: 120, ReceiverPeakMiB: 60}}},
		Errors:     []string{"scale: boom"},
	}
	md := Report(res)
	for _, want := range []string{
		"## Targets", "| CPUs (`nproc`) | 2 |", "1.50, 1.00, 1.00",
		"## 1. Signature verification", "## 2. Receiver throughput", "## 3a.", "## 3b.", "## 4. Webhooks versus polling", "## 5. Scale",
		"scale: boom", "13 for a 24 h batch",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
