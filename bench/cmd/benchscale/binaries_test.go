package main

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/openai-operator/openai-operator/bench"
)

func TestRenderBinariesStatesTheTargetsByTheData(t *testing.T) {
	row := func(inFlight, completed int, mgr, rcv, resync float64, terminal int) bench.ScaleRow {
		return bench.ScaleRow{
			ScaleStep:      bench.ScaleStep{InFlight: inFlight, Completed: completed},
			ManagerPeakMiB: mgr, ResyncPeakMiB: mgr - 10, ReceiverPeakMiB: rcv, ReceiverRestartPeakMiB: rcv - 5,
			ResyncSeconds: resync, ResyncTerminalReads: terminal,
		}
	}
	tests := map[string]struct {
		steps []bench.ScaleRow
		want  []string
	}{
		"full size within the targets": {
			steps: []bench.ScaleRow{row(5000, 500, 100, 50, 2, 0), row(50000, 5000, 280, 140, 19, 0)},
			want: []string{
				"| manager peak RSS < 300 MiB | 280 MiB (280 running, 270 after a restart) | met |",
				"| receiver peak RSS < 150 MiB | 140 MiB (140 running, 135 after a restart) | met |",
				"| restarted manager resyncs every object in < 20 s | 19.0 s for 55000 objects | met |",
				"| no terminal object read from OpenAI during the resync | 0 reads of terminal batches | met |",
				// (280-100) MiB over 49.5 thousand objects.
				"manager peak 3.64 MiB",
			},
		},
		"full size over the targets": {
			steps: []bench.ScaleRow{row(50000, 5000, 320, 160, 25, 3)},
			want: []string{
				"| 320 MiB (320 running, 310 after a restart) | **not met** |",
				"| 160 MiB (160 running, 155 after a restart) | **not met** |",
				"| 25.0 s for 55000 objects | **not met** |",
				"| 3 reads of terminal batches | **not met** |",
			},
		},
		"an unfinished step: a peak over a target misses it, one under it says nothing": {
			steps: []bench.ScaleRow{func() bench.ScaleRow {
				r := row(50000, 5000, 394, 100, 0, 0)
				r.Unfinished, r.Reached, r.ResyncPeakMiB, r.ReceiverRestartPeakMiB = "only 54748 of 55000", 54748, 0, 0
				return r
			}()},
			want: []string{
				"**The last step did not finish**: only 54748 of 55000 (54748 of 55000 batches",
				"| 394 MiB (394 running, 0 after a restart) | **not met** |",
				"| 100 MiB (100 running, 0 after a restart) | not reached (unfinished step) |",
				"| 0.0 s for 55000 objects | not measured (unfinished step) |",
				"| 0 reads of terminal batches | not measured (unfinished step) |",
			},
		},
		"a smaller run says nothing about the targets": {
			steps: []bench.ScaleRow{row(5000, 500, 100, 50, 2, 0)},
			want:  []string{"| 100 MiB (100 running, 90 after a restart) | not reached (smaller run) |"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			var b strings.Builder
			renderBinaries(&b, Results{Binaries: &bench.ScaleResults{Steps: tc.steps}})
			for _, w := range tc.want {
				g.Expect(b.String()).To(ContainSubstring(w))
			}
			g.Expect(strings.Contains(b.String(), "Slopes per 1,000")).To(Equal(len(tc.steps) > 1 && tc.steps[len(tc.steps)-1].Unfinished == ""))
		})
	}
}

func TestRenderWritesComparesRatesWithTheBestReplayOfTheSameWrites(t *testing.T) {
	g := NewWithT(t)
	var b strings.Builder
	// Each round's rate against 0.8 × the best replay of that round's writes: submissions
	// 79/s against 100 (not 60, the other concurrency, nor 110, the other round's) and
	// 100 against 110, median 0.85 of the replay: met; completions 160 against 200 and
	// 90 against 180, median 0.65: not met. Webhook events: 0.8 × the median of four
	// rounds (450, 500, 520, 900: 510) = 408/s.
	const status = "PATCH openaibatches/status"
	submission := map[string]int{status: 3, "POST events": 1}
	renderWrites(&b, &bench.WritesResults{
		Items: 100,
		Rounds: []bench.WritesRound{
			{
				Round:            0,
				SubmissionWrites: map[string]int64{status: 300, "POST events": 100}, WritesPerSubmission: 4, SubmissionsPerSecond: 79, SubmissionSeconds: 1.3,
				CompletionWrites: map[string]int64{status: 200}, WritesPerCompletion: 2, CompletionsPerSecond: 160, CompletionSeconds: 0.6,
			},
			{
				Round:            1,
				SubmissionWrites: map[string]int64{status: 300, "POST events": 100}, WritesPerSubmission: 4, SubmissionsPerSecond: 100, SubmissionSeconds: 1,
				CompletionWrites: map[string]int64{status: 200}, WritesPerCompletion: 2, CompletionsPerSecond: 90, CompletionSeconds: 1.1,
			},
		},
		Ceilings: []bench.WriteReplay{
			{Mix: bench.MixSubmission, PerItem: submission, Concurrency: 16, ItemsPerSecond: 60, WritesPerSecond: 240},
			{Mix: bench.MixSubmission, PerItem: submission, Concurrency: 64, ItemsPerSecond: 100, WritesPerSecond: 400},
			{Mix: bench.MixCompletion, PerItem: map[string]int{status: 2}, Concurrency: 16, ItemsPerSecond: 200, WritesPerSecond: 400},
			{Mix: bench.MixSubmission, Round: 1, PerItem: submission, Concurrency: 64, ItemsPerSecond: 110, WritesPerSecond: 440},
			{Mix: bench.MixCompletion, Round: 1, PerItem: map[string]int{status: 2}, Concurrency: 16, ItemsPerSecond: 180, WritesPerSecond: 360},
			{Mix: bench.MixEvent, PerItem: map[string]int{status: 1}, Concurrency: 64, ItemsPerSecond: 450, WritesPerSecond: 450},
			{Mix: bench.MixEvent, PerItem: map[string]int{status: 1}, Concurrency: 64, ItemsPerSecond: 500, WritesPerSecond: 500},
			{Mix: bench.MixEvent, PerItem: map[string]int{status: 1}, Concurrency: 64, ItemsPerSecond: 900, WritesPerSecond: 900},
			{Mix: bench.MixEvent, PerItem: map[string]int{status: 1}, Concurrency: 64, ItemsPerSecond: 520, WritesPerSecond: 520},
		},
		Receivers: []bench.ReceiverReplicas{
			{Replicas: 1, Events: 100, Concurrency: 64, Accepted: 100, EventsPerSecond: 450, Writes: map[string]int64{status: 100}, WritesPerEvent: 1},
			{Replicas: 2, Events: 100, Concurrency: 64, Accepted: 99, EventsPerSecond: 300, Writes: map[string]int64{status: 99}, WritesPerEvent: 1},
			{Replicas: 2, Round: 1, Events: 100, Concurrency: 64, Accepted: 100, EventsPerSecond: 320, Writes: map[string]int64{status: 101}},
			{Replicas: 1, Round: 1, Events: 100, Concurrency: 64, Accepted: 100, EventsPerSecond: 370, Writes: map[string]int64{status: 100}},
		},
	}, "abc123")
	doc := b.String()
	g.Expect(doc).To(ContainSubstring("Measured at commit abc123"))
	g.Expect(doc).To(ContainSubstring("| 1 | submission | PATCH openaibatches/status 3, POST events 1 | 64 | 100.0 | 400 |"))
	g.Expect(doc).To(ContainSubstring("| receivers | webhook event | PATCH openaibatches/status 1 | 64 | 450.0 | 450 |"))
	g.Expect(doc).
		To(ContainSubstring("| submission | 1 | PATCH openaibatches/status 300, POST events 100 | 4.00 | 79.0/s (100 in 1.3 s) | 80.0/s (0.8 × 100.0/s) | 0.79 |"))
	g.Expect(doc).
		To(ContainSubstring("| submission | 2 | PATCH openaibatches/status 300, POST events 100 | 4.00 | 100.0/s (100 in 1.0 s) | 88.0/s (0.8 × 110.0/s) | 0.91 |"))
	g.Expect(doc).To(ContainSubstring("| completion | 1 | PATCH openaibatches/status 200 | 2.00 | 160.0/s (100 in 0.6 s) | 160.0/s (0.8 × 200.0/s) | 0.80 |"))
	g.Expect(doc).To(ContainSubstring("| completion | 2 | PATCH openaibatches/status 200 | 2.00 | 90.0/s (100 in 1.1 s) | 144.0/s (0.8 × 180.0/s) | 0.50 |"))
	g.Expect(doc).To(ContainSubstring("Sustained submissions: median 0.85 of the round's best replay over 2 rounds (target 0.8): met."))
	g.Expect(doc).To(ContainSubstring("Sustained completions: median 0.65 of the round's best replay over 2 rounds (target 0.8): **not met**."))
	// Each count's rounds, their median against the bar (1 replica: 450 and 370, median 410).
	g.Expect(doc).
		To(ContainSubstring("| 1 | 2 | 200 of 200 | 450.0, 370.0 | 410.0 | PATCH openaibatches/status 200 | 1.00 | 408.0/s (0.8 × median 510.0/s of 4) | met |"))
	g.Expect(doc).
		To(ContainSubstring("| 2 | 2 | 199 of 200 | 300.0, 320.0 | 310.0 | PATCH openaibatches/status 200 | 1.01 | 408.0/s (0.8 × median 510.0/s of 4) | **not met** |"))

	// Without replays there is no bar, and without replica runs the section says so.
	b.Reset()
	renderWrites(&b, &bench.WritesResults{Items: 100, Rounds: []bench.WritesRound{{WritesPerSubmission: 6, SubmissionsPerSecond: 35}}}, "")
	g.Expect(b.String()).To(ContainSubstring("| not measured | not measured |"))
	g.Expect(b.String()).To(ContainSubstring("Sustained submissions against the bare replay: not measured."))
	g.Expect(b.String()).To(ContainSubstring("Receiver replicas: not measured in this run."))
}

func TestIntListFlag(t *testing.T) {
	g := NewWithT(t)
	l := intList{16, 64}
	g.Expect(l.String()).To(Equal("16,64"))
	g.Expect(l.Set("1, 2,4")).To(Succeed())
	g.Expect([]int(l)).To(Equal([]int{1, 2, 4}))
	g.Expect(l.Set("")).To(Succeed())
	g.Expect(l).To(BeEmpty())
	g.Expect(l.Set("1,x")).NotTo(Succeed())
	g.Expect(l.Set("0")).NotTo(Succeed())
}
