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

// Command benchrun runs the performance scenarios of package bench and writes
// bench/results.json and docs/PERFORMANCE.md. hack/bench.sh (make bench) calls it after
// running the signature verification micro-benchmarks with go test.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/openai-operator/openai-operator/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out         = flag.String("out", "bench/results.json", "Where to write the results (JSON).")
		report      = flag.String("report", "docs/PERFORMANCE.md", "Where to write the report (Markdown); empty skips it.")
		reportOnly  = flag.Bool("report-only", false, "Only rewrite the report from the results file.")
		scenarios   = flag.String("scenarios", "all", "Comma-separated scenarios: verify, throughput, latency, e2e, polling, scale.")
		size        = flag.String("size", "full", "full (make bench) or small (a quick run while developing).")
		verifyBench = flag.String("verify-bench", "", "The go test -bench -benchmem output of BenchmarkVerify.")
		verifyCount = flag.Int("verify-count", 0, "The -count of that go test run.")
		binDir      = flag.String("bin", "bin", "Directory of the manager, webhook-receiver and openai-emulator binaries.")
		workDir     = flag.String("work", "", "Directory for logs and the scale scenario's environment (default: a temporary one).")
		cpuProfile  = flag.String("cpuprofile", "", "Write a CPU profile of the in-process scenarios to this file.")
		loadWaited  = flag.String("load-waited", "", "How long the caller waited for the load to drop (recorded in the report).")
	)
	flag.Parse()

	if *reportOnly {
		res, err := bench.ReadResults(*out)
		if err != nil {
			return err
		}
		return bench.WriteReport(*report, res)
	}
	names, err := bench.ParseScenarios(*scenarios)
	if err != nil {
		return err
	}
	var plan bench.Plan
	switch *size {
	case "full":
		plan = bench.FullPlan()
	case "small":
		plan = bench.SmallPlan()
	default:
		return fmt.Errorf("unknown -size %q", *size)
	}
	if *workDir == "" {
		if *workDir, err = os.MkdirTemp("", "openai-operator-bench-"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(*binDir)
	if err != nil {
		return err
	}
	logs, err := bench.SetupLogging(filepath.Join(*workDir, "in-process.log"))
	if err != nil {
		return err
	}
	defer func() { _ = logs.Close() }()
	fmt.Fprintf(os.Stderr, "benchrun: logs in %s\n", *workDir)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res := bench.Run(ctx, plan, bench.RunOptions{
		Scenarios: names, LoadWaited: *loadWaited, VerifyBench: *verifyBench, VerifyCount: *verifyCount,
		BinDir: abs, WorkDir: *workDir, Progress: os.Stderr,
		Save: func(r *bench.Results) error { return bench.WriteJSON(*out, r) },
	})
	if *report != "" {
		if err := bench.WriteReport(*report, res); err != nil {
			return err
		}
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d scenario(s) failed: %v", len(res.Errors), res.Errors)
	}
	return nil
}
