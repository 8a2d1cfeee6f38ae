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
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/openai-operator/openai-operator/controllers"
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// TestInProcessScenariosMeasure runs scenarios 2, 3a, 3b and 4 at toy sizes against a
// real API server, so that `make test` keeps the benchmark code working: every event
// must be recorded and seen, every batch must complete, and in scenario 4 the webhook
// project's later batch must be read once (the webhook's read). It asserts no timing.
func TestInProcessScenariosMeasure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lab, err := StartLab(ctx)
	if err != nil {
		t.Fatalf("starting the lab (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
	}
	defer lab.Stop()

	t.Run("throughput", func(t *testing.T) {
		r, err := RunThroughput(ctx, lab, ThroughputOptions{Cells: []ThroughputCellSpec{{Resources: 10, Concurrency: 2}}, Events: 10, Rounds: 1})
		if err != nil {
			t.Fatal(err)
		}
		c := r.Cells[0]
		if c.ReceiverFailures != 0 || c.BareFailures != 0 || c.ReceiverMedian <= 0 || c.BareMedian <= 0 {
			t.Errorf("throughput cell = %+v, want rates and no failures", c)
		}
	})
	t.Run("latency", func(t *testing.T) {
		r, err := RunLatency(ctx, lab, LatencyOptions{Rates: []int{20}, Duration: time.Second, Resources: 10, Wait: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		row := r.Rows[0]
		if row.ReceiverLost != 0 || row.BareLost != 0 || row.Receiver.Count != 20 || row.Bare.Count != 20 || row.ReceiverAnswer.Count != 20 {
			t.Errorf("latency row = %+v, want 20 events seen on each side", row)
		}
	})
	t.Run("webhooks versus polling", func(t *testing.T) {
		// Short schedules keep it quick: polls at 2 s, 4 s, 8 s...; once the project's
		// events arrive, the first poll after a minute. Batches of 10 requests last 5.4 s,
		// so polling reads them before their end and the webhook schedule does not.
		o := controllers.DefaultOptions()
		o.PollIntervalMin, o.PollIntervalMax = 2*time.Second, 4*time.Second
		o.WebhookPollIntervalMin, o.WebhookPollIntervalMax = time.Minute, time.Hour
		r, err := RunPolling(ctx, lab, PollingOptions{FirstRequests: 10, Requests: []int{10}, PerClass: 1, Timeout: time.Minute, Controllers: &o})
		if err != nil {
			t.Fatal(err)
		}
		polled := func(n float64) bool { return n > 1 }
		want := map[string]struct {
			schedule schedule
			reads    func(float64) bool
			says     string
		}{
			"webhooks first":     {shortSchedule(o), polled, "polls before the end (no event of the project yet)"},
			"webhooks later":     {webhookSchedule(o), func(n float64) bool { return n == 1 }, "one read, the webhook's"},
			"polling-only first": {shortSchedule(o), polled, "polls before the end"},
			"polling-only later": {shortSchedule(o), polled, "polls before the end"},
		}
		for _, row := range r.Rows {
			key := row.Mode + map[bool]string{true: " first", false: " later"}[row.First]
			w, ok := want[key]
			if !ok {
				t.Errorf("unexpected row %+v", row)
				continue
			}
			delete(want, key)
			if row.Completed != 1 || row.Schedule != w.schedule.String() || !w.reads(row.RetrievesPerBatch) {
				t.Errorf("%s: row = %+v, want 1 batch complete on %s with %s", key, row, w.schedule, w.says)
			}
		}
		if len(want) > 0 {
			t.Errorf("rows missing: %v", want)
		}
	})
	t.Run("event to Complete", func(t *testing.T) {
		r, err := RunEndToEnd(ctx, lab, EndToEndOptions{Runs: []EndToEndRun{{Rate: 20, Batches: 5, Injected: true}}, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		row := r.Rows[0]
		if row.Completed != 5 || row.FromPost.Count != 5 || row.Calls["batches.retrieve"] != 5 {
			t.Errorf("end-to-end row = %+v, want 5 batches completed by their events (one read each)", row)
		}
	})
}
