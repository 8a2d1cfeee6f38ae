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
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/emulator"
)

// Modes of scenario 4.
const (
	ModeWebhooks = "webhooks"
	ModePolling  = "polling-only"
)

// PollingOptions size scenario 4.
type PollingOptions struct {
	// Requests are the batch sizes measured (requests per batch): at time scale 1 a
	// batch of n requests lasts 3 s + 0.2 s x n.
	Requests []int
	// PerClass is how many batches of each size run in each mode.
	PerClass int
	// Timeout bounds the scenario.
	Timeout time.Duration
}

// PollingResults are scenario 4's figures.
type PollingResults struct {
	Scenario
	// PollIntervalMin and PollIntervalMax are the controller's (the manager's defaults).
	PollIntervalMin string `json:"pollIntervalMin"`
	PollIntervalMax string `json:"pollIntervalMax"`
	// Rows are per mode and batch size.
	Rows []PollingRow `json:"rows"`
	// Modes are per-mode totals from the emulator's counters.
	Modes []PollingMode `json:"modes"`
	// Projection applies the controller's polling schedule to longer batches (computed,
	// not measured; the measured rows check it).
	Projection []PollingProjection `json:"projection"`
}

// PollingRow is one mode and batch size.
type PollingRow struct {
	Mode     string `json:"mode"`
	Requests int    `json:"requests"`
	Batches  int    `json:"batches"`
	// Completed is how many reached Complete.
	Completed int `json:"completed"`
	// BatchSeconds is the median time from creating the resource to OpenAI's
	// completion (the emulator's completion event).
	BatchSeconds float64 `json:"batchSeconds"`
	// ToComplete is from OpenAI's completion to a watcher seeing Complete.
	ToComplete Latency `json:"toComplete"`
	// RetrievesPerBatch is the mean number of batches.retrieve calls per batch.
	RetrievesPerBatch float64 `json:"retrievesPerBatch"`
	// CallsPerBatch adds the other calls of a batch's life (upload, create, input
	// delete): all calls of the mode, less retrieves, per completed batch.
	CallsPerBatch float64 `json:"callsPerBatch"`
	// PredictedCalls is what the controller's schedule predicts for BatchSeconds.
	PredictedCalls int `json:"predictedCalls"`
}

// PollingMode is one mode's totals.
type PollingMode struct {
	Mode          string           `json:"mode"`
	Calls         map[string]int64 `json:"calls"`
	Completed     int              `json:"completed"`
	CallsPerBatch float64          `json:"callsPerBatch"`
}

// PollingProjection is the schedule applied to a batch of a given length.
type PollingProjection struct {
	Batch string `json:"batch"`
	// Polls is how many reads the schedule makes before the batch ends.
	Polls int `json:"polls"`
	// WebhookCalls and PollingCalls are calls per batch in each mode: upload, create,
	// the polls, one read after the end (the webhook's, or the next poll), delete.
	WebhookCalls int `json:"webhookCalls"`
	PollingCalls int `json:"pollingCalls"`
	// PollingDelaySeconds is how long polling-only takes to notice the end.
	PollingDelaySeconds float64 `json:"pollingDelaySeconds"`
}

// pollTimes returns when (after submission) the controller reads a batch that lasts
// `until`, per its schedule: the first read PollIntervalMin after submission, then after
// as long again as the batch had existed, bounded by [lo, hi]. It also returns the
// first read at or after `until`.
func pollTimes(until, lo, hi time.Duration) (before []time.Duration, after time.Duration) {
	t := lo
	for t < until {
		before = append(before, t)
		t += min(max(t, lo), hi)
	}
	return before, t
}

// Project returns the projection of the schedule for a batch lasting d.
func Project(name string, d, lo, hi time.Duration) PollingProjection {
	before, after := pollTimes(d, lo, hi)
	return PollingProjection{Batch: name, Polls: len(before), WebhookCalls: 3 + len(before) + 1,
		PollingCalls: 3 + len(before) + 1, PollingDelaySeconds: (after - d).Seconds()}
}

// RunPolling measures scenario 4: the same batches in webhook mode and polling-only
// mode at once, at the manager's default polling intervals.
func RunPolling(ctx context.Context, l *Lab, opts PollingOptions) (*PollingResults, error) {
	defaults := controllers.DefaultOptions()
	sc, done := track(fmt.Sprintf("two in-process controller sets (default options: poll %s..%s), each with its own in-process emulator at time scale 1: one sends webhooks to the in-process receiver, the other only to a sink that records the completion time (the operator never sees those); %d batches per size per mode, both modes at once", defaults.PollIntervalMin, defaults.PollIntervalMax, opts.PerClass))
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	res := &PollingResults{PollIntervalMin: defaults.PollIntervalMin.String(), PollIntervalMax: defaults.PollIntervalMax.String()}

	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer sink.Close()
	type mode struct {
		name    string
		emu     *emulator.Server
		ns      string
		counter *retrieveCounter
		created map[string]time.Time // resource name -> creation
		ids     map[string]string    // batch id -> resource name
		done    *timeSet             // resource name -> Complete seen
	}
	var mu sync.Mutex
	var modes []*mode
	for _, m := range []struct{ name, hook string }{{ModeWebhooks, l.ReceiverURL}, {ModePolling, sink.URL}} {
		emu, err := emulator.Start(emulator.Options{TimeScale: 1, WebhookURLs: []string{m.hook}, WebhookSecret: l.SecretString})
		if err != nil {
			return nil, err
		}
		defer emu.Close()
		ns, err := l.NewNamespace(ctx, "bench-"+m.name)
		if err != nil {
			return nil, err
		}
		if err := l.CreateCredentials(ctx, ns, emulator.DefaultAPIKey); err != nil {
			return nil, err
		}
		md := &mode{name: m.name, emu: emu, ns: ns, counter: newRetrieveCounter(), created: map[string]time.Time{}, ids: map[string]string{}, done: newTimeSet()}
		stopWatch, err := l.WatchBatches(ctx, ns, func(b *openaiv1alpha1.OpenAIBatch, at time.Time) {
			if b.Status.BatchID != "" {
				mu.Lock()
				md.ids[b.Status.BatchID] = b.Name
				mu.Unlock()
			}
			if isComplete(b) {
				md.done.first(b.Name, at)
			}
		})
		if err != nil {
			return nil, err
		}
		defer stopWatch()
		stop, err := l.StartControllers(ctx, ns, emu.URL(), md.counter, defaults)
		if err != nil {
			return nil, err
		}
		defer stop()
		modes = append(modes, md)
	}

	total := 0
	for _, n := range opts.Requests {
		for k := range opts.PerClass {
			for _, md := range modes {
				name := fmt.Sprintf("p-%04d-%02d", n, k)
				mu.Lock()
				md.created[name] = time.Now()
				mu.Unlock()
				if err := l.Client.Create(ctx, newBatch(md.ns, name, "text-embedding-3-small", n)); err != nil {
					return nil, err
				}
				total++
			}
		}
	}
	for ctx.Err() == nil {
		n := 0
		for _, md := range modes {
			n += md.done.len()
		}
		if n >= total {
			break
		}
		_ = sleep(ctx, 250*time.Millisecond)
	}

	for _, md := range modes {
		stats := md.emu.Stats()
		var all int64
		for _, n := range stats.Calls {
			all += n
		}
		completedAt := map[string]time.Time{} // resource name -> OpenAI completion
		mu.Lock()
		for _, d := range stats.Webhooks {
			if name, ok := md.ids[d.DataID]; ok && d.Type == "batch.completed" {
				completedAt[name] = d.EnqueuedAt
			}
		}
		mu.Unlock()
		pm := PollingMode{Mode: md.name, Calls: stats.Calls, Completed: md.done.len()}
		pm.CallsPerBatch = ratio(float64(all), float64(pm.Completed))
		res.Modes = append(res.Modes, pm)
		nonRetrieve := float64(all-stats.Calls[emulator.OpBatchesRetrieve]) / float64(max(pm.Completed, 1))
		for _, n := range opts.Requests {
			row := PollingRow{Mode: md.name, Requests: n, Batches: opts.PerClass}
			var lats []time.Duration
			var lifetimes []float64
			retrieves := 0
			for k := range opts.PerClass {
				name := fmt.Sprintf("p-%04d-%02d", n, k)
				at, ok := md.done.get(name)
				end, ended := completedAt[name]
				if !ok || !ended {
					continue
				}
				row.Completed++
				lats = append(lats, at.Sub(end))
				mu.Lock()
				lifetimes = append(lifetimes, end.Sub(md.created[name]).Seconds())
				for id, nm := range md.ids {
					if nm == name {
						retrieves += md.counter.count(id)
					}
				}
				mu.Unlock()
			}
			row.ToComplete = Summarize(lats)
			row.BatchSeconds = Median(lifetimes)
			row.RetrievesPerBatch = ratio(float64(retrieves), float64(row.Completed))
			row.CallsPerBatch = row.RetrievesPerBatch + nonRetrieve
			p := Project("", time.Duration(row.BatchSeconds*float64(time.Second)), defaults.PollIntervalMin, defaults.PollIntervalMax)
			row.PredictedCalls = p.PollingCalls
			res.Rows = append(res.Rows, row)
		}
	}
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"10 s", 10 * time.Second}, {"45 s", 45 * time.Second}, {"5 min", 5 * time.Minute}, {"1 h", time.Hour}, {"6 h", 6 * time.Hour}, {"24 h (the completion window)", 24 * time.Hour}} {
		res.Projection = append(res.Projection, Project(p.name, p.d, defaults.PollIntervalMin, defaults.PollIntervalMax))
	}
	done()
	res.Scenario = *sc
	return res, nil
}
