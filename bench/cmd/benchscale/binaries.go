package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openai-operator/openai-operator/bench"
)

// The targets of the real binaries' run (issue 17): 50,000 in-flight batches plus 5,000
// completed.
const (
	targetInFlight    = 50000
	targetCompleted   = 5000
	targetManagerMiB  = 300
	targetReceiverMiB = 150
	targetResyncSecs  = 20
)

// binariesRun sizes runBinaries.
type binariesRun struct {
	inFlight, completed, firstInFlight int
	seed                               bool
	binDir, workDir, profileDir        string
	timeout, pollWait                  time.Duration
	variants                           []bench.ScaleVariant
	variantRounds                      int
	managerEnv, receiverEnv            []string
}

// variantFlags are the -variant flags: name|binary|env|args.
type variantFlags []bench.ScaleVariant

func (v *variantFlags) String() string { return fmt.Sprint(*v) }

func (v *variantFlags) Set(s string) error {
	parts := strings.Split(s, "|")
	if len(parts) != 4 || parts[0] == "" {
		return fmt.Errorf("want name|binary|env|args, got %q", s)
	}
	*v = append(*v, bench.ScaleVariant{Name: parts[0], Binary: parts[1], Env: strings.Fields(parts[2]), Args: strings.Fields(parts[3])})
	return nil
}

// intList is a flag of comma-separated integers; an empty value is an empty list.
type intList []int

func (l *intList) String() string {
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint([]int(*l))), ","), "[]")
}

func (l *intList) Set(s string) error {
	*l = nil
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return fmt.Errorf("want positive integers separated by commas, got %q", s)
		}
		*l = append(*l, n)
	}
	return nil
}

// runBinaries runs bench.RunScale in two steps, a tenth of the size (or firstInFlight)
// and the full size.
func runBinaries(ctx context.Context, res *Results, o binariesRun) error {
	abs, err := filepath.Abs(o.binDir)
	if err != nil {
		return err
	}
	workDir := o.workDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "openai-operator-bench-scale-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "benchscale: real binaries at %d in flight + %d completed (seeded: %t); logs in %s\n",
		o.inFlight, o.completed, o.seed, workDir)
	steps := []bench.ScaleStep{{InFlight: o.inFlight, Completed: o.completed}}
	first := bench.ScaleStep{InFlight: o.inFlight / 10, Completed: o.completed / 10}
	if o.firstInFlight >= 0 && o.inFlight > 0 {
		first = bench.ScaleStep{InFlight: o.firstInFlight, Completed: o.completed * o.firstInFlight / o.inFlight}
	}
	if first.InFlight > 1 && first.InFlight < o.inFlight {
		steps = append([]bench.ScaleStep{first}, steps...)
	}
	r, err := bench.RunScale(ctx, bench.ScaleOptions{
		Dir: filepath.Join(workDir, "scale"), BinDir: abs, Steps: steps, Timeout: o.timeout,
		Progress: os.Stderr, Seed: o.seed,
		Variants: o.variants, VariantRounds: o.variantRounds, PollWait: o.pollWait, ProfileDir: o.profileDir,
		ManagerEnv: o.managerEnv, ReceiverEnv: o.receiverEnv,
	})
	if r != nil {
		res.Binaries, res.Seeded = r, o.seed
	}
	if err != nil {
		return fmt.Errorf("the real binaries at %d + %d: %w", o.inFlight, o.completed, err)
	}
	return nil
}

// renderBinaries renders the real binaries' run: the targets, the slopes between the two
// steps, and scenario 5's tables.
func renderBinaries(b *strings.Builder, res Results) {
	s := res.Binaries
	if s == nil || len(s.Steps) == 0 {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	last := s.Steps[len(s.Steps)-1]
	w("### The real binaries at %d in flight + %d completed\n\n", last.InFlight, last.Completed)
	if res.Seeded {
		w(
			"The in-flight batches were **seeded**, not submitted by the manager (it submits about 50 a second on this machine, fewer while it polls tens of thousands): at each step the manager first submitted the step's completed batches and saw them complete (webhook events through the receiver), and at the first step `hang-00000`; then, with the manager stopped, every other in-flight batch was created in the emulator (batches.create on `hang-00000`'s input file) and written as an OpenAIBatch carrying `hang-00000`'s finalizers and InProgress status (its own batch id, createdAt an hour before the emulator created it, as for a fleet submitted over the last hour, and lastSyncTime at seeding, so that its next poll falls due an hour later) by a bare client; then a new manager was started and left to reconcile every object before memory was read. So the manager's \"running\" peak is that new manager's: its start with every object (initial list, one reconcile each, the polls that fall due), not a long submission.\n\n",
		)
	}
	w("Load average %.2f before and %.2f after this run (1 minute, 2 shared CPUs); it took %.0f s.\n\n", s.LoadBefore, s.LoadAfter, s.Seconds)
	full := last.InFlight >= targetInFlight && last.Completed >= targetCompleted
	verdict := func(ok bool) string {
		if !full {
			return "not reached (smaller run)"
		}
		return metOrNot(ok)
	}
	if last.Unfinished != "" {
		w(
			"**The last step did not finish**: %s (%d of %d batches had their batch id or were Complete). Its memory figures are from that moment; a peak already over a target is over it at the full size too (peaks only grow), one under it says nothing. Its restarts were not measured.\n\n",
			last.Unfinished,
			last.Reached,
			last.InFlight+last.Completed,
		)
	}
	// A peak is a lower bound in an unfinished step: only a miss counts.
	peak := func(ok bool) string {
		if last.Unfinished != "" && ok {
			return "not reached (unfinished step)"
		}
		return verdict(ok)
	}
	restart := func(ok bool) string {
		if last.Unfinished != "" {
			return "not measured (unfinished step)"
		}
		return verdict(ok)
	}
	mgr := max(last.ManagerPeakMiB, last.ResyncPeakMiB)
	rcv := max(last.ReceiverPeakMiB, last.ReceiverRestartPeakMiB)
	w("| target (issue 17, at %d + %d) | measured at %d + %d | |\n|---|---|---|\n", targetInFlight, targetCompleted, last.InFlight, last.Completed)
	w("| manager peak RSS < %d MiB | %.0f MiB (%.0f running, %.0f after a restart) | %s |\n", targetManagerMiB, mgr, last.ManagerPeakMiB, last.ResyncPeakMiB, peak(mgr < targetManagerMiB))
	w("| receiver peak RSS < %d MiB | %.0f MiB (%.0f running, %.0f after a restart) | %s |\n", targetReceiverMiB, rcv, last.ReceiverPeakMiB, last.ReceiverRestartPeakMiB, peak(rcv < targetReceiverMiB))
	w("| restarted manager resyncs every object in < %d s | %.1f s for %d objects | %s |\n", targetResyncSecs, last.ResyncSeconds, last.InFlight+last.Completed, restart(last.ResyncSeconds < targetResyncSecs))
	w("| no terminal object read from OpenAI during the resync | %d reads of terminal batches | %s |\n", last.ResyncTerminalReads, restart(last.ResyncTerminalReads == 0))
	w("| no burst of polls during the resync | %d batches.retrieve calls; polls due by the schedule %d (short) / %d (webhook) | figures, no threshold |\n\n",
		last.ResyncCalls["batches.retrieve"], last.ResyncDuePolls, last.ResyncDuePollsWebhook)
	if reads := last.ResyncCalls["batches.retrieve"]; reads*10 > int64(last.InFlight) {
		w("This resync also made %d polls that fell due by the schedule during it (%d were due by its end), each a read from OpenAI "+
			"and a status patch: its time is not the time to reconcile every object once (see the variants' resyncs below, "+
			"started once those polls were done).\n\n", reads, last.ResyncDuePolls)
	}
	if len(s.Steps) >= 2 && last.Unfinished == "" {
		a := s.Steps[len(s.Steps)-2]
		per := float64(last.InFlight+last.Completed-a.InFlight-a.Completed) / 1000
		slope := func(x, y float64) float64 { return (y - x) / per }
		w(
			"Slopes per 1,000 objects between %d + %d and %d + %d (same run): manager peak %.2f MiB, manager heap in use %.2f MiB, restarted manager peak %.2f MiB, receiver peak %.2f MiB, restarted receiver peak %.2f MiB, resync %.2f s.\n\n",
			a.InFlight,
			a.Completed,
			last.InFlight,
			last.Completed,
			slope(a.ManagerPeakMiB, last.ManagerPeakMiB),
			slope(a.ManagerHeapMiB, last.ManagerHeapMiB),
			slope(a.ResyncPeakMiB, last.ResyncPeakMiB),
			slope(
				a.ReceiverPeakMiB,
				last.ReceiverPeakMiB,
			),
			slope(a.ReceiverRestartPeakMiB, last.ReceiverRestartPeakMiB),
			slope(a.ResyncSeconds, last.ResyncSeconds),
		)
	}
	b.WriteString(bench.ScaleTables(s))
	renderMemory(b, s)
}

// renderMemory renders where the memory goes (the variants' and the receiver's
// breakdowns) and each variant's ratios to the first one at the same step.
func renderMemory(b *strings.Builder, s *bench.ScaleResults) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	found := false
	for _, st := range s.Steps {
		found = found || len(st.Variants) > 0 || st.Receiver != nil
	}
	if !found {
		return
	}
	w("#### Where the memory goes\n\n")
	w("After each step the manager builds below (variants) were started in turn on the same objects, each with its profiler on: " +
		"first reading right after its resync (every object reconciled once, the queue empty), second after it ran on for a while " +
		"(the polls that fell due in between are counted). Heap in use: spans holding objects, live or not yet collected; retained: idle " +
		"heap the runtime has not returned to the OS; GC goal: the heap size at which the next collection starts (twice the live heap " +
		"at the last collection with GOGC=100, unless a memory limit is nearer); live: the heap right after a forced collection. " +
		"File: pages of the executable mapped from disk. MiB throughout; CPU is the process's user+system time to the end of its resync " +
		"and to the second reading.\n\n")
	w("| objects | process | variant | round | resync (s) | CPU: resync / all (s) | peak | RSS (anon + file) | heap in use | retained | stacks | runtime " +
		"| GC goal | live | polls, then: peak / RSS / live |\n")
	w("|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	row := func(objects int, proc, variant, round, resync, cpu string, m bench.MemBreakdown, after string) {
		w("| %d | %s | %s | %s | %s | %s | %.0f | %.0f (%.0f + %.0f) | %.0f | %.0f | %.1f | %.0f | %.0f | %.0f | %s |\n",
			objects, proc, variant, round, resync, cpu, m.PeakMiB, m.RSSMiB, m.AnonMiB, m.FileMiB, m.HeapInuseMiB, m.HeapRetainedMiB,
			m.StackMiB, m.RuntimeMiB, m.NextGCMiB, m.LiveHeapMiB, after)
	}
	for _, st := range s.Steps {
		total := st.InFlight + st.Completed
		for _, v := range st.Variants {
			row(total, "manager", v.Variant, fmt.Sprint(v.Round), fmt.Sprintf("%.1f", v.ResyncSeconds),
				fmt.Sprintf("%.1f / %.1f", v.ResyncCPUSeconds, v.CPUSeconds), v.Synced,
				fmt.Sprintf("%.0f: %.0f / %.0f / %.0f", v.PolledReconciles, v.Polled.PeakMiB, v.Polled.RSSMiB, v.Polled.LiveHeapMiB))
		}
		if st.Receiver != nil {
			row(total, "receiver (restarted)", "", "", "", "", *st.Receiver, "")
		}
	}
	w("\n")
	for _, st := range s.Steps {
		if len(st.Variants) == 0 {
			continue
		}
		first := st.Variants[0].Variant
		med := map[string]map[string][]float64{}
		var names []string
		for _, v := range st.Variants {
			if med[v.Variant] == nil {
				med[v.Variant] = map[string][]float64{}
				names = append(names, v.Variant)
			}
			m := med[v.Variant]
			m["resync"] = append(m["resync"], v.ResyncSeconds)
			m["cpu"] = append(m["cpu"], v.CPUSeconds)
			m["peak"] = append(m["peak"], max(v.Synced.PeakMiB, v.Polled.PeakMiB))
			m["live"] = append(m["live"], v.Synced.LiveHeapMiB)
		}
		for _, n := range names[1:] {
			r := func(k string) float64 { return median(med[n][k]) / median(med[first][k]) }
			w("At %d objects, %s / %s (medians of %d and %d starts): resync %.2fx, CPU %.2fx, peak RSS %.2fx, live heap %.2fx.\n\n",
				st.InFlight+st.Completed, n, first, len(med[n]["resync"]), len(med[first]["resync"]), r("resync"), r("cpu"), r("peak"), r("live"))
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// targetWritesRatio is issue 17's bar: sustained submissions and completions per second
// at least this share of the API server's bare write ceiling over the writes per item.
const targetWritesRatio = 0.8

// runWrites runs bench.RunWrites.
func runWrites(ctx context.Context, res *Results, opts bench.WritesOptions, workDir string) error {
	abs, err := filepath.Abs(opts.BinDir)
	if err != nil {
		return err
	}
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "openai-operator-bench-writes-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "benchscale: writes with %d batches per phase; logs in %s\n", opts.Items, workDir)
	opts.Dir, opts.BinDir = filepath.Join(workDir, "writes"), abs
	r, err := bench.RunWrites(ctx, opts)
	if err != nil {
		return fmt.Errorf("writes: %w", err)
	}
	res.Writes = r
	return nil
}

// renderWrites renders the writes run beside issue 17's bar: each rate against 0.8 times
// a bare client's best replay of the same item's writes.
//
//nolint:gocyclo // one section's tables in the order they read
func renderWrites(b *strings.Builder, r *bench.WritesResults, commit string) {
	if r == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("### API server writes per item against its bare write ceiling\n\n")
	if commit != "" {
		w("Measured at commit %s, in another run than the figures above.\n\n", commit)
	}
	w("%s. Load average %.2f before and %.2f after (1 minute); it took %.0f s.\n\n", r.Setup, r.LoadBefore, r.LoadAfter, r.Seconds)
	if r.CPUs != "" {
		w("CPUs: %s; the ceilings below are the API server's on its share.\n\n", r.CPUs)
	} else {
		w("CPUs: shared by every process, the API server's ceiling measured with the manager stopped.\n\n")
	}
	w(
		"Each round, one after another: completions: %d batches of %d requests were created in the emulator and seeded as InProgress objects (the manager stopped), a new manager resynced them, and the emulator completed them about a minute after creation; each completion event went to the receiver. Writes are counted from just before the first completion to the last batch Complete. Submissions: %d in-flight batches created at once, writes counted to the last batch id recorded, the bench's own creates left out. Ceilings, right after: with the manager stopped, a bare client (no client-side rate limit) replays one item's writes of that round, rounded to whole writes, on each of the same objects, one item's writes after another and several items at once (a metadata merge patch for `PATCH openaibatches`, a status merge patch for `PATCH openaibatches/status`, an events.k8s.io Event for `POST events`); the best of its concurrencies is the round's ceiling for that item. The round's objects are removed before the next.\n\n",
		r.Items,
		bench.CompletionRequests,
		r.Items,
	)
	if len(r.Ceilings) > 0 {
		w("| round | replayed item | writes per item | items at once | items/s | writes/s |\n|---:|---|---|---:|---:|---:|\n")
		for _, c := range r.Ceilings {
			round := strconv.Itoa(c.Round + 1)
			if c.Mix == bench.MixEvent {
				round = "receivers"
			}
			w("| %s | %s | %s | %d | %.1f | %.0f |\n", round, c.Mix, perItemList(c.PerItem), c.Concurrency, c.ItemsPerSecond, c.WritesPerSecond)
		}
		w("\n")
	}
	verdict := func(rate float64, mix string, round int) (bar, ratioText string, ratio float64, ok bool) {
		c, rounds, ok := r.Ceiling(mix, round)
		if !ok {
			return notMeasured, notMeasured, 0, false
		}
		of := fmt.Sprintf("%.1f/s", c.ItemsPerSecond)
		if rounds > 1 {
			of = fmt.Sprintf("median %.1f/s of %d", c.ItemsPerSecond, rounds)
		}
		ratio = rate / c.ItemsPerSecond
		return fmt.Sprintf("%.1f/s (%.1f × %s)", targetWritesRatio*c.ItemsPerSecond, targetWritesRatio, of), fmt.Sprintf("%.2f", ratio), ratio, true
	}
	w("| per item | round | API server writes (by verb and resource) | writes per item | sustained rate | bar: %.1f × the round's best replay | rate / best replay |\n|---|---:|---|---:|---:|---:|---:|\n", targetWritesRatio)
	ratios := map[string][]float64{}
	for _, rr := range r.Rounds {
		for _, it := range []struct {
			mix    string
			writes map[string]int64
			per    float64
			rate   float64
			secs   float64
		}{
			{bench.MixSubmission, rr.SubmissionWrites, rr.WritesPerSubmission, rr.SubmissionsPerSecond, rr.SubmissionSeconds},
			{bench.MixCompletion, rr.CompletionWrites, rr.WritesPerCompletion, rr.CompletionsPerSecond, rr.CompletionSeconds},
		} {
			bar, text, ratio, ok := verdict(it.rate, it.mix, rr.Round)
			if ok {
				ratios[it.mix] = append(ratios[it.mix], ratio)
			}
			w("| %s | %d | %s | %.2f | %.1f/s (%d in %.1f s) | %s | %s |\n",
				it.mix, rr.Round+1, writeList(it.writes), it.per, it.rate, r.Items, it.secs, bar, text)
		}
	}
	w("\n")
	for _, mix := range []string{bench.MixSubmission, bench.MixCompletion} {
		if len(ratios[mix]) == 0 {
			w("Sustained %ss against the bare replay: not measured.\n", mix)
			continue
		}
		m := bench.Median(ratios[mix])
		v := metOrNot(m >= targetWritesRatio)
		w("Sustained %ss: median %.2f of the round's best replay over %d rounds (target %.1f): %s.\n", mix, m, len(ratios[mix]), targetWritesRatio, v)
	}
	w("\n")
	if len(r.Receivers) == 0 {
		w("Receiver replicas: not measured in this run.\n\n")
		return
	}
	receiverCPUs := "all processes share this machine's CPUs with the API server"
	if r.CPUs != "" {
		receiverCPUs = "the receivers share the CPUs of the operator's side"
	}
	w(
		"Receiver replicas: signed batch.completed webhooks, one per in-flight batch, spread round-robin over the receiver processes (each a replica with its own cache and watch), %d in flight in all, the manager stopped; the counts ran up and down again, each round after a bare replay of the same status patches (the webhook event rows above), so that receivers and ceiling are measured side by side; %s.\n\n",
		r.Receivers[0].Concurrency,
		receiverCPUs,
	)
	w(
		"| replicas | rounds | events accepted | events/s per round | median events/s | API server writes | writes per event | bar: %.1f × the bare replay's best | |\n|---:|---:|---:|---|---:|---|---:|---:|---|\n",
		targetWritesRatio,
	)
	var counts []int
	byCount := map[int][]bench.ReceiverReplicas{}
	for _, rr := range r.Receivers {
		if _, ok := byCount[rr.Replicas]; !ok {
			counts = append(counts, rr.Replicas)
		}
		byCount[rr.Replicas] = append(byCount[rr.Replicas], rr)
	}
	for _, n := range counts {
		var rates []float64
		var rateText []string
		accepted, events, writes := 0, 0, map[string]int64{}
		for _, rr := range byCount[n] {
			rates = append(rates, rr.EventsPerSecond)
			rateText = append(rateText, fmt.Sprintf("%.1f", rr.EventsPerSecond))
			accepted, events = accepted+rr.Accepted, events+rr.Events
			for k, v := range rr.Writes {
				writes[k] += v
			}
		}
		median := bench.Median(rates)
		var sum int64
		for _, v := range writes {
			sum += v
		}
		bar, _, ratio, ok := verdict(median, bench.MixEvent, -1)
		v := notMeasured
		if ok {
			v = metOrNot(ratio >= targetWritesRatio)
		}
		w(
			"| %d | %d | %d of %d | %s | %.1f | %s | %.2f | %s | %s |\n",
			n,
			len(byCount[n]),
			accepted,
			events,
			strings.Join(rateText, ", "),
			median,
			writeList(writes),
			float64(sum)/float64(max(accepted, 1)),
			bar,
			v,
		)
	}
	w("\n")
}

const notMeasured = "not measured"

// metOrNot is a target's verdict.
func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func perItemList(m map[string]int) string {
	wide := make(map[string]int64, len(m))
	for k, v := range m {
		wide[k] = int64(v)
	}
	return writeList(wide)
}

func writeList(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
