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
	"strings"
	"sync"
	"time"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/emulator"
)

// batchLifetime is how long a one-request batch lasts on the emulator at time scale 1:
// 1 s validating, 1 s + 0.2 s in progress, 1 s finalizing.
const batchLifetime = 3200 * time.Millisecond

// EndToEndOptions size scenario 3b.
type EndToEndOptions struct {
	// Runs are the offered completion rates, each with its number of batches.
	Runs []EndToEndRun
	// Timeout bounds one run.
	Timeout time.Duration
}

// EndToEndRun is one offered rate.
type EndToEndRun struct {
	// Rate is completion events per second.
	Rate int `json:"rate"`
	// Batches is how many.
	Batches int `json:"batches"`
	// Injected runs send the events from the benchmark (as OpenAI would) to batches the
	// controller submitted earlier and the emulator already finished, with polling out
	// of the way (PollIntervalMin 10m), so the rate does not depend on how fast the
	// controller submits. Otherwise batches are created at Rate and the emulator sends
	// each completion event itself, one delivery at a time, while others are submitted.
	Injected bool `json:"injected"`
}

// EndToEndResults are scenario 3b's figures.
type EndToEndResults struct {
	Scenario
	Rows []EndToEndRow `json:"rows"`
}

// EndToEndRow is one run.
type EndToEndRow struct {
	EndToEndRun
	// TimeScale is the emulator's: a batch lasts TimeScale x 3.2 s (for runs that are
	// not injected, long enough that every batch is created before the first completes).
	TimeScale float64 `json:"timeScale"`
	// Completed is how many batches reached Complete within the timeout.
	Completed int `json:"completed"`
	// SubmitRate is batches the controller submitted per second (creation of the first
	// resource to a watcher seeing the last status.batchID).
	SubmitRate float64 `json:"submitRate"`
	// EventRate is the achieved rate of completion events (first to last event).
	EventRate float64 `json:"eventRate"`
	// FromPost is from the start of the webhook POST to a watcher seeing Complete.
	FromPost Latency `json:"fromPost"`
	// FromEvent is from the completion (the event enqueued for delivery) to a watcher
	// seeing Complete; it includes the emulator's one-at-a-time delivery queue (equal
	// to FromPost for injected runs).
	FromEvent Latency `json:"fromEvent"`
	// Answer is from the start of the POST to the receiver's answer (injected runs).
	Answer Latency `json:"answer"`
	// Calls are the OpenAI API calls the controller made, by operation.
	Calls map[string]int64 `json:"calls"`
	// CallsPerBatch is all calls divided by completed batches.
	CallsPerBatch float64 `json:"callsPerBatch"`
	// KubeRequestsPerBatch are API server requests per completed batch by "VERB
	// resource[/subresource]" (all clients: receiver, controllers, the watcher), counted
	// from the completion events on for injected runs, over the whole run otherwise.
	KubeRequestsPerBatch map[string]float64 `json:"kubeRequestsPerBatch"`
}

// RunEndToEnd measures scenario 3b: batches completing at a fixed rate, from the event
// to Complete through the receiver, the controllers and the emulator (all in-process).
func RunEndToEnd(ctx context.Context, l *Lab, opts EndToEndOptions) (*EndToEndResults, error) {
	sc, done := track(
		"in-process emulator (webhooks to the in-process receiver), controllers (controllers.SetupWithManager, default options; injected runs first poll after 10 min) and receiver; envtest API server; one-request batches",
	)
	res := &EndToEndResults{}
	for _, run := range opts.Runs {
		row, err := endToEndRun(ctx, l, run, opts.Timeout)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, *row)
	}
	done()
	res.Scenario = *sc
	return res, nil
}

//nolint:gocyclo // one scenario's phases in the order they run, sharing their state
func endToEndRun(ctx context.Context, l *Lab, run EndToEndRun, timeout time.Duration) (*EndToEndRow, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	eopts := emulator.Options{WebhookURLs: []string{l.ReceiverURL}, WebhookSecret: l.SecretString}
	copts := controllers.DefaultOptions()
	creationRate := run.Rate
	if run.Injected {
		// Batches finish on the emulator at once and its events are dropped: the
		// benchmark sends them later, at the offered rate. Polling would find the
		// batches first, so it waits 10 minutes.
		eopts.TimeScale = 0.05
		eopts.Faults = emulator.Faults{WebhookDropRate: 1}
		copts.PollIntervalMin = copts.PollIntervalMax
		creationRate = 200
	} else {
		// Every batch is created before the first completes: lifetime twice the creation time.
		creation := time.Duration(run.Batches) * time.Second / time.Duration(run.Rate)
		eopts.TimeScale = max(2*creation.Seconds(), 5) / batchLifetime.Seconds()
	}
	row := &EndToEndRow{EndToEndRun: run, TimeScale: eopts.TimeScale}

	emu, err := emulator.Start(eopts)
	if err != nil {
		return nil, err
	}
	defer emu.Close()
	ns, err := l.NewNamespace(ctx, "bench-e2e")
	if err != nil {
		return nil, err
	}
	if err := l.CreateCredentials(ctx, ns, emulator.DefaultAPIKey); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	batchIDs := map[string]string{} // batch id -> resource name
	complete, submitted := newTimeSet(), newTimeSet()
	stopWatch, err := l.WatchBatches(ctx, ns, func(b *openaiv1alpha1.OpenAIBatch, at time.Time) {
		if b.Status.BatchID != "" {
			mu.Lock()
			batchIDs[b.Status.BatchID] = b.Name
			mu.Unlock()
			submitted.first(b.Name, at)
		}
		if isComplete(b) {
			complete.first(b.Name, at)
		}
	})
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	stopControllers, err := l.StartControllers(ctx, ns, emu.URL(), nil, copts)
	if err != nil {
		return nil, err
	}
	defer stopControllers()

	kube0, err := apiServerRequests(ctx, l.Kube)
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := paced(ctx, run.Batches, creationRate, func(i int) error {
		return l.Client.Create(ctx, newBatch(ns, fmt.Sprintf("e-%05d", i), "text-embedding-3-small", 1))
	}); err != nil {
		return nil, fmt.Errorf("creating batches: %w", err)
	}
	var posts, answers []time.Duration
	if run.Injected {
		for submitted.len() < run.Batches {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, fmt.Errorf("waiting for %d submissions (have %d): %w", run.Batches, submitted.len(), err)
			}
		}
		row.SubmitRate = submitRate(submitted, begin)
		mu.Lock()
		ids := make([]string, 0, len(batchIDs))
		for id := range batchIDs {
			ids = append(ids, id)
		}
		mu.Unlock()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if kube0, err = apiServerRequests(ctx, l.Kube); err != nil {
			return nil, err
		}
		sender := l.NewSender(64)
		defer sender.CloseIdle()
		starts := make([]time.Time, len(ids))
		answered := make([]time.Duration, len(ids))
		if err := paced(ctx, len(ids), run.Rate, func(i int) error {
			e := Event{WebhookID: "wh_" + ids[i], ID: "evt_" + ids[i], Type: eventBatchCompleted, CreatedAt: time.Now(), ObjectID: ids[i]}
			starts[i] = time.Now()
			if code, _, err := sender.Send(ctx, e); err == nil && code == 200 {
				answered[i] = time.Since(starts[i])
			}
			return nil
		}); err != nil {
			return nil, err
		}
		if n := len(starts); n > 1 {
			row.EventRate = float64(n-1) / starts[n-1].Sub(starts[0]).Seconds()
		}
		waitFor(ctx, func() bool { return complete.len() >= run.Batches })
		for i, id := range ids {
			mu.Lock()
			name := batchIDs[id]
			mu.Unlock()
			if at, ok := complete.get(name); ok {
				posts = append(posts, at.Sub(starts[i]))
			}
			if answered[i] > 0 {
				answers = append(answers, answered[i])
			}
		}
		row.FromPost, row.FromEvent, row.Answer = Summarize(posts), Summarize(posts), Summarize(answers)
	} else {
		waitFor(ctx, func() bool { return complete.len() >= run.Batches })
		row.SubmitRate = submitRate(submitted, begin)
		var fromEvent []time.Duration
		var firstEvent, lastEvent time.Time
		for _, d := range emu.Stats().Webhooks {
			if d.Type != eventBatchCompleted || d.State != emulator.DeliveryDelivered {
				continue
			}
			mu.Lock()
			name, ok := batchIDs[d.DataID]
			mu.Unlock()
			at, seen := complete.get(name)
			if !ok || !seen {
				continue
			}
			posts = append(posts, at.Sub(d.LastAttemptAt))
			fromEvent = append(fromEvent, at.Sub(d.EnqueuedAt))
			if firstEvent.IsZero() || d.EnqueuedAt.Before(firstEvent) {
				firstEvent = d.EnqueuedAt
			}
			if d.EnqueuedAt.After(lastEvent) {
				lastEvent = d.EnqueuedAt
			}
		}
		row.FromPost, row.FromEvent = Summarize(posts), Summarize(fromEvent)
		if n := len(fromEvent); n > 1 {
			row.EventRate = float64(n-1) / lastEvent.Sub(firstEvent).Seconds()
		}
	}
	kube1, err := apiServerRequests(ctx, l.Kube)
	if err != nil {
		return nil, err
	}
	stats := emu.Stats()
	row.Calls = stats.Calls
	var total int64
	for _, n := range stats.Calls {
		total += n
	}
	row.Completed = complete.len()
	row.CallsPerBatch = ratio(float64(total), float64(row.Completed))
	row.KubeRequestsPerBatch = map[string]float64{}
	for k, v := range kube1 {
		if d := v - kube0[k]; d > 0 && !strings.HasPrefix(k, "WATCH") {
			row.KubeRequestsPerBatch[k] = ratio(float64(d), float64(row.Completed))
		}
	}
	// A run that timed out reports what completed; the table says how many.
	return row, nil
}

// submitRate is submissions per second from begin to the last one seen.
func submitRate(submitted *timeSet, begin time.Time) float64 {
	submitted.mu.Lock()
	defer submitted.mu.Unlock()
	var last time.Time
	for _, at := range submitted.m {
		if at.After(last) {
			last = at
		}
	}
	return ratio(float64(len(submitted.m)), last.Sub(begin).Seconds())
}

// paced calls fn(0..n-1) at rate per second, each on its own goroutine (an open loop:
// a slow call does not delay the next), and waits for them all. It returns the first
// error.
func paced(ctx context.Context, n, rate int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	begin := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		if err := sleep(ctx, time.Until(begin.Add(time.Duration(i)*interval))); err != nil {
			wg.Wait()
			return err
		}
		wg.Go(func() {
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		})
	}
	wg.Wait()
	return first
}

// waitFor polls cond every 100 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) {
	for !cond() && ctx.Err() == nil {
		_ = sleep(ctx, 100*time.Millisecond)
	}
}
