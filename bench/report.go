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
	"os"
	"slices"
	"strings"
	"time"
)

// Targets of the report. They are checked here, never in tests.
const (
	TargetThroughputRatio   = 0.8
	TargetLatencyP99Ms      = 50
	TargetEndToEndP99Ms     = 500
	TargetLatencyRate       = 200
	TargetCallsPerBatch     = 5
	TargetManagerMiB        = 150
	TargetReceiverMiB       = 80
	targetVerifyVsOpenAIGo  = 1.0
	scaleTargetInFlightSize = 5000
)

// Check is one target and whether the run met it.
type Check struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Met is nil when the run did not measure it.
	Met *bool `json:"met,omitempty"`
}

// WriteReport writes the Markdown report of res to path.
func WriteReport(path string, res *Results) error {
	doc := Report(res)
	if old, err := os.ReadFile(path); err == nil {
		// make bench-scale's section is kept.
		if i, j := strings.Index(string(old), ScaleSectionStart), strings.Index(string(old), ScaleSectionEnd); i >= 0 && j > i {
			doc = ReplaceScaleSection(doc, string(old)[i+len(ScaleSectionStart)+1:j])
		}
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// The markers of make bench-scale's section of the report.
const (
	ScaleSectionStart = "<!-- bench-scale:start (make bench-scale writes this section) -->"
	ScaleSectionEnd   = "<!-- bench-scale:end -->"
)

// ReplaceScaleSection returns doc with make bench-scale's section set to section
// (appended if doc has none).
func ReplaceScaleSection(doc, section string) string {
	full := ScaleSectionStart + "\n" + section + ScaleSectionEnd
	i, j := strings.Index(doc, ScaleSectionStart), strings.Index(doc, ScaleSectionEnd)
	if i >= 0 && j > i {
		return doc[:i] + full + doc[j+len(ScaleSectionEnd):]
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + full + "\n"
}

// Checks evaluates the targets against res.
//
//nolint:gocyclo // one short block per target, in the report's order
func Checks(res *Results) []Check {
	var out []Check
	add := func(target, measured string, met *bool) { out = append(out, Check{target, measured, met}) }
	bp := func(b bool) *bool { return &b }

	if v := res.Verify; v != nil {
		var parts []string
		ok := true
		for _, r := range v.Rows {
			if r.Library == libReceiver {
				parts = append(parts, fmt.Sprintf("%.2fx at %s", r.VsOpenAIGo, r.Body))
				ok = ok && r.VsOpenAIGo <= targetVerifyVsOpenAIGo
			}
		}
		add("1. Receiver's verifier no slower than openai-go (ns/op)", "receiver / openai-go: "+strings.Join(parts, ", "), bp(ok && len(parts) > 0))
	} else {
		add("1. Receiver's verifier no slower than openai-go (ns/op)", "not measured", nil)
	}
	if t := res.Throughput; t != nil && len(t.Cells) > 0 {
		parts := make([]string, 0, len(t.Cells))
		ok := true
		for _, c := range t.Cells {
			parts = append(parts, fmt.Sprintf("%.2fx (%d resources, %d in flight)", c.Ratio, c.Resources, c.Concurrency))
			ok = ok && c.Ratio >= TargetThroughputRatio
		}
		add(fmt.Sprintf("2. Receiver throughput >= %.1fx a bare patch loop", TargetThroughputRatio), strings.Join(parts, "; "), bp(ok))
	} else {
		add(fmt.Sprintf("2. Receiver throughput >= %.1fx a bare patch loop", TargetThroughputRatio), "not measured", nil)
	}
	if l := res.Latency; l != nil {
		found := false
		for _, r := range l.Rows {
			if r.Rate == TargetLatencyRate {
				found = true
				add(
					fmt.Sprintf("3a. POST to watcher p99 < %d ms at %d events/s", TargetLatencyP99Ms, TargetLatencyRate),
					fmt.Sprintf(
						"p99 %.1f ms (p50 %.1f ms; bare patch p99 %.1f ms)",
						r.Receiver.P99,
						r.Receiver.P50,
						r.Bare.P99,
					),
					bp(r.Receiver.P99 < TargetLatencyP99Ms && r.ReceiverLost == 0),
				)
			}
		}
		if !found {
			add(fmt.Sprintf("3a. POST to watcher p99 < %d ms at %d events/s", TargetLatencyP99Ms, TargetLatencyRate), "rate not measured", nil)
		}
	} else {
		add(fmt.Sprintf("3a. POST to watcher p99 < %d ms at %d events/s", TargetLatencyP99Ms, TargetLatencyRate), "not measured", nil)
	}
	if e := res.EndToEnd; e != nil {
		found := false
		for _, r := range e.Rows {
			if r.Rate == TargetLatencyRate {
				found = true
				add(
					fmt.Sprintf("3b. Event to Complete p99 < %d ms at %d events/s", TargetEndToEndP99Ms, TargetLatencyRate),
					fmt.Sprintf(
						"p99 %.0f ms (p50 %.0f ms), %d of %d complete, %.0f events/s achieved",
						r.FromPost.P99,
						r.FromPost.P50,
						r.Completed,
						r.Batches,
						r.EventRate,
					),
					bp(r.FromPost.P99 < TargetEndToEndP99Ms && r.Completed == r.Batches),
				)
			}
		}
		if !found {
			add(fmt.Sprintf("3b. Event to Complete p99 < %d ms at %d events/s", TargetEndToEndP99Ms, TargetLatencyRate), "rate not measured", nil)
		}
	} else {
		add(fmt.Sprintf("3b. Event to Complete p99 < %d ms at %d events/s", TargetEndToEndP99Ms, TargetLatencyRate), "not measured", nil)
	}
	if p := res.Polling; p != nil {
		worst, at := 0.0, 0.0
		measured := false
		var first *PollingRow
		for i, r := range p.Rows {
			switch {
			case r.Mode != ModeWebhooks || r.Completed == 0:
			case r.First:
				first = &p.Rows[i]
			case !measured || r.CallsPerBatch > worst:
				worst, at, measured = r.CallsPerBatch, r.BatchSeconds, true
			}
		}
		day, dayFound := 0, false
		for _, pr := range p.Projection {
			if pr.Batch == dayBatch {
				day, dayFound = pr.WebhookCalls, true
			}
		}
		text := fmt.Sprintf("later batches of a project: measured up to %.1f (batches of %.0f s)", worst, at)
		if !measured {
			text = "later batches of a project: none completed"
		}
		if dayFound {
			text += fmt.Sprintf(
				"; %d for a 24 h batch (computed from the webhook schedule, %s..%s)",
				day,
				pretty(p.WebhookPollIntervalMin),
				pretty(p.WebhookPollIntervalMax),
			)
		}
		if first != nil {
			text += fmt.Sprintf(
				"; a project's first batch, before any event: %.1f (batch of %.0f s, short schedule)",
				first.CallsPerBatch,
				first.BatchSeconds,
			)
		}
		add(fmt.Sprintf("4. At most %d OpenAI calls per batch with webhooks", TargetCallsPerBatch), text,
			bp(measured && dayFound && worst <= TargetCallsPerBatch && day <= TargetCallsPerBatch))
	} else {
		add(fmt.Sprintf("4. At most %d OpenAI calls per batch with webhooks", TargetCallsPerBatch), "not measured", nil)
	}
	if s := res.Scale; s != nil && len(s.Steps) > 0 {
		last := s.Steps[len(s.Steps)-1]
		mgr := max(last.ManagerPeakMiB, last.ResyncPeakMiB)
		rcv := max(last.ReceiverPeakMiB, last.ReceiverRestartPeakMiB)
		reached := func(ok bool) *bool {
			if last.InFlight < scaleTargetInFlightSize {
				return nil // a smaller run says nothing about the target
			}
			return bp(ok)
		}
		add(
			fmt.Sprintf("5. Manager peak RSS < %d MiB with %d in-flight batches", TargetManagerMiB, scaleTargetInFlightSize),
			fmt.Sprintf(
				"%.0f MiB with %d in flight + %d completed (%.0f while submitting, %.0f after a restart)",
				mgr,
				last.InFlight,
				last.Completed,
				last.ManagerPeakMiB,
				last.ResyncPeakMiB,
			),
			reached(mgr < TargetManagerMiB),
		)
		add(
			fmt.Sprintf("5. Receiver peak RSS < %d MiB with %d in-flight batches", TargetReceiverMiB, scaleTargetInFlightSize),
			fmt.Sprintf(
				"%.0f MiB with %d in flight + %d completed (%.0f running, %.0f after a restart)",
				rcv,
				last.InFlight,
				last.Completed,
				last.ReceiverPeakMiB,
				last.ReceiverRestartPeakMiB,
			),
			reached(rcv < TargetReceiverMiB),
		)
	} else {
		add("5. Manager < 150 MiB, receiver < 80 MiB with 5,000 in-flight batches", "not measured", nil)
	}
	return out
}

// Report renders res as Markdown.
func Report(res *Results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.Machine
	w("# Performance\n\n")
	commit := "a commit that bench/results.json does not record"
	if res.Commit != "" {
		commit = "commit `" + res.Commit + "`"
	}
	w(
		"Measured by `make bench` (hack/bench.sh, bench/cmd/benchrun) on %s at %s; the figures below\n",
		res.StartedAt.UTC().Format("2006-01-02 15:04 MST"),
		commit,
	)
	w("are generated from `bench/results.json` (re-render with `go run ./bench/cmd/benchrun -report-only`).\n")
	w("Scenarios 1, 2, 3a and 4 measure each figure next to a baseline in the same run; read\n")
	w("their ratios rather than the absolute times, which depend on this small, shared machine.\n")
	w("Scenarios 3b and 5 have no baseline: their figures are absolute.\n\n")

	w("## Targets\n\n| target | measured | met |\n| --- | --- | --- |\n")
	for _, c := range Checks(res) {
		met := "not measured"
		if c.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*c.Met]
		}
		w("| %s | %s | %s |\n", c.Target, c.Measured, met)
	}
	w("\n")
	if len(res.Errors) > 0 {
		w("Scenarios that failed in this run:\n\n")
		for _, e := range res.Errors {
			w("- %s\n", e)
		}
		w("\n")
	}

	w("## Machine and method\n\n")
	w("| | |\n| --- | --- |\n")
	w("| CPUs (`nproc`) | %d |\n| CPU | %s |\n| memory | %d MiB |\n| Go | %s %s/%s |\n", m.NProc, m.CPU, m.MemTotalMiB, m.GoVersion, m.OS, m.Arch)
	w("| load average when the scenarios started (1, 5, 15 min) | %.2f, %.2f, %.2f |\n", m.LoadStart[0], m.LoadStart[1], m.LoadStart[2])
	w("| load average at end | %.2f, %.2f, %.2f |\n", m.LoadEnd[0], m.LoadEnd[1], m.LoadEnd[2])
	if m.LoadWaited != "" {
		w("| before the run | %s |\n", m.LoadWaited)
	}
	w(
		"| run | %s to %s (%s) |\n\n",
		res.StartedAt.UTC().Format("15:04:05"),
		res.FinishedAt.UTC().Format("15:04:05 MST"),
		res.FinishedAt.Sub(res.StartedAt).Round(time.Second),
	)
	w("%s\n", methodText)
	w("| scenario | wall time | 1-min load before, after | how it ran |\n| --- | --- | --- | --- |\n")
	for _, s := range []struct {
		name string
		sc   *Scenario
	}{
		{"1 verify", scenarioOf(res.Verify)}, {"2 throughput", scenarioOf(res.Throughput)}, {"3a latency", scenarioOf(res.Latency)},
		{"3b event to Complete", scenarioOf(res.EndToEnd)}, {"4 webhooks vs polling", scenarioOf(res.Polling)}, {"5 scale", scenarioOf(res.Scale)},
	} {
		if s.sc == nil {
			continue
		}
		if s.sc.Seconds == 0 {
			w("| %s | (go test, before the others) | | %s |\n", s.name, s.sc.Setup)
			continue
		}
		w("| %s | %.0f s | %.2f, %.2f | %s |\n", s.name, s.sc.Seconds, s.sc.LoadBefore, s.sc.LoadAfter, s.sc.Setup)
	}
	w("\n")

	reportVerify(&b, res.Verify)
	reportThroughput(&b, res.Throughput)
	reportLatency(&b, res.Latency)
	reportEndToEnd(&b, res.EndToEnd)
	reportPolling(&b, res.Polling)
	reportScale(&b, res.Scale)
	w("%s", findings(res))
	return b.String()
}

func scenarioOf(v any) *Scenario {
	switch r := v.(type) {
	case *VerifyResults:
		if r != nil {
			return &r.Scenario
		}
	case *ThroughputResults:
		if r != nil {
			return &r.Scenario
		}
	case *LatencyResults:
		if r != nil {
			return &r.Scenario
		}
	case *EndToEndResults:
		if r != nil {
			return &r.Scenario
		}
	case *PollingResults:
		if r != nil {
			return &r.Scenario
		}
	case *ScaleResults:
		if r != nil {
			return &r.Scenario
		}
	}
	return nil
}

const methodText = `Method. Micro-benchmarks (scenario 1) are ` + "`go test -bench -benchmem -count N`" + ` and the table
shows medians of the N runs with their spread. The other scenarios run against a real
kube-apiserver and etcd (envtest) on the same machine, with the OpenAI emulator standing
in for OpenAI. Scenarios 2, 3a and 4 run their baseline in the same run, interleaved
(ABBA rounds for throughput, alternating sides for latency, both polling modes at once),
so that a burst of load from another process hits both sides; 3b and 5 have none. Latency percentiles
are nearest-rank over every event of a run. Memory is VmHWM (peak resident set) from
/proc/PID/status of the real binaries started by internal/devenv.
`

func reportVerify(b *strings.Builder, v *VerifyResults) {
	if v == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 1. Signature verification\n\n")
	w("One verification of a valid request (`BenchmarkVerify` in bench/verify_bench_test.go),\n")
	w("medians of %d runs. Libraries: the receiver's `internal/standardwebhooks.Verify`,\n", v.Count)
	w("openai-go v3.98.0 `client.Webhooks.VerifySignatureWithToleranceAndTime` (configured with\n")
	w("`option.WithWebhookSecret`), and the Standard Webhooks Go library\n")
	w("(`github.com/standard-webhooks/standard-webhooks/libraries` v0.0.1, `Webhook.Verify`).\n")
	w("`TestVerifiersAgree` checks that all three accept and refuse the same requests.\n\n")
	w("| body | library | ns/op (median) | min .. max | B/op | allocs/op | vs openai-go |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range v.Rows {
		w(
			"| %s | %s | %.0f | %.0f .. %.0f | %.0f | %.0f | %.2fx |\n",
			r.Body,
			r.Library,
			r.NsPerOp,
			r.NsPerOpMin,
			r.NsPerOpMax,
			r.BytesPerOp,
			r.AllocsPerOp,
			r.VsOpenAIGo,
		)
	}
	w("\nCost curve, 64 KiB over 1 KiB (64x the bytes):")
	byLib := map[string][]VerifyRow{}
	for _, r := range v.Rows {
		byLib[r.Library] = append(byLib[r.Library], r)
	}
	for _, lib := range verifierOrder {
		rows := byLib[lib]
		if len(rows) == 2 {
			w(" %s %.1fx time, %s memory;", lib, ratio(rows[1].NsPerOp, rows[0].NsPerOp), growth(rows[0].BytesPerOp, rows[1].BytesPerOp))
		}
	}
	w(" the receiver hashes the body in place, the other two copy it\n(into a formatted string) before hashing.\n\n")
}

func growth(a, b float64) string {
	if a == b {
		return "constant"
	}
	return fmt.Sprintf("%.0fx", ratio(b, a))
}

func reportThroughput(b *strings.Builder, t *ThroughputResults) {
	if t == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 2. Receiver throughput\n\n")
	w("Events verified, routed (field index of the receiver's informer cache) and recorded\n")
	w("(status patch of `lastWebhookEvent`, answered 200 only once it landed) per second, by\n")
	w("the receiver running in-process (`receiver.NewManager`) behind its own HTTP server on\n")
	w("loopback. Baseline: a bare client loop sending the very same merge patches (resource\n")
	w("version precondition included) with the same number in flight. %d events per round,\n", t.Events)
	w("%d rounds per side, alternating; every event targets a different resource.\n\n", t.Rounds)
	w(
		"| resources | in flight | receiver events/s (median) | bare patches/s (median) | ratio | receiver rounds | bare rounds | failures (receiver, bare) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
	)
	for _, c := range t.Cells {
		w("| %d | %d | %.0f | %.0f | %.2fx | %s | %s | %d, %d |\n", c.Resources, c.Concurrency, c.ReceiverMedian, c.BareMedian, c.Ratio,
			floats(c.ReceiverPerSec), floats(c.BarePerSec), c.ReceiverFailures, c.BareFailures)
	}
	w(
		"\nCPU per event (milliseconds, medians of the rounds): *this process* is, for the\nreceiver, the sender, the receiver and its client, and for the baseline its client;\n*API server* is kube-apiserver plus etcd.\n\n",
	)
	w(
		"| resources | in flight | receiver: this process | receiver: API server | bare: this process | bare: API server |\n| --- | --- | --- | --- | --- | --- |\n",
	)
	for _, c := range t.Cells {
		w(
			"| %d | %d | %.2f | %.2f | %.2f | %.2f |\n",
			c.Resources,
			c.Concurrency,
			c.ReceiverCPUms.Self,
			c.ReceiverCPUms.Server,
			c.BareCPUms.Self,
			c.BareCPUms.Server,
		)
	}
	w("\n")
}

func floats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, " ")
}

func reportLatency(b *strings.Builder, l *LatencyResults) {
	if l == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 3a. Latency: POST to a watcher seeing the status\n\n")
	w("At a fixed rate (open loop: events are sent on schedule whatever the answers), from the\n")
	w("start of each webhook POST to a separate watch connection (what `kubectl get -w` uses)\n")
	w("delivering the object with that event recorded. Baseline: the same patch sent straight to\n")
	w("the API server at the same rate, to the same watcher. %d resources; milliseconds.\n\n", l.Resources)
	w("| events/s | events | path | p50 | p90 | p99 | max | not seen |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range l.Rows {
		w("| %d | %d | receiver: POST to watcher | %s | %d |\n", r.Rate, r.Events, lat(r.Receiver), r.ReceiverLost)
		w("| %d | %d | receiver: POST to 200 answer | %s | |\n", r.Rate, r.Events, lat(r.ReceiverAnswer))
		w("| %d | %d | bare patch to watcher | %s | %d |\n", r.Rate, r.Events, lat(r.Bare), r.BareLost)
	}
	w("\n")
}

func lat(l Latency) string {
	return fmt.Sprintf("%.1f | %.1f | %.1f | %.1f", l.P50, l.P90, l.P99, l.Max)
}

func reportEndToEnd(b *strings.Builder, e *EndToEndResults) {
	if e == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 3b. Latency: completion event to `Complete`\n\n")
	w("From OpenAI's `batch.completed` event to a watcher seeing the `Complete` condition: the\n")
	w("receiver records the event, the controller (in-process, `controllers.SetupWithManager`)\n")
	w("reads the batch from the emulator, deletes the uploaded input, and writes the status.\n")
	w("Two kinds of run: *emulator* runs create one-request batches at the rate and let the\n")
	w("emulator deliver each event (it sends one delivery at a time per endpoint, and\n")
	w("submissions go on meanwhile); *injected* runs first let the controller submit every\n")
	w("batch (finished at once on the emulator, events dropped, polling pushed to 10 min), then\n")
	w("send the completion events from the benchmark at the rate, so the rate does not depend\n")
	w("on how fast the controller submits. Milliseconds.\n\n")
	w(
		"| run | offered events/s | achieved events/s | batches | complete | submissions/s | event to Complete p50 / p90 / p99 / max | POST to Complete p50 / p99 | receiver answer p50 / p99 | OpenAI calls per batch |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
	)
	for _, r := range e.Rows {
		kind, answer := "emulator", "n/a"
		if r.Injected {
			kind, answer = "injected", fmt.Sprintf("%.0f / %.0f", r.Answer.P50, r.Answer.P99)
		}
		w(
			"| %s | %d | %.0f | %d | %d | %.0f | %.0f / %.0f / %.0f / %.0f | %.0f / %.0f | %s | %.1f |\n",
			kind,
			r.Rate,
			r.EventRate,
			r.Batches,
			r.Completed,
			r.SubmitRate,
			r.FromEvent.P50,
			r.FromEvent.P90,
			r.FromEvent.P99,
			r.FromEvent.Max,
			r.FromPost.P50,
			r.FromPost.P99,
			answer,
			r.CallsPerBatch,
		)
	}
	w(
		"\nAPI server requests per completed batch (all clients; watches excluded; for injected\nruns from the first event on, otherwise over the batch's whole life):\n\n| run | offered events/s | total | by request |\n| --- | --- | --- | --- |\n",
	)
	for _, r := range e.Rows {
		kind := "emulator"
		if r.Injected {
			kind = "injected"
		}
		total := 0.0
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.KubeRequestsPerBatch)) {
			total += r.KubeRequestsPerBatch[k]
			if v := r.KubeRequestsPerBatch[k]; v >= 0.05 {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, v))
			}
		}
		w("| %s | %d | %.1f | %s |\n", kind, r.Rate, total, strings.Join(parts, ", "))
	}
	w("\n")
}

func reportPolling(b *strings.Builder, p *PollingResults) {
	if p == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	short := pretty(p.PollIntervalMin) + ".." + pretty(p.PollIntervalMax)
	hook := pretty(p.WebhookPollIntervalMin) + ".." + pretty(p.WebhookPollIntervalMax)
	w("## 4. Webhooks versus polling\n\n")
	w("The same batches, at the same moments, in two namespaces, each its own OpenAI project\n")
	w("(credentials Secret): one controller set whose emulator sends webhooks to the receiver,\n")
	w("one whose emulator sends them nowhere the operator sees (polling only). Both at the\n")
	w("manager's defaults: a resource is read %s after submission, then after as long again as\n", pretty(p.PollIntervalMin))
	w("it has existed, at most every %s (the short schedule, %s); while webhook events of its\n", pretty(p.PollIntervalMax), short)
	w("project have arrived within the last %s, it polls on the webhook schedule (%s)\n", pretty(p.WebhookTrustWindow), hook)
	w("instead, a safety net against a lost event. Each mode first runs one batch of %d\n", p.FirstRequests)
	w("requests alone (*first*): in webhook mode no event of the project has arrived yet, so\n")
	w("it polls on the short schedule. The other batches (*later*) start once both first\n")
	w("batches are Complete. Batches of n requests last 3 s + 0.2 s x n on the emulator.\n")
	w("Calls per batch: batches.retrieve attributed per batch, plus the mode's other calls\n")
	w("(upload, create, input delete) per batch.\n\n")
	w(
		"| mode | batch | requests | batches complete | batch lasted (s, median) | completion to Complete p50 / max (ms) | reads per batch | calls per batch | schedule | schedule predicts |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
	)
	for _, r := range p.Rows {
		kind := "later"
		if r.First {
			kind = "first"
		}
		w(
			"| %s | %s | %d | %d of %d | %.1f | %.0f / %.0f | %.1f | %.1f | %s | %d |\n",
			r.Mode,
			kind,
			r.Requests,
			r.Completed,
			r.Batches,
			r.BatchSeconds,
			r.ToComplete.P50,
			r.ToComplete.Max,
			r.RetrievesPerBatch,
			r.CallsPerBatch,
			r.Schedule,
			r.PredictedCalls,
		)
	}
	w("\nTotals by operation (first batch included):\n\n| mode | calls | completed | calls per batch |\n| --- | --- | --- | --- |\n")
	for _, md := range p.Modes {
		w("| %s | %s | %d | %.1f |\n", md.Mode, opList(md.Calls), md.Completed, md.CallsPerBatch)
	}
	w("\nThe schedules applied to longer batches (computed with the controller's rule; the rows\n")
	w("above check it). With webhooks a batch costs upload, create, the safety-net polls before\n")
	w("its end, the webhook's read and the delete; were its event lost, the next safety-net\n")
	w("poll would notice the end. The short schedule's columns are polling only, and also a\n")
	w("webhook project's first batch and any batch of a project whose last event is more than\n")
	w("%s old.\n\n", pretty(p.WebhookTrustWindow))
	w(
		"| batch lasts | webhooks: polls before the end | calls, webhooks | a lost event noticed after | short schedule: polls before the end | calls, short schedule | polling notices the end after |\n| --- | --- | --- | --- | --- | --- | --- |\n",
	)
	for _, pr := range p.Projection {
		w("| %s | %d | %d | %s | %d | %d | %s |\n", pr.Batch, pr.WebhookPolls, pr.WebhookCalls, prettySeconds(pr.LostEventDelaySeconds),
			pr.Polls, pr.PollingCalls, prettySeconds(pr.PollingDelaySeconds))
	}
	w("\n")
}

// prettySeconds renders seconds as a duration without zero units ("6m").
func prettySeconds(s float64) string {
	return prettyDuration(time.Duration(s * float64(time.Second)).Round(time.Second))
}

func opList(calls map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(calls)) {
		if calls[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, calls[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func reportScale(b *strings.Builder, s *ScaleResults) {
	if s == nil {
		return
	}
	b.WriteString("## 5. Scale\n\n")
	b.WriteString(ScaleTables(s))
}

// ScaleTables renders scenario 5's figures: how they were taken and two tables (memory
// and resync by step, then calls during each resync).
func ScaleTables(s *ScaleResults) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("The real binaries as processes (internal/devenv, under their ServiceAccounts), the\n")
	w("manager with its defaults. In-flight batches use the emulator's `emulator-hang` model\n")
	w("(they never finish); completed ones are ordinary one-request batches, whose completion\n")
	w("events reach the receiver, so the namespace's project is one whose webhooks arrive.\n")
	w("Totals grow step by step; at each step the receiver and then the manager are restarted\n")
	w("(SIGTERM, then a new process). Resync: from starting the new manager to every object\n")
	w("reconciled once and its work queue empty (its metrics), leader election included.\n\n")
	w(
		"| in flight | completed | new batches | submitted in (s) | manager peak / now (anonymous + file) / heap in use (MiB) | receiver peak / heap in use (MiB) | new receiver: ready (s), peak (MiB) | manager resync (s) | new manager peak (MiB) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
	)
	for _, r := range s.Steps {
		w(
			"| %d | %d | %s | %.1f (%.0f/s) | %.0f / %.0f (%.0f + %.0f) / %.0f | %.0f / %.0f | %.1f, %.0f | %.1f | %.0f |\n",
			r.InFlight,
			r.Completed,
			newBatches(r),
			r.SubmitSeconds,
			ratio(float64(r.NewBatches-r.Seeded), r.SubmitSeconds),
			r.ManagerPeakMiB,
			r.ManagerRSSMiB,
			r.ManagerAnonMiB,
			r.ManagerFileMiB,
			r.ManagerHeapMiB,
			r.ReceiverPeakMiB,
			r.ReceiverHeapMiB,
			r.ReceiverReadySeconds,
			r.ReceiverRestartPeakMiB,
			r.ResyncSeconds,
			r.ResyncPeakMiB,
		)
	}
	if len(s.Steps) > 0 {
		r := s.Steps[len(s.Steps)-1]
		w(
			"\nA one-request OpenAIBatch is %.0f bytes of JSON as the API serves it, %.0f of them (%.0f%%)\nin `metadata.managedFields`, which the manager's and the receiver's caches drop.\n",
			r.ObjectBytes,
			r.ManagedFieldsBytes,
			100*ratio(r.ManagedFieldsBytes, r.ObjectBytes),
		)
	}
	w("\nCalls during the resync. Polls due: in-flight batches whose next read, by their last\n")
	w("read and the schedule, was due by the end of the resync (the reads they would get\n")
	w("without a restart); recent events: batches recording a webhook event received within\n")
	w("the trust window, from which the new manager learns, as it reconciles them, that the\n")
	w("project's events arrive.\n\n")
	w(
		"| in flight + completed | reconciles | OpenAI calls | reads of terminal batches | polls due, short / webhook schedule | recent events | API server requests (all clients) |\n| --- | --- | --- | --- | --- | --- | --- |\n",
	)
	for _, r := range s.Steps {
		w(
			"| %d + %d | %.0f | %s | %d | %d / %d | %d | %s |\n",
			r.InFlight,
			r.Completed,
			r.ResyncReconciles,
			opList(r.ResyncCalls),
			r.ResyncTerminalReads,
			r.ResyncDuePolls,
			r.ResyncDuePollsWebhook,
			r.ResyncWebhookEvents,
			opList(r.ResyncKubeRequests),
		)
	}
	w("\n")
	return b.String()
}

// newBatches is a step's new batches, with how many were seeded.
func newBatches(r ScaleRow) string {
	if r.Seeded == 0 {
		return fmt.Sprint(r.NewBatches)
	}
	return fmt.Sprintf("%d (%d seeded in %.0f s)", r.NewBatches, r.Seeded, r.SeedSeconds)
}
