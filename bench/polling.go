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
	// FirstRequests is the size of each mode's first batch, run alone before the others:
	// in webhook mode it is the project's first, so no event has arrived yet and it polls
	// on the short schedule.
	FirstRequests int
	// Requests are the batch sizes measured after the first (requests per batch): at
	// time scale 1 a batch of n requests lasts 3 s + 0.2 s x n.
	Requests []int
	// PerClass is how many batches of each size run in each mode.
	PerClass int
	// Timeout bounds the scenario.
	Timeout time.Duration
	// Controllers are the controllers' options; nil means the manager's defaults (what
	// `make bench` measures). Tests shorten the schedules with it.
	Controllers *controllers.Options
}

// PollingResults are scenario 4's figures.
type PollingResults struct {
	Scenario
	// PollIntervalMin and PollIntervalMax are the short schedule (the manager's defaults):
	// polling-only, and a project whose webhook events have not arrived.
	PollIntervalMin string `json:"pollIntervalMin"`
	PollIntervalMax string `json:"pollIntervalMax"`
	// WebhookPollIntervalMin and WebhookPollIntervalMax are the safety-net schedule of a
	// project whose webhook events arrived within WebhookTrustWindow (the defaults).
	WebhookPollIntervalMin string `json:"webhookPollIntervalMin"`
	WebhookPollIntervalMax string `json:"webhookPollIntervalMax"`
	WebhookTrustWindow     string `json:"webhookTrustWindow"`
	// FirstRequests is the size of each mode's first batch.
	FirstRequests int `json:"firstRequests"`
	// Rows are per mode and batch size, each mode's first batch apart.
	Rows []PollingRow `json:"rows"`
	// Modes are per-mode totals from the emulator's counters.
	Modes []PollingMode `json:"modes"`
	// Projection applies the controller's schedules to longer batches (computed, not
	// measured; the measured rows check it).
	Projection []PollingProjection `json:"projection"`
}

// PollingRow is one mode and batch size.
type PollingRow struct {
	Mode string `json:"mode"`
	// First marks the mode's first batch, run alone before the others.
	First    bool `json:"first,omitempty"`
	Requests int  `json:"requests"`
	Batches  int  `json:"batches"`
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
	// Schedule is the polling schedule the controller applies to these batches
	// ("15s..10m").
	Schedule string `json:"schedule"`
	// PredictedCalls is what that schedule predicts for BatchSeconds.
	PredictedCalls int `json:"predictedCalls"`
}

// PollingMode is one mode's totals.
type PollingMode struct {
	Mode          string           `json:"mode"`
	Calls         map[string]int64 `json:"calls"`
	Completed     int              `json:"completed"`
	CallsPerBatch float64          `json:"callsPerBatch"`
}

// PollingProjection is the schedules applied to a batch of a given length. Calls per
// batch are upload, create, the polls before the end, one read after the end (the
// webhook's, or the next poll) and the input's delete.
type PollingProjection struct {
	Batch string `json:"batch"`
	// Polls and PollingCalls follow the short schedule: polling-only, a project's first
	// batch, and any batch of a project whose events stopped arriving.
	Polls        int `json:"polls"`
	PollingCalls int `json:"pollingCalls"`
	// PollingDelaySeconds is how long the short schedule takes to notice the end.
	PollingDelaySeconds float64 `json:"pollingDelaySeconds"`
	// WebhookPolls and WebhookCalls follow the webhook schedule (safety-net polls, then
	// the webhook's read).
	WebhookPolls int `json:"webhookPolls"`
	WebhookCalls int `json:"webhookCalls"`
	// LostEventDelaySeconds is how long the webhook schedule takes to notice the end
	// when the completion event is lost.
	LostEventDelaySeconds float64 `json:"lostEventDelaySeconds"`
}

// schedule is a polling backoff as the controller applies it: the first read lo after
// submission, then after as long again as the batch had existed, within [lo, hi].
type schedule struct{ lo, hi time.Duration }

// shortSchedule is the schedule of a project whose webhook events have not arrived.
func shortSchedule(o controllers.Options) schedule {
	return schedule{o.PollIntervalMin, o.PollIntervalMax}
}

// webhookSchedule is the schedule of a project whose webhook events arrive (the
// controller's pollBounds).
func webhookSchedule(o controllers.Options) schedule {
	if o.WebhookPollIntervalMin <= 0 {
		return shortSchedule(o)
	}
	return schedule{o.WebhookPollIntervalMin, max(o.WebhookPollIntervalMax, o.WebhookPollIntervalMin)}
}

func (s schedule) String() string { return prettyDuration(s.lo) + ".." + prettyDuration(s.hi) }

// calls returns, for a batch lasting d, the polls before its end, the calls the batch
// costs, and how long after its end the next poll comes.
func (s schedule) calls(d time.Duration) (polls, calls int, delay time.Duration) {
	before, after := pollTimes(d, s.lo, s.hi)
	return len(before), 3 + len(before) + 1, after - d
}

// due reports whether a batch submitted at submitted and last read at lastSync has a
// poll due at now (the controller's nextPoll).
func (s schedule) due(submitted, lastSync, now time.Time) bool {
	return !lastSync.Add(min(max(lastSync.Sub(submitted), s.lo), s.hi)).After(now)
}

// pollTimes returns when (after submission) the controller reads a batch that lasts
// `until`, per its schedule: the first read lo after submission, then after as long
// again as the batch had existed, bounded by [lo, hi]. It also returns the first read
// at or after `until`. A schedule without a positive lo never reads (the controller
// requires one).
func pollTimes(until, lo, hi time.Duration) (before []time.Duration, after time.Duration) {
	if lo <= 0 || hi <= 0 {
		return nil, until
	}
	t := lo
	for t < until {
		before = append(before, t)
		t += min(max(t, lo), hi)
	}
	return before, t
}

// Project returns the projection of the schedules of opts for a batch lasting d.
func Project(name string, d time.Duration, opts controllers.Options) PollingProjection {
	p := PollingProjection{Batch: name}
	var delay time.Duration
	p.Polls, p.PollingCalls, delay = shortSchedule(opts).calls(d)
	p.PollingDelaySeconds = delay.Seconds()
	p.WebhookPolls, p.WebhookCalls, delay = webhookSchedule(opts).calls(d)
	p.LostEventDelaySeconds = delay.Seconds()
	return p
}

// projectedLengths are the batch lengths of the projection.
var projectedLengths = []struct {
	name string
	d    time.Duration
}{
	{"10 s", 10 * time.Second}, {"45 s", 45 * time.Second}, {"5 min", 5 * time.Minute}, {"15 min", 15 * time.Minute},
	{"1 h", time.Hour}, {"6 h", 6 * time.Hour}, {dayBatch, 24 * time.Hour},
}

// dayBatch names the projection of a batch that uses its whole completion window.
const dayBatch = "24 h (the completion window)"

// RunPolling measures scenario 4: the same batches in webhook mode and polling-only
// mode at once, at the manager's default options. Each mode first runs one batch alone;
// once both are Complete (in webhook mode the project has then received an event), the
// others start.
//
//nolint:gocyclo // one scenario's phases in the order they run, sharing their state
func RunPolling(ctx context.Context, l *Lab, opts PollingOptions) (*PollingResults, error) {
	defaults, which := controllers.DefaultOptions(), "the manager's default options"
	if opts.Controllers != nil {
		defaults, which = *opts.Controllers, "options"
	}
	short, hook := shortSchedule(defaults), webhookSchedule(defaults)
	sc, done := track(
		fmt.Sprintf(
			"two in-process controller sets at %s (poll %s; %s once a project's webhook events arrive, trust window %s), each with its own in-process emulator at time scale 1: one sends webhooks to the in-process receiver, the other only to a sink that records the completion time (the operator never sees those); per mode a first batch of %d requests alone, then %d batches per size, both modes at once",
			which,
			short,
			hook,
			prettyDuration(defaults.WebhookTrustWindow),
			opts.FirstRequests,
			opts.PerClass,
		),
	)
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	res := &PollingResults{
		PollIntervalMin: defaults.PollIntervalMin.String(), PollIntervalMax: defaults.PollIntervalMax.String(),
		WebhookPollIntervalMin: defaults.WebhookPollIntervalMin.String(), WebhookPollIntervalMax: defaults.WebhookPollIntervalMax.String(),
		WebhookTrustWindow: defaults.WebhookTrustWindow.String(), FirstRequests: opts.FirstRequests,
	}

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
		md := &mode{
			name:    m.name,
			emu:     emu,
			ns:      ns,
			counter: newRetrieveCounter(defaults),
			created: map[string]time.Time{},
			ids:     map[string]string{},
			done:    newTimeSet(),
		}
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

	// create creates the named batches of n requests in every mode, then waits until
	// every mode has them all Complete.
	create := func(n int, names []string) error {
		for _, name := range names {
			for _, md := range modes {
				mu.Lock()
				md.created[name] = time.Now()
				mu.Unlock()
				if err := l.Client.Create(ctx, newBatch(md.ns, name, "text-embedding-3-small", n)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	waitAll := func() error {
		for {
			pending := 0
			for _, md := range modes {
				mu.Lock()
				pending += len(md.created) - md.done.len()
				mu.Unlock()
			}
			if pending == 0 {
				return nil
			}
			if err := sleep(ctx, 250*time.Millisecond); err != nil {
				return fmt.Errorf("%d batches not Complete: %w", pending, err)
			}
		}
	}
	first := firstBatchName(opts.FirstRequests)
	if err := create(opts.FirstRequests, []string{first}); err != nil {
		return nil, err
	}
	if err := waitAll(); err != nil {
		return nil, fmt.Errorf("the first batches: %w", err)
	}
	for _, n := range opts.Requests {
		var names []string
		for k := range opts.PerClass {
			names = append(names, pollingBatchName(n, k))
		}
		if err := create(n, names); err != nil {
			return nil, err
		}
	}
	_ = waitAll() // on a timeout what completed is still reported; the rows say how much

	for _, md := range modes {
		stats := md.emu.Stats()
		var all int64
		for _, n := range stats.Calls {
			all += n
		}
		completedAt := map[string]time.Time{} // resource name -> OpenAI completion
		mu.Lock()
		for _, d := range stats.Webhooks {
			if name, ok := md.ids[d.DataID]; ok && d.Type == eventBatchCompleted {
				completedAt[name] = d.EnqueuedAt
			}
		}
		mu.Unlock()
		pm := PollingMode{Mode: md.name, Calls: stats.Calls, Completed: md.done.len()}
		pm.CallsPerBatch = ratio(float64(all), float64(pm.Completed))
		res.Modes = append(res.Modes, pm)
		nonRetrieve := float64(all-stats.Calls[emulator.OpBatchesRetrieve]) / float64(max(pm.Completed, 1))

		row := func(first bool, n int, names []string, sched schedule) PollingRow {
			r := PollingRow{Mode: md.name, First: first, Requests: n, Batches: len(names), Schedule: sched.String()}
			var lats []time.Duration
			var lifetimes []float64
			retrieves := 0
			for _, name := range names {
				at, ok := md.done.get(name)
				end, ended := completedAt[name]
				if !ok || !ended {
					continue
				}
				r.Completed++
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
			r.ToComplete = Summarize(lats)
			r.BatchSeconds = Median(lifetimes)
			r.RetrievesPerBatch = ratio(float64(retrieves), float64(r.Completed))
			r.CallsPerBatch = r.RetrievesPerBatch + nonRetrieve
			_, r.PredictedCalls, _ = sched.calls(time.Duration(r.BatchSeconds * float64(time.Second)))
			return r
		}
		// The first batch polls on the short schedule in either mode; in webhook mode the
		// later ones poll on the webhook schedule, the project's events having arrived.
		later := short
		if md.name == ModeWebhooks {
			later = hook
		}
		res.Rows = append(res.Rows, row(true, opts.FirstRequests, []string{first}, short))
		for _, n := range opts.Requests {
			var names []string
			for k := range opts.PerClass {
				names = append(names, pollingBatchName(n, k))
			}
			res.Rows = append(res.Rows, row(false, n, names, later))
		}
	}
	for _, p := range projectedLengths {
		res.Projection = append(res.Projection, Project(p.name, p.d, defaults))
	}
	done()
	res.Scenario = *sc
	return res, nil
}

func firstBatchName(n int) string { return fmt.Sprintf("p-first-%04d", n) }

func pollingBatchName(n, k int) string { return fmt.Sprintf("p-%04d-%02d", n, k) }
