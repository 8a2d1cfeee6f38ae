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

// Package reliability proves the operator's promise end to end: nothing lost, nothing
// spent twice, nobody let in. Each test is one scenario (crashes, lost webhooks, hostile
// load, API faults, API server trouble, secret hygiene) against the real binaries (as
// processes, where the scenario kills or restarts them) or the real components in
// process, a real API server and the OpenAI emulator.
//
// The size is set by RELIABILITY_SCALE: unset (or "ci") runs a small version of every
// scenario in `make test`; "full" runs the sizes docs/RELIABILITY.md reports, from
// hack/reliability.sh. When RELIABILITY_RESULTS names a directory, each test writes its
// figures there (see resultfile), for the report.
package reliability

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
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

// scale holds the sizes of every scenario.
type scale struct {
	name string

	// Crash safety: batches submitted while the manager is killed kills times.
	crashBatches, crashKills int
	// Leader handover: batches submitted while the leader is killed handovers times.
	handoverBatches, handovers int
	// Lost and late webhooks: batches and responses completed while the receiver is
	// killed receiverKills times and dropRate of the deliveries are dropped.
	webhookBatches, webhookResponses, receiverKills int
	// Hostile load: requests sent to the receiver, and the resources they target.
	hostileRequests, hostileTargets int
	// API faults: batches and responses run while the API answers 429 and 500.
	faultBatches, faultResponses int
	// Secret hygiene: resources of each kind run end to end.
	hygieneResources int
}

var (
	ciScale = scale{
		name:         "ci",
		crashBatches: 16, crashKills: 3,
		handoverBatches: 12, handovers: 1,
		webhookBatches: 40, webhookResponses: 40, receiverKills: 1,
		hostileRequests: 1000, hostileTargets: 20,
		faultBatches: 10, faultResponses: 10,
		hygieneResources: 2,
	}
	fullScale = scale{
		name:         "full",
		crashBatches: 200, crashKills: 5,
		handoverBatches: 200, handovers: 2,
		webhookBatches: 1000, webhookResponses: 1000, receiverKills: 3,
		hostileRequests: 10000, hostileTargets: 200,
		faultBatches: 200, faultResponses: 200,
		hygieneResources: 5,
	}
)

// size is the scale of this run, from RELIABILITY_SCALE.
var size = ciScale

// seed drives every random choice of the tests (kill times, request mix); set
// RELIABILITY_SEED to replay a run.
var seed uint64

func TestMain(m *testing.M) {
	switch s := os.Getenv("RELIABILITY_SCALE"); s {
	case "", "ci":
	case "full":
		size = fullScale
	default:
		fmt.Fprintf(os.Stderr, "reliability: RELIABILITY_SCALE=%q: want ci or full\n", s)
		os.Exit(2)
	}
	seed = uint64(time.Now().UnixNano())
	if v := os.Getenv("RELIABILITY_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			fmt.Fprintf(os.Stderr, "reliability: RELIABILITY_SEED=%q: %v\n", v, err)
			os.Exit(2)
		}
	}
	if os.Getenv("RELIABILITY_VERBOSE") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	fmt.Fprintf(os.Stderr, "reliability: scale %s, seed %d (RELIABILITY_SEED=%d replays it)\n", size.name, seed, seed)
	code := m.Run()
	cleanupShared()
	os.Exit(code)
}

// rng returns a random source for one test, derived from the run's seed and its name.
func rng(t *testing.T) *rand.Rand {
	var h uint64 = 14695981039346656037
	for _, c := range []byte(t.Name()) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return rand.New(rand.NewPCG(seed, h))
}

// Shared state, started by the first test that needs it.
var (
	binOnce sync.Once
	binDir  string
	binErr  error

	sharedMu  sync.Mutex
	sharedAPI *testenv.Env
	tempDirs  []string
)

func cleanupShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedAPI != nil {
		_ = sharedAPI.Stop()
	}
	for _, d := range tempDirs {
		_ = os.RemoveAll(d)
	}
}

// binaries builds the manager, webhook-receiver and openai-emulator from this tree once
// per run, so a test never runs stale binaries, and returns their directory.
func binaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "openai-operator-reliability-bin-")
		if err != nil {
			binErr = err
			return
		}
		sharedMu.Lock()
		tempDirs = append(tempDirs, dir)
		sharedMu.Unlock()
		build := exec.Command("go", "build", "-o", dir+"/", "./cmd/manager", "./cmd/webhook-receiver", "./cmd/openai-emulator")
		build.Dir = testenv.RepoRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building the binaries: %w\n%s", err, out)
			return
		}
		binDir = dir
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// apiServer returns an API server shared by the in-process tests, starting it if needed.
func apiServer(t *testing.T) *testenv.Env {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedAPI == nil {
		e, err := testenv.Start()
		if err != nil {
			t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
		}
		sharedAPI = e
	}
	return sharedAPI
}

// results collects a test's figures (see resultfile) and writes them to
// RELIABILITY_RESULTS when the test ends, with the commit measured, whether the tree
// had changes, the run (RELIABILITY_RUN_ID) and whether the test passed.
type results struct {
	*resultfile.Result
}

// record starts collecting the figures of t.
func record(t *testing.T) *results {
	res, err := resultfile.New(testenv.RepoRoot(), t.Name(), size.name, seed)
	if err != nil {
		t.Fatalf("recording the figures: %v", err)
	}
	r := &results{res}
	recorders.Store(t, r)
	t.Cleanup(func() {
		recorders.Delete(t)
		r.Finish()
		r.Passed = !t.Failed()
		t.Logf("figures of %s (%.1fs, load average %s):", t.Name(), r.Duration, strings.Join(r.LoadAvg, " -> "))
		for _, f := range r.Figures {
			kind := ""
			if f.Setup {
				kind = " (setup)"
			}
			t.Logf("  %s%s: %s", f.Name, kind, f.Value)
		}
		dir := os.Getenv(resultfile.ResultsEnv)
		if dir == "" || t.Skipped() {
			return
		}
		if err := r.Write(dir); err != nil {
			t.Errorf("writing the figures: %v", err)
		}
	})
	return r
}

// recorders finds the results of a running test, for helpers that add figures.
var recorders sync.Map // *testing.T -> *results

// recorderOf returns the results t records into, or nil.
func recorderOf(t *testing.T) *results {
	if r, ok := recorders.Load(t); ok {
		return r.(*results)
	}
	return nil
}

// add records a measured figure.
func (r *results) add(name string, value any) { r.Add(name, value) }

// setup records a value the test chose (a size, a rate), which the report keeps apart
// from what was measured.
func (r *results) setup(name string, value any) { r.Setup(name, value) }
