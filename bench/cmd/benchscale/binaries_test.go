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

func TestRenderWritesComparesRatesWithTheCeilingOverWritesPerItem(t *testing.T) {
	g := NewWithT(t)
	var b strings.Builder
	// Bar: 0.8 × 400/s ÷ 4 writes = 80/s for submissions; ÷ 2 writes = 160/s for completions.
	renderWrites(&b, &bench.WritesResults{
		Items: 100, CeilingWritesPerSecond: 400,
		SubmissionWrites: map[string]int64{"PATCH openaibatches/status": 300, "POST events": 100}, WritesPerSubmission: 4, SubmissionsPerSecond: 79,
		CompletionWrites: map[string]int64{"PATCH openaibatches/status": 200}, WritesPerCompletion: 2, CompletionsPerSecond: 160,
	}, "abc123")
	doc := b.String()
	g.Expect(doc).To(ContainSubstring("Measured at commit abc123"))
	g.Expect(doc).
		To(ContainSubstring("| submission | PATCH openaibatches/status 300, POST events 100 | 4.00 | 79.0/s (100 in 0.0 s) | 80.0/s | **not met** |"))
	g.Expect(doc).To(ContainSubstring("| completion | PATCH openaibatches/status 200 | 2.00 | 160.0/s (100 in 0.0 s) | 160.0/s | met |"))
	// 160/s × 2 writes = 320 writes/s, under the 400/s ceiling.
	g.Expect(doc).NotTo(ContainSubstring("is not the API server's ceiling"))

	b.Reset()
	renderWrites(
		&b,
		&bench.WritesResults{
			Items:                  100,
			CeilingWritesPerSecond: 100,
			WritesPerSubmission:    6,
			SubmissionsPerSecond:   35,
			WritesPerCompletion:    3,
			CompletionsPerSecond:   40,
		},
		"",
	)
	g.Expect(b.String()).
		To(ContainSubstring("**The bare client's 100 writes/s is not the API server's ceiling**: the operator itself wrote 210/s while submitting and 120/s while completing"))
}
