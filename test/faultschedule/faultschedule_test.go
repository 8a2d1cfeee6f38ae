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

package faultschedule

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/openai-operator/openai-operator/internal/testenv"
	"github.com/openai-operator/openai-operator/test/reliability/resultfile"
)

func TestMain(m *testing.M) {
	if os.Getenv("FAULT_VERBOSE") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	os.Exit(m.Run())
}

// TestFaultSchedules runs the real reconcilers, in process, against a real API server
// and the emulator under randomized fault schedules, one namespace, emulator, receiver
// and manager per seed, and checks the invariants I1 to I7 when each schedule has ended
// (see the package documentation). A failing seed prints the command that replays it,
// the schedule it drew, the violated invariants and the tail of its log.
func TestFaultSchedules(t *testing.T) {
	cfg, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := resultfile.New(testenv.RepoRoot(), t.Name(), cfg.size.Name, cfg.seeds[0])
	if err != nil {
		t.Fatalf("recording the figures: %v", err)
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	t.Logf("fault schedules: %d seeds from %d, size %s, %d at a time", len(cfg.seeds), cfg.seeds[0], cfg.size.Name, cfg.parallel)

	// Stop starting seeds when the test's own deadline comes near: a seed takes at most
	// its settle bound plus its phase and setup.
	deadline, hasDeadline := t.Deadline()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := time.Now()
	results := make([]*SeedResult, len(cfg.seeds))
	work := make(chan int)
	var wg sync.WaitGroup
	for range cfg.parallel {
		wg.Go(func() {
			for i := range work {
				r := RunSeed(ctx, env, cfg.seeds[i], cfg.size, cfg.kinds)
				results[i] = &r
			}
		})
	}
	for i := range cfg.seeds {
		if hasDeadline && time.Until(deadline) < 2*time.Minute {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(started)

	sum := summarize(cfg, results, took)
	for i, r := range results {
		seed := cfg.seeds[i]
		if r == nil {
			continue
		}
		if cfg.replay {
			t.Logf("schedule:\n%s", r.Schedule.String())
			t.Logf("log:\n%s", strings.Join(r.Log, "\n"))
		}
		if r.Err == nil && len(r.Violations) == 0 {
			continue
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Error(failureReport(r, cfg.kindsEnv))
		})
	}
	if sum.notRun > 0 {
		t.Errorf("%d of %d seeds were not run: the test's deadline came first (raise -timeout or lower FAULT_SEEDS)", sum.notRun, len(cfg.seeds))
	}
	t.Logf("%s", sum)
	if err := sum.write(rec, !t.Failed()); err != nil {
		t.Errorf("writing the figures: %v", err)
	}
}

// failureReport is what a failing seed prints.
func failureReport(r *SeedResult, kinds string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d failed\nreplay: %s\n", r.Schedule.Seed, replayCommand(r.Schedule.Seed, r.Schedule.Size, kinds))
	if r.Err != nil {
		fmt.Fprintf(&b, "harness error: %v\n", r.Err)
	}
	if len(r.Violations) > 0 {
		b.WriteString("violated:\n")
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "  %s\n", v)
		}
		if r.Early {
			b.WriteString("  (stopped at a definitive violation; the invariants that need the seed settled were not evaluated)\n")
		}
	}
	fmt.Fprintf(&b, "schedule:\n%s", r.Schedule.String())
	fmt.Fprintf(&b, "log (%d lines: the last ones, and every line that names a resource named above):\n  %s\n", len(r.Log), strings.Join(r.Log, "\n  "))
	return b.String()
}
