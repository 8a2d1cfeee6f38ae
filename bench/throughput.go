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
	"sync/atomic"
	"time"
)

// ThroughputOptions size scenario 2.
type ThroughputOptions struct {
	// Cells are the (resources, concurrency) pairs measured, resources ascending.
	Cells []ThroughputCellSpec
	// Events is the number of events (and of baseline patches) per round.
	Events int
	// Rounds is the number of rounds of each side; rounds alternate ABBA.
	Rounds int
}

// ThroughputCellSpec is one measured configuration.
type ThroughputCellSpec struct {
	// Resources is how many routed OpenAIBatches exist (and sit in the receiver's cache).
	Resources int `json:"resources"`
	// Concurrency is the number of requests (or baseline patches) in flight.
	Concurrency int `json:"concurrency"`
}

// ThroughputResults are scenario 2's figures.
type ThroughputResults struct {
	Scenario
	Events int              `json:"eventsPerRound"`
	Rounds int              `json:"rounds"`
	Cells  []ThroughputCell `json:"cells"`
}

// ThroughputCell is one configuration's figures: per round, and medians.
type ThroughputCell struct {
	ThroughputCellSpec
	// ReceiverPerSec are events verified, routed and recorded per second, per round.
	ReceiverPerSec []float64 `json:"receiverPerSec"`
	// BarePerSec are the baseline's status patches per second, per round.
	BarePerSec []float64 `json:"barePerSec"`
	// ReceiverMedian and BareMedian are the medians of the rounds.
	ReceiverMedian float64 `json:"receiverMedian"`
	BareMedian     float64 `json:"bareMedian"`
	// Ratio is ReceiverMedian / BareMedian (target: at least 0.8).
	Ratio float64 `json:"ratio"`
	// ReceiverCPUms and BareCPUms are CPU milliseconds per event (medians of the
	// rounds): Self is this process (for the receiver: the sender, the receiver and its
	// client; for the baseline: its client), Server the API server and etcd.
	ReceiverCPUms CPUms `json:"receiverCPUms"`
	BareCPUms     CPUms `json:"bareCPUms"`
	// ReceiverFailures counts requests not answered 200 "accepted"; BareFailures
	// baseline patches that failed.
	ReceiverFailures int64 `json:"receiverFailures"`
	BareFailures     int64 `json:"bareFailures"`
}

// CPUms is CPU time per event, in milliseconds.
type CPUms struct {
	Self   float64 `json:"self"`
	Server float64 `json:"server"`
}

// RunThroughput measures scenario 2: the receiver (in-process, over loopback HTTP)
// against a bare client loop sending the same status patches, in alternating rounds.
func RunThroughput(ctx context.Context, l *Lab, opts ThroughputOptions) (*ThroughputResults, error) {
	sc, done := track(
		fmt.Sprintf(
			"in-process receiver (receiver.NewManager) behind its HTTP server on loopback; envtest API server; %d events per round, %d rounds per side, alternating ABBA",
			opts.Events,
			opts.Rounds,
		),
	)
	res := &ThroughputResults{Events: opts.Events, Rounds: opts.Rounds}
	ns, err := l.NewNamespace(ctx, "bench-throughput")
	if err != nil {
		return nil, err
	}
	var targets []Target
	for ci, spec := range opts.Cells {
		if more := spec.Resources - len(targets); more > 0 {
			t, err := l.CreateRoutedBatches(ctx, ns, len(targets), more)
			if err != nil {
				return nil, fmt.Errorf("creating batches: %w", err)
			}
			targets = append(targets, t...)
		}
		// Spread the events over all the resources.
		chosen := make([]Target, opts.Events)
		for i := range chosen {
			chosen[i] = targets[(i*spec.Resources/opts.Events)%spec.Resources]
		}
		cell := ThroughputCell{ThroughputCellSpec: spec}
		var recvSelf, recvServer, bareSelf, bareServer []float64
		sender := l.NewSender(spec.Concurrency)
		for round := range opts.Rounds {
			order := []string{sideBare, sideReceiver}
			if round%2 == 1 {
				order = []string{sideReceiver, sideBare}
			}
			for _, side := range order {
				rvs, err := l.ResourceVersions(ctx, chosen)
				if err != nil {
					return nil, err
				}
				if err := l.WaitReceiverCache(ctx, rvs); err != nil {
					return nil, err
				}
				runtime.GC()
				tag := fmt.Sprintf("tp%d-%d-%s", ci, round, side)
				var failures atomic.Int64
				cpu0 := ReadCPUTime()
				start := time.Now()
				err = parallel(ctx, len(chosen), spec.Concurrency, func(ctx context.Context, i int) error {
					e := Event{WebhookID: fmt.Sprintf("wh_%s_%d", tag, i), ID: fmt.Sprintf("evt_%s_%d", tag, i),
						Type: eventBatchCompleted, CreatedAt: time.Now(), ObjectID: chosen[i].BatchID}
					if side == sideBare {
						if _, err := BarePatch(ctx, l.Client, chosen[i], rvs[chosen[i]], e); err != nil {
							failures.Add(1)
						}
						return nil
					}
					code, text, err := sender.Send(ctx, e)
					if err != nil || code != 200 || text != "accepted" {
						failures.Add(1)
					}
					return nil
				})
				elapsed := time.Since(start)
				cpu := ReadCPUTime().Sub(cpu0)
				if err != nil {
					return nil, err
				}
				self := float64(cpu.Self) / float64(time.Millisecond) / float64(len(chosen))
				server := float64(cpu.Children) / float64(time.Millisecond) / float64(len(chosen))
				rate := float64(int64(len(chosen))-failures.Load()) / elapsed.Seconds()
				if side == sideBare {
					cell.BarePerSec = append(cell.BarePerSec, rate)
					cell.BareFailures += failures.Load()
					bareSelf, bareServer = append(bareSelf, self), append(bareServer, server)
				} else {
					cell.ReceiverPerSec = append(cell.ReceiverPerSec, rate)
					cell.ReceiverFailures += failures.Load()
					recvSelf, recvServer = append(recvSelf, self), append(recvServer, server)
				}
			}
		}
		sender.CloseIdle()
		cell.ReceiverMedian, cell.BareMedian = Median(cell.ReceiverPerSec), Median(cell.BarePerSec)
		cell.Ratio = ratio(cell.ReceiverMedian, cell.BareMedian)
		cell.ReceiverCPUms = CPUms{Self: Median(recvSelf), Server: Median(recvServer)}
		cell.BareCPUms = CPUms{Self: Median(bareSelf), Server: Median(bareServer)}
		res.Cells = append(res.Cells, cell)
	}
	done()
	res.Scenario = *sc
	return res, nil
}
