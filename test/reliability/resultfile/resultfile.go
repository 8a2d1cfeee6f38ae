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

// Package resultfile is the format of the figures the reliability tests measure and
// docs/RELIABILITY.md reports: one JSON file per test, each naming the commit it
// measured, whether the working tree had changes, whether the race detector was on, and
// the run it belongs to, so that the report can refuse figures that are not this
// commit's and this run's. It separates what a test chose (a size, a fault rate: Setup
// figures) from what it measured.
package resultfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RunIDEnv names the environment variable holding the run's id (hack/reliability.sh
// sets it); ResultsEnv the directory the results go to.
const (
	RunIDEnv   = "RELIABILITY_RUN_ID"
	ResultsEnv = "RELIABILITY_RESULTS"
)

// ReportPath is the report the figures go into; its own changes do not make a tree
// dirty (rendering it is the last step of a run, and runs follow each other).
const ReportPath = "docs/RELIABILITY.md"

// Figure is one value of a test.
type Figure struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Setup marks a value the test chose (a size, a fault rate), not one it measured.
	Setup bool `json:"setup,omitempty"`
}

// Provenance says what was measured: the commit, whether the tree differed from it, and
// the run.
type Provenance struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
	RunID  string `json:"runID"`
}

// Result is the figures of one test.
type Result struct {
	Test     string   `json:"test"`
	Scale    string   `json:"scale"`
	Seed     uint64   `json:"seed"`
	Started  string   `json:"started"`
	Duration float64  `json:"durationSeconds"`
	LoadAvg  []string `json:"loadAverage"` // at the start and at the end
	// Race: the test binary ran with the race detector.
	Race bool `json:"race"`
	// Passed: the test passed. A failed test's figures are reported as such.
	Passed bool `json:"passed"`
	Provenance
	Figures []Figure `json:"figures"`

	start time.Time
	mu    sync.Mutex
}

// Run is the manifest of a run (run.json in the results directory).
type Run struct {
	Provenance
	Started string `json:"started"`
}

// Current returns the provenance of the working tree at root: HEAD, and whether
// anything but the report differs from it. The run id comes from RunIDEnv.
func Current(root string) (Provenance, error) {
	p := Provenance{RunID: os.Getenv(RunIDEnv)}
	out, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		return p, err
	}
	p.Commit = strings.TrimSpace(out)
	status, err := git(root, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(status, "\n") {
		if len(line) > 3 && strings.TrimSpace(line[3:]) != ReportPath {
			p.Dirty = true
		}
	}
	return p, nil
}

func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// New starts the result of test, measuring the tree at root.
func New(root, test, scale string, seed uint64) (*Result, error) {
	p, err := Current(root)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &Result{Test: test, Scale: scale, Seed: seed, Started: now.UTC().Format(time.RFC3339),
		LoadAvg: []string{LoadAverage()}, Race: RaceEnabled, Provenance: p, start: now}, nil
}

// Add records a measured figure; values are formatted with %v, durations to the
// millisecond.
func (r *Result) Add(name string, value any) { r.add(name, value, false) }

// Setup records a value the test chose.
func (r *Result) Setup(name string, value any) { r.add(name, value, true) }

func (r *Result) add(name string, value any, setup bool) {
	var v string
	switch x := value.(type) {
	case time.Duration:
		v = x.Round(time.Millisecond).String()
	case float64:
		v = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		v = fmt.Sprint(x)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Figures = append(r.Figures, Figure{Name: name, Value: v, Setup: setup})
}

// Finish stamps the duration and the final load average.
func (r *Result) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Duration = time.Since(r.start).Seconds()
	r.LoadAvg = append(r.LoadAvg, LoadAverage())
}

// Write writes the result into dir as <test>.json.
func (r *Result) Write(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, strings.ReplaceAll(r.Test, "/", "_")+".json"), data, 0o644)
}

// ReadDir reads every result in dir, by test name.
func ReadDir(dir string) (map[string]*Result, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := map[string]*Result{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := &Result{}
		if err := json.Unmarshal(data, r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Test == "" {
			return nil, fmt.Errorf("%s: no test name", f)
		}
		if _, dup := out[r.Test]; dup {
			return nil, fmt.Errorf("%s: a second result of %s", f, r.Test)
		}
		out[r.Test] = r
	}
	return out, nil
}

// LoadAverage returns the 1, 5 and 15 minute load averages.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
