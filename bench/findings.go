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
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/openai-operator/openai-operator/controllers"
)

// findings returns the report's closing section: the figures that decide each target,
// side by side with their baselines. Every claim in it is computed from res (a
// comparison is worded from the figures it compares); reasons that the run did not
// measure are left out. TestFindingsFollowEveryFigure alters the results to keep it so.
func findings(res *Results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Findings\n\n")

	if v := res.Verify; v != nil {
		writeVerifyFindings(w, v, res.Throughput)
	}

	if t := res.Throughput; t != nil && len(t.Cells) > 0 {
		writeThroughputFindings(w, t, res.Machine.NProc)
	}

	if l := res.Latency; l != nil {
		writeLatencyFindings(w, l)
	}

	if e := res.EndToEnd; e != nil {
		for _, r := range e.Rows {
			if r.Rate != TargetLatencyRate || !r.Injected {
				continue
			}
			total := 0.0
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(r.KubeRequestsPerBatch)) {
				total += r.KubeRequestsPerBatch[k]
				if v := r.KubeRequestsPerBatch[k]; v >= 0.05 {
					parts = append(parts, fmt.Sprintf("%s %.1f", k, v))
				}
			}
			done := float64(max(r.Completed, 1))
			w("**Event to Complete.** From the event on, each completion costs %.1f API server requests\n", total)
			w("(%s: the receiver's patch, then the controller's requests)\n", strings.Join(parts, ", "))
			w("and %.1f OpenAI calls (batches.retrieve %.1f, files.delete %.1f). ", float64(r.Calls["batches.retrieve"]+r.Calls["files.delete"])/done,
				float64(r.Calls["batches.retrieve"])/done, float64(r.Calls["files.delete"])/done)
			if r.FromPost.P99 < TargetEndToEndP99Ms && r.Completed == r.Batches {
				w("At %d events/s the p99 is %.0f ms: the target is met.\n\n", r.Rate, r.FromPost.P99)
				break
			}
			w("At %d\nevents/s that is about %.0f API server requests a second", r.Rate, float64(r.Rate)*total)
			if ceiling := bareCeiling(res.Throughput); ceiling > 0 {
				w(
					" (%s the %.0f status patches a second of\nsection 2's bare loop, its fastest median)",
					map[bool]string{true: "more than", false: "no more than"}[float64(r.Rate)*total > ceiling],
					ceiling,
				)
			}
			w("; the p99 is %.0f ms (%d of %d complete within the run's\ntimeout). ", r.FromPost.P99, r.Completed, r.Batches)
			if low := lowestRate(e.Rows); low.Rate < r.Rate {
				w(
					"At %d events/s (%s run) the p99 is %.0f ms",
					low.Rate,
					map[bool]string{true: "an injected", false: "an emulator"}[low.Injected],
					low.FromPost.P99,
				)
				w(". ")
			}
			writeCompletionCost(w, r.KubeRequestsPerBatch)
		}
	}

	if p := res.Polling; p != nil {
		writePollingFindings(w, p)
	}

	if s := res.Scale; s != nil && len(s.Steps) > 0 {
		first, last := s.Steps[0], s.Steps[len(s.Steps)-1]
		mgr := max(last.ManagerPeakMiB, last.ResyncPeakMiB)
		w(
			"**Scale.** From %d to %d in-flight batches (plus %d to %d completed) the manager's peak\n",
			first.InFlight,
			last.InFlight,
			first.Completed,
			last.Completed,
		)
		w(
			"grows from %.0f to %.0f MiB while submitting, and a restarted manager peaks at %.0f to\n",
			first.ManagerPeakMiB,
			last.ManagerPeakMiB,
			first.ResyncPeakMiB,
		)
		w(
			"%.0f MiB; the receiver's from %.0f to %.0f MiB.\n",
			last.ResyncPeakMiB,
			first.ReceiverPeakMiB,
			max(last.ReceiverPeakMiB, last.ReceiverRestartPeakMiB),
		)
		w(
			"A restarted manager resynced %d objects in %.1f s (%d objects: %.1f s).\n",
			last.InFlight+last.Completed,
			last.ResyncSeconds,
			first.InFlight+first.Completed,
			first.ResyncSeconds,
		)
		w("During the resync it read %d terminal batches from OpenAI", last.ResyncTerminalReads)
		if last.ResyncTerminalReads == 0 {
			w(" (terminal resources cost nothing)")
		}
		w(".\n")
		calls := sumCalls(last.ResyncCalls)
		if last.ResyncWebhookEvents > 0 {
			w("%d batches recorded a webhook event of the project received within the trust window:\n", last.ResyncWebhookEvents)
			w("the new manager learns from them, as it reconciles them, that the project's events\n")
			w("arrive, and from then on polls the in-flight batches on the webhook schedule, which had\n")
			w("%d polls due by the end of the resync (the short schedule: %d). ", last.ResyncDuePollsWebhook, last.ResyncDuePolls)
			switch {
			case calls <= int64(last.ResyncDuePollsWebhook):
				w("It made %d OpenAI calls:\nno more than those polls, not a re-read of everything.", calls)
			case calls <= int64(last.ResyncDuePolls):
				w(
					"It made %d OpenAI calls, more\nthan the webhook schedule had due but no more than the short one: as batches reconciled\nbefore the manager had seen one of the project's events do (they poll on the short\nschedule).",
					calls,
				)
			default:
				w("It made %d OpenAI calls, more\nthan either schedule had due: a restart costs reads beyond the schedule.", calls)
			}
		} else {
			w("No batch recorded a recent webhook event, so the in-flight batches poll on the short\nschedule, which had %d polls due by the end of the resync. ", last.ResyncDuePolls)
			if calls <= int64(last.ResyncDuePolls) {
				w("It made %d OpenAI calls: no\nmore than those polls, not a re-read of everything.", calls)
			} else {
				w("It made %d OpenAI calls, more\nthan the schedule had due: a restart costs reads beyond the schedule.", calls)
			}
		}
		if calls > 0 {
			w(
				" The credentials Secret was\nread %d times from the API server for them (a read is reused for 30 s).",
				last.ResyncKubeRequests["GET secrets"],
			)
		}
		w("\n")
		if last.InFlight >= scaleTargetInFlightSize {
			writeManagerMemory(w, last, mgr)
		}
		w("\n")
	}
	return b.String()
}

// writeCompletionCost states what the API server requests of one completion were
// (scenario 3b, when the target is missed).
func writeCompletionCost(w func(string, ...any), perBatch map[string]float64) {
	secrets := perBatch["GET secrets"]
	patches := perBatch["PATCH openaibatches/status"]
	if secrets >= 0.5 {
		w("The credentials Secret costs %.1f reads per completion although a read is reused for\n30 s. ", secrets)
	} else {
		w("The credentials Secret costs %.2f reads per completion (a read is reused for 30 s\nacross the project's resources). ", secrets)
	}
	if patches > 2.05 {
		w("The %.1f status patches per completion are more than the receiver's\nand the controller's one each. ", patches)
	}
	w("\n\n")
}

// writePollingFindings explains scenario 4.
func writePollingFindings(w func(string, ...any), p *PollingResults) {
	opts, err := pollingOptions(p)
	if err != nil {
		w("**Webhooks versus polling.** The schedules of this run cannot be read back: %v.\n\n", err)
		return
	}
	short, hook := shortSchedule(opts), webhookSchedule(opts)
	var hookFirst, pollFirst *PollingRow
	var hookLater, pollLater []PollingRow
	hookMax, pollMax := 0.0, 0.0
	var mismatched []string
	for i, r := range p.Rows {
		if r.Completed == 0 {
			continue
		}
		if math.Abs(r.CallsPerBatch-float64(r.PredictedCalls)) > 0.05 {
			mismatched = append(
				mismatched,
				fmt.Sprintf(
					"%s %s %d requests: %.1f against %d",
					r.Mode,
					map[bool]string{true: "first", false: "later"}[r.First],
					r.Requests,
					r.CallsPerBatch,
					r.PredictedCalls,
				),
			)
		}
		switch {
		case r.Mode == ModeWebhooks && r.First:
			hookFirst = &p.Rows[i]
		case r.Mode == ModeWebhooks:
			hookLater = append(hookLater, r)
		case r.First:
			pollFirst = &p.Rows[i]
		default:
			pollLater = append(pollLater, r)
		}
		if r.Mode == ModeWebhooks {
			hookMax = max(hookMax, r.ToComplete.Max)
		} else {
			pollMax = max(pollMax, r.ToComplete.Max)
		}
	}
	w("**Webhooks versus polling.** With webhooks `Complete` followed OpenAI's completion within\n")
	w(
		"%.0f ms at most; polling only, within %.1f s at most (the short schedule reads up to %s apart).\n",
		hookMax,
		pollMax/1000,
		prettyDuration(short.hi),
	)
	if len(hookLater) > 0 && len(pollLater) > 0 {
		lo, hi := callsRange(hookLater)
		rlo, rhi := readsRange(hookLater)
		plo, phi := callsRange(pollLater)
		w("Once an event of the project had arrived, the controller polled its later batches on\n")
		w("the webhook schedule (%s): they cost %s calls (%s reads", hook, span(lo, hi), span(rlo, rhi))
		if rhi <= 1.05 {
			w(": the webhook's\nonly")
		}
		w(") where the same batches cost %s polling only.\n", span(plo, phi))
	}
	if hookFirst != nil {
		w("The project's first batch (%d requests, %.0f s) cost %.1f calls", hookFirst.Requests, hookFirst.BatchSeconds, hookFirst.CallsPerBatch)
		if pollFirst != nil {
			w(" (polling only: %.1f)", pollFirst.CallsPerBatch)
		}
		w(": until\nan event of a project arrives the controller cannot tell that its webhooks work, so it\n")
		w("keeps the short schedule; OpenAI sends events only when a batch or response ends, so the\n")
		w("project's first resource to end is what switches it.\n")
	}
	if len(mismatched) == 0 {
		w("Every measured row matches its schedule's prediction.\n")
	} else {
		w("%d rows differ from their schedule's prediction (%s).\n", len(mismatched), strings.Join(mismatched, "; "))
	}

	target := TargetCallsPerBatch
	worst := 0.0
	for _, r := range hookLater {
		worst = max(worst, r.CallsPerBatch)
	}
	var day PollingProjection
	for _, pr := range p.Projection {
		if pr.Batch == dayBatch {
			day = pr
		}
	}
	within := maxLengthWithin(hook, target)
	switch {
	case len(hookLater) == 0:
		w("No later batch completed, so the target is not measured.\n\n")
		return
	case worst > float64(target):
		w("Measured, later batches cost up to %.1f calls: the target (at most %d) is missed.\n", worst, target)
	case day.WebhookCalls > target:
		w("Measured, the target is met (at most %.1f calls). By the schedule it holds for batches\n", worst)
		w(
			"that end within %s; a batch that uses its 24 h window costs %d (%d safety-net polls):\n",
			prettyDuration(within),
			day.WebhookCalls,
			day.WebhookPolls,
		)
		w("**the target is missed there.** Those polls are the safety net against a lost event:\n")
		w("the webhook schedule notices one within %s at most. ", prettyDuration(hook.hi))
		if m, ok := dayMinimum(opts, target); ok {
			w("Meeting %d calls for a 24 h batch\nleaves room for %d safety-net poll(s) in a day, for example\n", target, target-4)
			w("`--webhook-poll-interval-min=%s` (the cap rising with it), at the price of noticing a\n", prettyDuration(m))
			w("lost event up to %s late.\n", prettyDuration(m))
		} else {
			w("No safety-net schedule meets\n%d calls for a 24 h batch.\n", target)
		}
	default:
		w(
			"The target is met, measured (at most %.1f calls) and for a batch that uses its 24 h\nwindow (%d calls by the schedule).\n",
			worst,
			day.WebhookCalls,
		)
	}
	w("A project's first resources, until one of them ends, and any project whose events stop\n")
	w("for more than %s, pay the short schedule: %d calls for a 24 h batch.\n\n", prettyDuration(opts.WebhookTrustWindow), day.PollingCalls)
}

// pollingOptions reads the schedules of a scenario 4 run back into options.
func pollingOptions(p *PollingResults) (controllers.Options, error) {
	o := controllers.DefaultOptions()
	for _, f := range []struct {
		s string
		d *time.Duration
	}{{p.PollIntervalMin, &o.PollIntervalMin}, {p.PollIntervalMax, &o.PollIntervalMax}, {p.WebhookPollIntervalMin, &o.WebhookPollIntervalMin},
		{p.WebhookPollIntervalMax, &o.WebhookPollIntervalMax}, {p.WebhookTrustWindow, &o.WebhookTrustWindow}} {
		d, err := time.ParseDuration(f.s)
		if err != nil {
			return o, err
		}
		*f.d = d
	}
	return o, nil
}

// maxLengthWithin is the longest batch that costs at most target calls on s: one that
// ends by its (target-3)th poll.
func maxLengthWithin(s schedule, target int) time.Duration {
	polls := target - 4 // upload, create, the read after the end, delete
	if polls < 0 || s.lo <= 0 {
		return 0
	}
	t := s.lo
	for range polls {
		t += min(max(t, s.lo), s.hi)
	}
	return t
}

// dayMinimum is the shortest first webhook polling interval (among round values, the cap
// rising with it) at which a 24 h batch costs at most target calls.
func dayMinimum(o controllers.Options, target int) (time.Duration, bool) {
	for _, m := range []time.Duration{
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	} {
		if _, calls, _ := (schedule{m, max(o.WebhookPollIntervalMax, m)}).calls(24 * time.Hour); calls <= target {
			return m, true
		}
	}
	return 0, false
}

// span renders a range of figures ("4.0", or "4.0 to 7.0").
func span(lo, hi float64) string {
	if fmt.Sprintf("%.1f", lo) == fmt.Sprintf("%.1f", hi) {
		return fmt.Sprintf("%.1f", lo)
	}
	return fmt.Sprintf("%.1f to %.1f", lo, hi)
}

func callsRange(rows []PollingRow) (lo, hi float64) {
	lo, hi = rows[0].CallsPerBatch, rows[0].CallsPerBatch
	for _, r := range rows {
		lo, hi = min(lo, r.CallsPerBatch), max(hi, r.CallsPerBatch)
	}
	return lo, hi
}

func readsRange(rows []PollingRow) (lo, hi float64) {
	lo, hi = rows[0].RetrievesPerBatch, rows[0].RetrievesPerBatch
	for _, r := range rows {
		lo, hi = min(lo, r.RetrievesPerBatch), max(hi, r.RetrievesPerBatch)
	}
	return lo, hi
}

// writeManagerMemory explains the manager's peak against its target (scenario 5).
func writeManagerMemory(w func(string, ...any), last ScaleRow, mgr float64) {
	when := fmt.Sprintf("while submitting (a restarted manager holding the same objects peaks at %.0f MiB)", last.ResyncPeakMiB)
	if last.ResyncPeakMiB > last.ManagerPeakMiB {
		when = fmt.Sprintf("after a restart (the manager that submitted them peaked at %.0f MiB)", last.ManagerPeakMiB)
	}
	if mgr < TargetManagerMiB {
		w("The manager's target (< %d MiB) is met: its peak is %.0f MiB, reached %s.\n", TargetManagerMiB, mgr, when)
	} else {
		w("The manager's target (< %d MiB) is missed: its peak is %.0f MiB, reached %s.\n", TargetManagerMiB, mgr, when)
	}
	if last.ManagerFileMiB > 0 {
		w("Of the %.0f MiB resident at the end of the submissions, %.0f MiB are file-backed pages\n", last.ManagerRSSMiB, last.ManagerFileMiB)
		w("(mapped files, the executable among them: the page cache shares them between processes)\n")
		w("and %.0f MiB anonymous memory", last.ManagerAnonMiB)
		if last.ManagerHeapMiB > 0 {
			w(", of which the Go heap in use is %.0f MiB", last.ManagerHeapMiB)
		}
		w(".\n")
	} else if last.ManagerHeapMiB > 0 {
		w("The Go heap in use was %.0f MiB of the %.0f MiB resident.\n", last.ManagerHeapMiB, last.ManagerRSSMiB)
	}
	w("The cache holds every OpenAIBatch without managedFields (%.0f of the %.0f bytes of a\n", last.ManagedFieldsBytes, last.ObjectBytes)
	w("one-request batch as the API serves it).\n")
}

func minRatio(cells []ThroughputCell) float64 {
	m := cells[0].Ratio
	for _, c := range cells {
		m = min(m, c.Ratio)
	}
	return m
}

func maxRatio(cells []ThroughputCell) float64 {
	m := cells[0].Ratio
	for _, c := range cells {
		m = max(m, c.Ratio)
	}
	return m
}

func sumCalls(calls map[string]int64) int64 {
	var n int64
	for _, v := range calls {
		n += v
	}
	return n
}

// pretty drops the zero units of a duration's String ("10m0s" -> "10m").
func pretty(d string) string {
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

// prettyDuration is d's String without its zero units ("6h0m0s" -> "6h").
func prettyDuration(d time.Duration) string { return pretty(d.String()) }

// lowestRate returns the run with the lowest offered rate.
func lowestRate(rows []EndToEndRow) EndToEndRow {
	low := rows[0]
	for _, r := range rows {
		if r.Rate < low.Rate {
			low = r
		}
	}
	return low
}

// writeVerifyFindings compares the receiver's verifier with openai-go's (scenario 1) and,
// when scenario 2 ran, with the receiver's CPU per event.
func writeVerifyFindings(w func(string, ...any), v *VerifyResults, t *ThroughputResults) {
	rows := map[string]VerifyRow{}
	for _, r := range v.Rows {
		rows[r.Body+"/"+r.Library] = r
	}
	small, okSmall := rows["1KiB/receiver"]
	large, okLarge := rows["64KiB/receiver"]
	if !okSmall || !okLarge {
		return
	}
	w("**Verification.** The receiver verifies a 1 KiB event in %.1f µs (%.2fx openai-go's time) and a\n", small.NsPerOp/1000, small.VsOpenAIGo)
	w("64 KiB one in %.0f µs (%.2fx). ", large.NsPerOp/1000, large.VsOpenAIGo)
	if small.BytesPerOp == large.BytesPerOp && small.AllocsPerOp == large.AllocsPerOp {
		w("Its memory does not grow with the body: %.0f B in %.0f allocations at both sizes", large.BytesPerOp, large.AllocsPerOp)
	} else {
		w("It allocates %.0f B in %.0f allocations at 1 KiB and %.0f B in %.0f at 64 KiB",
			small.BytesPerOp, small.AllocsPerOp, large.BytesPerOp, large.AllocsPerOp)
	}
	if oa, ok := rows["64KiB/openai-go"]; ok {
		w("; openai-go\nallocates %.0f B in %.0f allocations per 64 KiB event", oa.BytesPerOp, oa.AllocsPerOp)
	}
	w(".\n")
	if t != nil && len(t.Cells) > 0 {
		self := make([]float64, 0, len(t.Cells))
		for _, c := range t.Cells {
			self = append(self, c.ReceiverCPUms.Self)
		}
		if perEvent := Median(self); perEvent > 0 {
			w(
				"A 1 KiB verification is %.1f%% and a 64 KiB one %.1f%% of the %.2f ms of CPU the receiver's process\n",
				100*small.NsPerOp/1e6/perEvent,
				100*large.NsPerOp/1e6/perEvent,
				perEvent,
			)
			w("spent per event in section 2 (the median of its cells).\n")
		}
	}
	w("\n")
}

// writeThroughputFindings compares the receiver with the bare patch loop (scenario 2).
func writeThroughputFindings(w func(string, ...any), t *ThroughputResults, nproc int) {
	worst := t.Cells[0]
	for _, c := range t.Cells {
		if c.Ratio < worst.Ratio {
			worst = c
		}
	}
	w("**Receiver throughput.** The receiver sustains %s the bare loop's rate on a machine\n", ratioSpan(minRatio(t.Cells), maxRatio(t.Cells)))
	w("with %d CPUs (`nproc`) shared by the API server, etcd and both sides. In the slowest cell\n", nproc)
	w(
		"(%d resources, %d in flight) the API server and etcd spent %.1f ms of CPU per event with the\n",
		worst.Resources,
		worst.Concurrency,
		worst.ReceiverCPUms.Server,
	)
	w("receiver and %.1f ms with the bare loop; the receiver's process spent %.1f ms, the bare\n", worst.BareCPUms.Server, worst.ReceiverCPUms.Self)
	w("client %.1f ms", worst.BareCPUms.Self)
	if d := worst.ReceiverCPUms.Self - worst.BareCPUms.Self; d > 0 {
		w(" (%.1f ms more per event for the webhook's HTTP exchange, verification, the\ncache lookup and this benchmark's sender)", d)
	} else {
		w(" (no more than the bare client)")
	}
	w(".\n")
	// The same concurrency at the fewest and the most resources shows whether routing
	// (the cache lookup) grows with the number of resources.
	byConc := map[int][]ThroughputCell{}
	for _, c := range t.Cells {
		byConc[c.Concurrency] = append(byConc[c.Concurrency], c)
	}
	for _, conc := range slices.Sorted(maps.Keys(byConc)) {
		cells := byConc[conc]
		lo, hi := cells[0], cells[0]
		for _, c := range cells {
			if c.Resources < lo.Resources {
				lo = c
			}
			if c.Resources > hi.Resources {
				hi = c
			}
		}
		if lo.Resources == hi.Resources {
			continue
		}
		w(
			"With %d in flight: %.2fx and %.2f ms of the receiver's CPU per event at %d resources,\n",
			conc,
			lo.Ratio,
			lo.ReceiverCPUms.Self,
			lo.Resources,
		)
		w("%.2fx and %.2f ms at %d.\n", hi.Ratio, hi.ReceiverCPUms.Self, hi.Resources)
	}
	if worst.Ratio < TargetThroughputRatio {
		w(
			"The target (%.1fx) is missed (%.2fx with %d resources and %d in flight)",
			TargetThroughputRatio,
			worst.Ratio,
			worst.Resources,
			worst.Concurrency,
		)
		if len(worst.ReceiverPerSec) > 0 && len(worst.BarePerSec) > 0 && slices.Max(worst.ReceiverPerSec) >= slices.Min(worst.BarePerSec) {
			w(", within the noise of\nthis machine: the rounds of the two sides overlap.\n")
		} else {
			w(": every receiver round\nwas slower than every bare round.\n")
		}
	}
	w("\n")
}

// writeLatencyFindings reads scenario 3a at the target rate, and the highest rate at
// which the receiver met the target.
func writeLatencyFindings(w func(string, ...any), l *LatencyResults) {
	for _, r := range l.Rows {
		if r.Rate != TargetLatencyRate {
			continue
		}
		w("**Latency, POST to watcher.** At %d events/s the p99 is %.1f ms through the receiver and\n", r.Rate, r.Receiver.P99)
		w("%.1f ms for the bare patch at the same rate", r.Bare.P99)
		if r.ReceiverLost > 0 || r.BareLost > 0 {
			w(", with %d and %d events not seen within the wait", r.ReceiverLost, r.BareLost)
		}
		if r.Receiver.P99 < TargetLatencyP99Ms && r.ReceiverLost == 0 {
			w(": the target is met.\n")
		} else {
			w(": the target (p99 < %d ms) is missed", TargetLatencyP99Ms)
			if r.Bare.P99 >= TargetLatencyP99Ms {
				w(", and the bare patch misses it too, so at this rate\nthe API server on this machine, not the receiver, puts it out of reach")
			}
			w(".\n")
		}
	}
	best := -1
	for i, r := range l.Rows {
		if r.Receiver.P99 < TargetLatencyP99Ms && r.ReceiverLost == 0 && (best < 0 || r.Rate > l.Rows[best].Rate) {
			best = i
		}
	}
	if best >= 0 && l.Rows[best].Rate != TargetLatencyRate {
		r := l.Rows[best]
		w(
			"The highest rate measured with the p99 under %d ms is %d events/s (%.1f ms; bare patch %.1f ms).\n",
			TargetLatencyP99Ms,
			r.Rate,
			r.Receiver.P99,
			r.Bare.P99,
		)
	} else if best < 0 && len(l.Rows) > 0 {
		w("No measured rate kept the p99 under %d ms.\n", TargetLatencyP99Ms)
	}
	w("\n")
}

// bareCeiling is the fastest median of section 2's bare patch loop (0 if not measured).
func bareCeiling(t *ThroughputResults) float64 {
	best := 0.0
	if t != nil {
		for _, c := range t.Cells {
			best = max(best, c.BareMedian)
		}
	}
	return best
}

// ratioSpan renders a range of ratios ("0.90x", or "0.90x to 0.96x").
func ratioSpan(lo, hi float64) string {
	if fmt.Sprintf("%.2f", lo) == fmt.Sprintf("%.2f", hi) {
		return fmt.Sprintf("%.2fx", lo)
	}
	return fmt.Sprintf("%.2fx to %.2fx", lo, hi)
}
