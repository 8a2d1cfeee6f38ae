package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// runBinaries runs bench.RunScale in two steps, a tenth of the size and the full size.
func runBinaries(ctx context.Context, res *Results, inFlight, completed int, seed bool, binDir, workDir string, timeout time.Duration) error {
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "openai-operator-bench-scale-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "benchscale: real binaries at %d in flight + %d completed (seeded: %t); logs in %s\n", inFlight, completed, seed, workDir)
	steps := []bench.ScaleStep{{InFlight: inFlight, Completed: completed}}
	if first := (bench.ScaleStep{InFlight: inFlight / 10, Completed: completed / 10}); first.InFlight > 1 {
		steps = append([]bench.ScaleStep{first}, steps...)
	}
	r, err := bench.RunScale(ctx, bench.ScaleOptions{
		Dir: filepath.Join(workDir, "scale"), BinDir: abs, Steps: steps, Timeout: timeout,
		Progress: os.Stderr, Seed: seed,
	})
	if err != nil {
		return fmt.Errorf("the real binaries at %d + %d: %w", inFlight, completed, err)
	}
	res.Binaries, res.Seeded = r, seed
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
		w("The in-flight batches were **seeded**, not submitted by the manager (it submits about 50 a second on this machine): the manager submitted `hang-00000`; with the manager stopped, every other in-flight batch was created in the emulator (batches.create on that batch's input file) and as an OpenAIBatch carrying that batch's finalizers and InProgress status (its own batch id, createdAt and lastSyncTime at seeding) by a bare client; then a new manager was started. So the manager's peak while \"submitting\" covers its start with every seeded object (initial list, one reconcile each, the polls that fall due) and the submission of the completed batches, which the manager submitted and saw complete (webhook events through the receiver).\n\n")
	}
	w("Load average %.2f before and %.2f after this run (1 minute, 2 shared CPUs); it took %.0f s.\n\n", s.LoadBefore, s.LoadAfter, s.Seconds)
	full := last.InFlight >= targetInFlight && last.Completed >= targetCompleted
	verdict := func(ok bool) string {
		if !full {
			return "not reached (smaller run)"
		}
		if ok {
			return "met"
		}
		return "**not met**"
	}
	mgr := max(last.ManagerPeakMiB, last.ResyncPeakMiB)
	rcv := max(last.ReceiverPeakMiB, last.ReceiverRestartPeakMiB)
	w("| target (issue 17, at %d + %d) | measured at %d + %d | |\n|---|---|---|\n", targetInFlight, targetCompleted, last.InFlight, last.Completed)
	w("| manager peak RSS < %d MiB | %.0f MiB (%.0f running, %.0f after a restart) | %s |\n", targetManagerMiB, mgr, last.ManagerPeakMiB, last.ResyncPeakMiB, verdict(mgr < targetManagerMiB))
	w("| receiver peak RSS < %d MiB | %.0f MiB (%.0f running, %.0f after a restart) | %s |\n", targetReceiverMiB, rcv, last.ReceiverPeakMiB, last.ReceiverRestartPeakMiB, verdict(rcv < targetReceiverMiB))
	w("| restarted manager resyncs every object in < %d s | %.1f s for %d objects | %s |\n", targetResyncSecs, last.ResyncSeconds, last.InFlight+last.Completed, verdict(last.ResyncSeconds < targetResyncSecs))
	w("| no terminal object read from OpenAI during the resync | %d reads of terminal batches | %s |\n", last.ResyncTerminalReads, verdict(last.ResyncTerminalReads == 0))
	w("| no burst of polls during the resync | %d batches.retrieve calls; polls due by the schedule %d (short) / %d (webhook) | figures, no threshold |\n\n",
		last.ResyncCalls["batches.retrieve"], last.ResyncDuePolls, last.ResyncDuePollsWebhook)
	if len(s.Steps) >= 2 {
		a := s.Steps[len(s.Steps)-2]
		per := float64(last.InFlight+last.Completed-a.InFlight-a.Completed) / 1000
		slope := func(x, y float64) float64 { return (y - x) / per }
		w("Slopes per 1,000 objects between %d + %d and %d + %d (same run): manager peak %.2f MiB, manager heap in use %.2f MiB, restarted manager peak %.2f MiB, receiver peak %.2f MiB, restarted receiver peak %.2f MiB, resync %.2f s.\n\n",
			a.InFlight, a.Completed, last.InFlight, last.Completed,
			slope(a.ManagerPeakMiB, last.ManagerPeakMiB), slope(a.ManagerHeapMiB, last.ManagerHeapMiB), slope(a.ResyncPeakMiB, last.ResyncPeakMiB),
			slope(a.ReceiverPeakMiB, last.ReceiverPeakMiB), slope(a.ReceiverRestartPeakMiB, last.ReceiverRestartPeakMiB), slope(a.ResyncSeconds, last.ResyncSeconds))
	}
	b.WriteString(bench.ScaleTables(s))
}
