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
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Scenario names, as -scenarios takes them.
const (
	ScenarioVerify     = "verify"
	ScenarioThroughput = "throughput"
	ScenarioLatency    = "latency"
	ScenarioEndToEnd   = "e2e"
	ScenarioPolling    = "polling"
	ScenarioScale      = "scale"
)

// AllScenarios lists every scenario in run order.
var AllScenarios = []string{ScenarioVerify, ScenarioThroughput, ScenarioLatency, ScenarioEndToEnd, ScenarioPolling, ScenarioScale}

// Plan sizes every scenario.
type Plan struct {
	Throughput ThroughputOptions
	Latency    LatencyOptions
	EndToEnd   EndToEndOptions
	Polling    PollingOptions
	Scale      ScaleOptions
}

// FullPlan is what `make bench` runs (about 15 minutes on 2 cores).
func FullPlan() Plan {
	return Plan{
		Throughput: ThroughputOptions{
			Cells:  []ThroughputCellSpec{{Resources: 1000, Concurrency: 1}, {Resources: 1000, Concurrency: 8}, {Resources: 5000, Concurrency: 8}},
			Events: 500, Rounds: 5,
		},
		Latency: LatencyOptions{Rates: []int{50, 100, 200}, Duration: 10 * time.Second, Resources: 1000, Wait: 30 * time.Second},
		EndToEnd: EndToEndOptions{
			Runs:    []EndToEndRun{{Rate: 20, Batches: 100}, {Rate: 50, Batches: 250, Injected: true}, {Rate: 200, Batches: 600, Injected: true}},
			Timeout: 2 * time.Minute,
		},
		Polling: PollingOptions{FirstRequests: 100, Requests: []int{10, 100, 200, 300}, PerClass: 5, Timeout: 6 * time.Minute},
		Scale:   ScaleOptions{Steps: []ScaleStep{{InFlight: 1000, Completed: 100}, {InFlight: 5000, Completed: 500}}, Timeout: 8 * time.Minute},
	}
}

// SmallPlan is a quick run of everything, for developing the benchmarks.
func SmallPlan() Plan {
	return Plan{
		Throughput: ThroughputOptions{
			Cells:  []ThroughputCellSpec{{Resources: 100, Concurrency: 1}, {Resources: 200, Concurrency: 8}},
			Events: 100,
			Rounds: 2,
		},
		Latency: LatencyOptions{Rates: []int{50, 200}, Duration: 2 * time.Second, Resources: 100, Wait: 10 * time.Second},
		EndToEnd: EndToEndOptions{
			Runs:    []EndToEndRun{{Rate: 20, Batches: 40}, {Rate: 50, Batches: 100, Injected: true}, {Rate: 200, Batches: 200, Injected: true}},
			Timeout: time.Minute,
		},
		Polling: PollingOptions{FirstRequests: 100, Requests: []int{10, 60}, PerClass: 2, Timeout: 2 * time.Minute},
		Scale:   ScaleOptions{Steps: []ScaleStep{{InFlight: 100, Completed: 20}, {InFlight: 300, Completed: 60}}, Timeout: 2 * time.Minute},
	}
}

// RunOptions say what to run and where to put things.
type RunOptions struct {
	// Scenarios to run (AllScenarios when empty).
	Scenarios []string
	// LoadWaited is how long the caller waited for the load to drop, for the report.
	LoadWaited string
	// VerifyBench is the `go test -bench -benchmem` output of BenchmarkVerify, and
	// VerifyCount its -count; the verify scenario only reads it.
	VerifyBench string
	VerifyCount int
	// BinDir holds the binaries for the scale scenario.
	BinDir string
	// WorkDir receives logs and the scale scenario's environment.
	WorkDir string
	// Progress receives a line per stage.
	Progress io.Writer
	// Save is called with the results after each scenario.
	Save func(*Results) error
}

// Run runs the plan's scenarios and returns what they measured. A failing scenario is
// recorded in Results.Errors and the others still run.
func Run(ctx context.Context, plan Plan, opts RunOptions) *Results {
	res := &Results{StartedAt: time.Now(), Commit: describeCommit(), Machine: DescribeMachine()}
	res.Machine.LoadWaited = opts.LoadWaited
	want := func(s string) bool { return len(opts.Scenarios) == 0 || slices.Contains(opts.Scenarios, s) }
	logf := func(format string, args ...any) {
		if opts.Progress != nil {
			_, _ = fmt.Fprintf(opts.Progress, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
		}
	}
	fail := func(name string, err error) {
		logf("%s failed: %v", name, err)
		res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", name, err))
	}
	save := func() {
		res.FinishedAt = time.Now()
		res.Machine.LoadEnd = LoadAvg()
		if opts.Save != nil {
			if err := opts.Save(res); err != nil {
				logf("saving results: %v", err)
			}
		}
	}

	if want(ScenarioVerify) {
		logf("verify: reading %s", opts.VerifyBench)
		if v, err := VerifyFromFile(opts.VerifyBench, opts.VerifyCount); err != nil {
			fail(ScenarioVerify, err)
		} else {
			res.Verify = v
		}
		save()
	}

	if want(ScenarioThroughput) || want(ScenarioLatency) || want(ScenarioEndToEnd) || want(ScenarioPolling) {
		logf("starting the API server and the receiver")
		lab, err := StartLab(ctx)
		if err != nil {
			fail("lab", err)
		} else {
			if want(ScenarioThroughput) {
				logf("throughput: %d cells", len(plan.Throughput.Cells))
				if r, err := RunThroughput(ctx, lab, plan.Throughput); err != nil {
					fail(ScenarioThroughput, err)
				} else {
					res.Throughput = r
				}
				save()
			}
			if want(ScenarioLatency) {
				logf("latency: rates %v", plan.Latency.Rates)
				if r, err := RunLatency(ctx, lab, plan.Latency); err != nil {
					fail(ScenarioLatency, err)
				} else {
					res.Latency = r
				}
				save()
			}
			if want(ScenarioEndToEnd) {
				logf("e2e: runs %v", plan.EndToEnd.Runs)
				if r, err := RunEndToEnd(ctx, lab, plan.EndToEnd); err != nil {
					fail(ScenarioEndToEnd, err)
				} else {
					res.EndToEnd = r
				}
				save()
			}
			if want(ScenarioPolling) {
				logf("polling: sizes %v, %d per size and mode", plan.Polling.Requests, plan.Polling.PerClass)
				if r, err := RunPolling(ctx, lab, plan.Polling); err != nil {
					fail(ScenarioPolling, err)
				} else {
					res.Polling = r
				}
				save()
			}
			logf("stopping the API server")
			lab.Stop()
		}
	}

	if want(ScenarioScale) {
		so := plan.Scale
		so.BinDir, so.Dir, so.Progress = opts.BinDir, filepath.Join(opts.WorkDir, "scale"), opts.Progress
		logf("scale: steps %v", so.Steps)
		if r, err := RunScale(ctx, so); err != nil {
			fail(ScenarioScale, err)
		} else {
			res.Scale = r
		}
		save()
	}
	save()
	return res
}

// VerifyFromFile summarises the BenchmarkVerify output in path.
func VerifyFromFile(path string, count int) (*VerifyResults, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	benches, err := ParseGoBench(f)
	if err != nil {
		return nil, err
	}
	if len(benches) == 0 {
		return nil, fmt.Errorf("%s holds no benchmark results", path)
	}
	v := &VerifyResults{Count: count, Benchmarks: benches,
		Scenario: Scenario{
			Setup: "go test -bench BenchmarkVerify -benchmem in this package: each library configured once with the secret, then called per request with the body and the http.Header (the receiver's path includes standardwebhooks.HeadersFrom)",
		}}
	byKey := map[string]GoBenchmark{}
	for _, b := range benches {
		byKey[b.Name] = b
	}
	for _, size := range verifySizes {
		base := byKey[fmt.Sprintf("BenchmarkVerify/body=%s/lib=openai-go", size.name)]
		for _, lib := range verifierOrder {
			b, ok := byKey[fmt.Sprintf("BenchmarkVerify/body=%s/lib=%s", size.name, lib)]
			if !ok {
				continue
			}
			v.Rows = append(v.Rows, VerifyRow{Body: size.name, Library: lib, NsPerOp: b.NsPerOp, NsPerOpMin: b.NsPerOpMin, NsPerOpMax: b.NsPerOpMax,
				BytesPerOp: b.BytesPerOp, AllocsPerOp: b.AllocsPerOp, VsOpenAIGo: ratio(b.NsPerOp, base.NsPerOp)})
		}
	}
	return v, nil
}

// ParseScenarios splits a comma-separated list and checks the names.
func ParseScenarios(s string) ([]string, error) {
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(AllScenarios, name) {
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(AllScenarios, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

// describeCommit names the tree being measured, or "" outside a git checkout.
func describeCommit() string {
	out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty", "--abbrev=12").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
