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
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/openai-operator/openai-operator/test/reliability/resultfile"
)

// summary is what a run of many seeds did and found, for the log and the report.
type summary struct {
	cfg       runConfig
	took      time.Duration
	run       int
	notRun    int
	failed    []string // "seed (invariants)"
	harness   int      // seeds that failed for the harness's own reasons
	early     int
	resources map[string]int
	injected  map[Fault]int
	refused   map[string]int
	crashes   int
	answered  int
	armed     int
	actions   map[string]int
	checks    map[string]int
	violated  map[string]int // invariant -> seeds
	settle    []time.Duration
	bounds    []time.Duration
	calls     int
	delivered int
}

func summarize(cfg runConfig, results []*SeedResult, took time.Duration) *summary {
	s := &summary{cfg: cfg, took: took, resources: map[string]int{}, injected: map[Fault]int{}, refused: map[string]int{},
		actions: map[string]int{}, checks: map[string]int{}, violated: map[string]int{}}
	for _, r := range results {
		if r == nil {
			s.notRun++
			continue
		}
		s.run++
		for k, n := range r.Resources {
			s.resources[k] += n
		}
		for f, n := range r.Injected {
			s.injected[f] += n
		}
		for k, n := range r.Refused {
			s.refused[k] += n
		}
		s.crashes += r.Crashes
		s.answered += len(r.CrashesAnswered)
		for k, n := range r.Actions {
			switch k {
			case ActCrashAfterAnswer:
				s.armed += n
			case ActCrash:
			default:
				s.actions[k] += n
			}
		}
		for inv, n := range r.Checks {
			s.checks[inv] += n
		}
		s.calls += r.Calls
		s.delivered += r.Deliveries
		s.bounds = append(s.bounds, r.Bound)
		if r.Early {
			s.early++
		}
		if r.Err != nil {
			s.harness++
		}
		if len(r.Violations) == 0 && r.Err == nil {
			s.settle = append(s.settle, r.Settled)
			continue
		}
		invs := map[string]bool{}
		for _, v := range r.Violations {
			invs[v.Invariant] = true
		}
		var names []string
		for inv := range invs {
			names = append(names, inv)
			s.violated[inv]++
		}
		if r.Err != nil {
			names = append(names, "harness error")
		}
		sort.Strings(names)
		s.failed = append(s.failed, fmt.Sprintf("%d (%s)", r.Schedule.Seed, strings.Join(names, ", ")))
	}
	sort.Slice(s.settle, func(i, j int) bool { return s.settle[i] < s.settle[j] })
	sort.Slice(s.bounds, func(i, j int) bool { return s.bounds[i] < s.bounds[j] })
	return s
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, len(ds)*p/100)].Round(time.Millisecond)
}

func countList[K comparable](m map[K]int, order []K) string {
	var parts []string
	for _, k := range order {
		if n := m[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%v %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func total[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// figures returns the summary as (name, value, setup) rows.
func (s *summary) figures() [][3]any {
	invs := []string{I1, I2, I3, I4, I5, I6, I7, I8}
	rows := [][3]any{
		{"size", s.cfg.size.Name, true},
		{"seeds asked for (first seed)", fmt.Sprintf("%d (%d)", len(s.cfg.seeds), s.cfg.seeds[0]), true},
		{"seeds at a time", s.cfg.parallel, true},
		{"fault phase per seed", s.cfg.size.Phase, true},
		{"seeds run", s.run, false},
		{"seeds that violated an invariant or failed", len(s.failed), false},
		{"resources (by kind)", countList(s.resources, sortedKeys(s.resources)), false},
		{"faults injected (by fault)", fmt.Sprintf("%d: %s", total(s.injected), countList(s.injected, AllFaults)), false},
		{"calls refused in refusal windows and with revoked keys",
			fmt.Sprintf("%d: %s", total(s.refused), countList(s.refused, sortedKeys(s.refused))), false},
		{"manager crashes", fmt.Sprintf("%d (%d after OpenAI answered an armed call, before the manager saw the answer; %d armed calls never came)",
			s.crashes, s.answered, s.armed-s.answered), false},
		{"user actions (by kind)", fmt.Sprintf("%d: %s", total(s.actions), countList(s.actions, sortedKeys(s.actions))), false},
		{"OpenAI calls", s.calls, false},
		{"webhook delivery attempts", s.delivered, false},
		{"invariant checks (by invariant)", countList(s.checks, invs), false},
		{"seeds violating each invariant", countList(s.violated, invs), false},
		{"seeds stopped at a definitive violation", s.early, false},
		{"time to settle after faults stopped: median / p95 / max (seeds that passed)",
			fmt.Sprintf("%s / %s / %s", pct(s.settle, 50), pct(s.settle, 95), pct(s.settle, 100)), false},
		{"stated settle bound (I7): smallest / largest", fmt.Sprintf("%s / %s", pct(s.bounds, 0), pct(s.bounds, 100)), false},
		{"duration", s.took, false},
	}
	if len(s.failed) > 0 {
		shown := s.failed
		if len(shown) > 20 {
			shown = append(append([]string(nil), shown[:20]...), fmt.Sprintf("and %d more", len(s.failed)-20))
		}
		rows = append(rows, [3]any{"failing seeds (invariants)", strings.Join(shown, "; "), false})
	}
	return rows
}

func (s *summary) String() string {
	var b strings.Builder
	b.WriteString("fault schedule figures:\n")
	for _, f := range s.figures() {
		fmt.Fprintf(&b, "  %v: %v\n", f[0], f[1])
	}
	return b.String()
}

// write writes the figures into r, begun when the run began, and r into
// RELIABILITY_RESULTS when that names a directory.
func (s *summary) write(r *resultfile.Result, passed bool) error {
	dir := os.Getenv(resultfile.ResultsEnv)
	if dir == "" {
		return nil
	}
	for _, f := range s.figures() {
		if f[2].(bool) {
			r.Setup(f[0].(string), f[1])
		} else {
			r.Add(f[0].(string), f[1])
		}
	}
	r.Finish()
	r.Passed = passed
	return r.Write(dir)
}
