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

// Command report writes the figures of a full reliability run (the JSON files the tests
// of test/reliability write, and the logs of the long fuzz runs) into the generated
// section of docs/RELIABILITY.md. hack/reliability.sh runs it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	beginMarker = "<!-- BEGIN GENERATED FIGURES: hack/reliability.sh writes this section -->"
	endMarker   = "<!-- END GENERATED FIGURES -->"
)

// scenarios names the tests in the order the document presents them.
var scenarios = []struct{ test, title string }{
	{"TestManagerKilledMidSubmissionCreatesEachBatchOnce", "1a. Manager killed mid-submission"},
	{"TestLeaderHandoverCreatesEachBatchOnce", "1b. Leader handover"},
	{"TestLostAndLateWebhooksLoseNothing", "2. Lost and late webhooks"},
	{"TestHostileLoadOnTheReceiver", "3. Hostile load on the receiver"},
	{"TestAPIFaultsCompleteWithinBoundedCalls", "4. API faults"},
	{"TestAPIServerTroubleLosesNothing", "5. API server trouble"},
	{"", "6. Fuzzing"}, // the long fuzz runs
	{"TestSecretsNeverLeak", "7. Secret hygiene"},
}

// fuzzTargets are the long fuzz runs, in the order the document presents them.
var fuzzTargets = []struct{ name, pkg, what string }{
	{"FuzzVerify", "internal/standardwebhooks", "signature verifier"},
	{"FuzzParseEvent", "webhook-receiver", "event decoder"},
	{"FuzzHandler", "webhook-receiver", "receiver request handling (verify, decode, route)"},
	{"FuzzValidate", "internal/batchinput", "JSONL batch input parser"},
}

type figure struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type result struct {
	Test     string   `json:"test"`
	Scale    string   `json:"scale"`
	Seed     uint64   `json:"seed"`
	Started  string   `json:"started"`
	Duration float64  `json:"durationSeconds"`
	LoadAvg  []string `json:"loadAverage"`
	Figures  []figure `json:"figures"`
}

func main() {
	dir := flag.String("results", "bin/reliability", "Directory with results/*.json and fuzz-*.log.")
	doc := flag.String("doc", "docs/RELIABILITY.md", "The document whose generated section is rewritten.")
	flag.Parse()
	if err := run(*dir, *doc); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(dir, doc string) error {
	results, err := readResults(filepath.Join(dir, "results"))
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(beginMarker + "\n\n")
	writeMachine(&b, results)
	writeResults(&b, results, dir)
	b.WriteString(endMarker)

	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	i, j := bytes.Index(old, []byte(beginMarker)), bytes.Index(old, []byte(endMarker))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no generated section (%q ... %q)", doc, beginMarker, endMarker)
	}
	out := append(append(append([]byte{}, old[:i]...), b.String()...), old[j+len(endMarker):]...)
	return os.WriteFile(doc, out, 0o644)
}

func readResults(dir string) (map[string]result, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	out := map[string]result{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[r.Test] = r
	}
	return out, nil
}

func writeMachine(b *strings.Builder, results map[string]result) {
	var first, last time.Time
	var seeds []string
	for _, r := range results {
		t, err := time.Parse(time.RFC3339, r.Started)
		if err != nil {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if end := t.Add(time.Duration(r.Duration * float64(time.Second))); end.After(last) {
			last = end
		}
		if s := strconv.FormatUint(r.Seed, 10); !contains(seeds, s) {
			seeds = append(seeds, s)
		}
	}
	machine := fmt.Sprintf("%s, %d CPUs, %s RAM, %s, %s", cpuModel(), runtime.NumCPU(), memTotal(), kernel(), runtime.Version())
	if first.IsZero() {
		fmt.Fprintf(b, "No scenario figures yet (run `make test-reliability`). Machine: %s.\n", machine)
	} else {
		fmt.Fprintf(b, "Measured on %s, %s to %s UTC, at full size (`RELIABILITY_SCALE=full`, seed %s) on %s.\n",
			first.Format("2006-01-02"), first.Format("15:04"), last.Format("15:04"), strings.Join(seeds, ", "), machine)
	}
	b.WriteString("The two cores were shared with other work; each table gives the load average (1, 5, 15 min) seen\n")
	b.WriteString("at the start and at the end of its test. The tests ran without `-race`.\n\n")
}

func writeResults(b *strings.Builder, results map[string]result, dir string) {
	seen := map[string]bool{}
	for _, s := range scenarios {
		if s.test == "" {
			writeFuzz(b, s.title, dir)
			continue
		}
		seen[s.test] = true
		writeResult(b, s.title, s.test, results)
	}
	var rest []string
	for name := range results {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		writeResult(b, name, name, results)
	}
}

func writeResult(b *strings.Builder, title, test string, results map[string]result) {
	fmt.Fprintf(b, "#### %s (`%s`)\n\n", title, test)
	r, ok := results[test]
	if !ok {
		b.WriteString("No figures: the test was not run at full size, or it failed.\n\n")
		return
	}
	fmt.Fprintf(b, "Scale %s; %s; load average %s.\n\n", r.Scale, (time.Duration(r.Duration * float64(time.Second))).Round(time.Second), strings.Join(r.LoadAvg, " → "))
	b.WriteString("| figure | value |\n| --- | --- |\n")
	for _, f := range r.Figures {
		name := strings.TrimSpace(f.Name)
		if strings.HasPrefix(f.Name, "  ") {
			name = "&nbsp;&nbsp;" + name
		}
		fmt.Fprintf(b, "| %s | %s |\n", escape(name), escape(f.Value))
	}
	b.WriteString("\n")
}

var fuzzProgress = regexp.MustCompile(`fuzz: elapsed: (\S+), execs: (\d+) \((\d+)/sec\), new interesting: (\d+) \(total: (\d+)\)`)

func writeFuzz(b *strings.Builder, title, dir string) {
	fmt.Fprintf(b, "#### %s (long runs, one target at a time)\n\n", title)
	b.WriteString("| target | what | package | ran | executions | new interesting / corpus | result |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, f := range fuzzTargets {
		logPath := filepath.Join(dir, "fuzz-"+f.name+".log")
		data, err := os.ReadFile(logPath)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(b, "| `%s` | %s | `%s` | not run | | | |\n", f.name, f.what, f.pkg)
			continue
		}
		var elapsed, execs, rate, interesting, total string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if m := fuzzProgress.FindStringSubmatch(sc.Text()); m != nil {
				elapsed, execs, rate, interesting, total = m[1], m[2], m[3], m[4], m[5]
			}
		}
		status, _ := os.ReadFile(filepath.Join(dir, "fuzz-"+f.name+".status"))
		outcome := "clean (no failure)"
		if strings.TrimSpace(string(status)) != "0" {
			outcome = "**failed**: " + failureSummary(data)
			if moved, err := os.ReadFile(filepath.Join(dir, "fuzz-"+f.name+".moved")); err == nil {
				outcome += " (the input is kept as `" + strings.Join(strings.Fields(string(moved)), "`, `") + "`)"
			}
		}
		when := ""
		if st, err := os.Stat(logPath); err == nil {
			when = ", ended " + st.ModTime().UTC().Format("2006-01-02 15:04") + " UTC"
		}
		// The last progress line may say 0/sec (the final tick); give the average.
		if d, err := time.ParseDuration(elapsed); err == nil && d > 0 {
			if n, err := strconv.ParseFloat(execs, 64); err == nil {
				rate = strconv.FormatFloat(n/d.Seconds(), 'f', 0, 64)
			}
		}
		fmt.Fprintf(b, "| `%s` | %s | `%s` | %s%s | %s (%s/s on average) | %s / %s | %s |\n",
			f.name, f.what, f.pkg, elapsed, when, thousands(execs), rate, interesting, total, outcome)
	}
	b.WriteString("\n")
}

// failureSummary returns the lines of a fuzz log that say what failed and where the
// failing input was written.
func failureSummary(log []byte) string {
	var out []string
	for _, line := range strings.Split(string(log), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, ".go") || strings.Contains(line, "_test.go:") || strings.Contains(line, "panic:") {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return "see the log"
	}
	return strings.Join(out, "; ")
}

func thousands(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return s
	}
	str := strconv.FormatInt(n, 10)
	var out []byte
	for i := range str {
		if i > 0 && (len(str)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, str[i])
	}
	return string(out)
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "an unknown CPU"
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return fmt.Sprintf("%.1f GiB", kb/1024/1024)
			}
		}
	}
	return "unknown"
}

func kernel() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return "Linux " + strings.TrimSpace(string(data))
}
