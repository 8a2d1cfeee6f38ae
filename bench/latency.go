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
	"runtime"
	"sync"
	"time"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// LatencyOptions size scenario 3a.
type LatencyOptions struct {
	// Rates are the fixed event rates measured, events per second.
	Rates []int
	// Duration is how long each rate is held, per side.
	Duration time.Duration
	// Resources is how many routed OpenAIBatches the events spread over.
	Resources int
	// Wait bounds how long to wait for the watcher after the last event.
	Wait time.Duration
}

// The two sides that scenarios 3a and 3b compare: the receiver's path, and the
// baseline that patches the status itself.
const (
	sideReceiver = "receiver"
	sideBare     = "bare"
)

// eventBatchCompleted is the type of the events the scenarios send.
const eventBatchCompleted = "batch.completed"

// LatencyResults are scenario 3a's figures.
type LatencyResults struct {
	Scenario
	Resources int          `json:"resources"`
	Rows      []LatencyRow `json:"rows"`
}

// LatencyRow is one rate: the receiver's path and the baseline's, side by side.
type LatencyRow struct {
	// Rate is the offered rate, events per second (open loop: sends do not wait for
	// answers); Events how many were sent per side.
	Rate   int `json:"rate"`
	Events int `json:"events"`
	// Receiver is from the start of the POST to a watcher seeing status.lastWebhookEvent.
	Receiver Latency `json:"receiver"`
	// ReceiverAnswer is from the start of the POST to the receiver's 200.
	ReceiverAnswer Latency `json:"receiverAnswer"`
	// Bare is from the start of the baseline's patch to the watcher seeing it.
	Bare Latency `json:"bare"`
	// ReceiverLost and BareLost count events the watcher did not see within the wait
	// (including refused requests and failed patches).
	ReceiverLost int `json:"receiverLost"`
	BareLost     int `json:"bareLost"`
	// P99Ratio is Receiver.P99 / Bare.P99.
	P99Ratio float64 `json:"p99Ratio"`
}

// RunLatency measures scenario 3a: at fixed rates, the time from an event's POST to a
// watcher seeing the recorded status, next to a bare patch at the same rate.
func RunLatency(ctx context.Context, l *Lab, opts LatencyOptions) (*LatencyResults, error) {
	sc, done := track(
		fmt.Sprintf(
			"in-process receiver over loopback HTTP, envtest API server, a separate watch connection; open-loop sends at each rate for %s per side, %d resources",
			opts.Duration,
			opts.Resources,
		),
	)
	ns, err := l.NewNamespace(ctx, "bench-latency")
	if err != nil {
		return nil, err
	}
	targets, err := l.CreateRoutedBatches(ctx, ns, 0, opts.Resources)
	if err != nil {
		return nil, err
	}
	seen := newTimeSet()
	stopWatch, err := l.WatchBatches(ctx, ns, func(b *openaiv1alpha1.OpenAIBatch, at time.Time) {
		if e := b.Status.LastWebhookEvent; e != nil {
			seen.first(e.ID, at)
		}
	})
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	res := &LatencyResults{Resources: opts.Resources}
	for ri, rate := range opts.Rates {
		row := LatencyRow{Rate: rate, Events: int(opts.Duration.Seconds() * float64(rate))}
		sides := []string{sideBare, sideReceiver}
		if ri%2 == 1 {
			sides = []string{sideReceiver, sideBare}
		}
		for _, side := range sides {
			lat, answer, lost, err := latencyRun(ctx, l, seen, targets, side, rate, row.Events, opts.Wait)
			if err != nil {
				return nil, err
			}
			if side == sideBare {
				row.Bare, row.BareLost = lat, lost
			} else {
				row.Receiver, row.ReceiverAnswer, row.ReceiverLost = lat, answer, lost
			}
		}
		row.P99Ratio = ratio(row.Receiver.P99, row.Bare.P99)
		res.Rows = append(res.Rows, row)
	}
	done()
	res.Scenario = *sc
	return res, nil
}

// latencyRun sends n events (or baseline patches) at rate per second, open loop, and
// returns the latencies to the watcher, the receiver's answer latencies, and how many
// were never seen.
func latencyRun(
	ctx context.Context,
	l *Lab,
	seen *timeSet,
	targets []Target,
	side string,
	rate, n int,
	wait time.Duration,
) (Latency, Latency, int, error) {
	rvs, err := l.ResourceVersions(ctx, targets)
	if err != nil {
		return Latency{}, Latency{}, 0, err
	}
	if err := l.WaitReceiverCache(ctx, rvs); err != nil {
		return Latency{}, Latency{}, 0, err
	}
	var rvMu sync.Mutex
	sender := l.NewSender(64)
	defer sender.CloseIdle()
	runtime.GC()

	tag := fmt.Sprintf("lat%d-%s", rate, side)
	starts := make([]time.Time, n)
	answers := make([]time.Duration, n)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	begin := time.Now()
	for i := range n {
		if err := sleep(ctx, time.Until(begin.Add(time.Duration(i)*interval))); err != nil {
			return Latency{}, Latency{}, 0, err
		}
		wg.Go(func() {
			t := targets[i%len(targets)]
			e := Event{WebhookID: fmt.Sprintf("wh_%s_%d", tag, i), ID: fmt.Sprintf("evt_%s_%d", tag, i),
				Type: eventBatchCompleted, CreatedAt: time.Now(), ObjectID: t.BatchID}
			starts[i] = time.Now()
			if side == sideBare {
				rvMu.Lock()
				rv := rvs[t]
				rvMu.Unlock()
				if newRV, err := BarePatch(ctx, l.Client, t, rv, e); err == nil {
					rvMu.Lock()
					rvs[t] = newRV
					rvMu.Unlock()
				}
				return
			}
			if code, _, err := sender.Send(ctx, e); err == nil && code == 200 {
				answers[i] = time.Since(starts[i])
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		all := true
		for i := range n {
			if _, ok := seen.get(fmt.Sprintf("evt_%s_%d", tag, i)); !ok {
				all = false
				break
			}
		}
		if all {
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return Latency{}, Latency{}, 0, err
		}
	}
	var lats, ans []time.Duration
	lost := 0
	for i := range n {
		at, ok := seen.get(fmt.Sprintf("evt_%s_%d", tag, i))
		if !ok {
			lost++
			continue
		}
		lats = append(lats, at.Sub(starts[i]))
		if answers[i] > 0 {
			ans = append(ans, answers[i])
		}
	}
	return Summarize(lats), Summarize(ans), lost, nil
}
