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

// Command report writes the figures of a reliability run (the result files the tests of
// test/reliability and test/faultschedule write, and the logs of the long fuzz runs)
// into the generated section of docs/RELIABILITY.md. hack/reliability.sh runs it twice:
//
//	report -begin -results bin/reliability   # empties the results, writes run.json, prints the run id
//	report -results bin/reliability -doc docs/RELIABILITY.md
//
// It refuses figures it cannot vouch for: a results directory without the run.json of
// -begin, a result file of another run, of another commit or tree state than the run's,
// a run of another commit than HEAD, a run on a tree with uncommitted changes (unless
// -allow-dirty, and then the document says so), and fuzz logs older than the run. The
// document names the commit it measured. Values a test chose (sizes, rates) are shown as
// its setup, apart from what it measured.
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

	"github.com/openai-operator/openai-operator/test/reliability/resultfile"
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
	{"TestFaultSchedules", "8. Randomized fault schedules"},
}

// fuzzTargets are the long fuzz runs, in the order the document presents them.
var fuzzTargets = []struct{ name, pkg, what string }{
	{"FuzzVerify", "internal/standardwebhooks", "signature verifier"},
	{"FuzzParseEvent", "webhook-receiver", "event decoder"},
	{"FuzzHandler", "webhook-receiver", "receiver request handling (verify, decode, route)"},
	{"FuzzValidate", "internal/batchinput", "JSONL batch input parser"},
}

// runFile is the manifest of a run in the results directory.
const runFile = "run.json"

// manifest is run.json: the run's provenance, when it began, and the machine.
type manifest struct {
	resultfile.Run
	Machine string `json:"machine"`
	LoadAvg string `json:"loadAverage"`
}

func main() {
	dir := flag.String("results", "bin/reliability", "The run's directory: run.json, results/*.json, fuzz-*.log and fuzz-*.status.")
	doc := flag.String("doc", "docs/RELIABILITY.md", "The document whose generated section is rewritten.")
	begin := flag.Bool("begin", false, "Begin a run: empty the directory's results and fuzz logs, write run.json, print the run id.")
	allowDirty := flag.Bool("allow-dirty", false, "Accept a run of a tree with uncommitted changes (the document says so).")
	flag.Parse()
	var err error
	if *begin {
		var id string
		if id, err = beginRun(*dir, "."); err == nil {
			fmt.Println(id)
		}
		if p, perr := resultfile.Current("."); perr == nil && p.Dirty && !*allowDirty {
			fmt.Fprintln(
				os.Stderr,
				"report: warning: the tree has uncommitted changes; the report of this run will be refused unless -allow-dirty (RELIABILITY_ALLOW_DIRTY=1)",
			)
		}
	} else {
		var head resultfile.Provenance
		if head, err = resultfile.Current("."); err == nil {
			err = run(options{dir: *dir, doc: *doc, head: head.Commit, allowDirty: *allowDirty})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// beginRun empties dir of an earlier run's figures and writes the manifest of a new
// one, measuring the tree at root. It returns the run id.
func beginRun(dir, root string) (string, error) {
	p, err := resultfile.Current(root)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "results"), 0o755); err != nil {
		return "", err
	}
	var stale []string
	for _, pattern := range []string{"results/*.json", "fuzz-*.log", "fuzz-*.status", "fuzz-*.moved", runFile} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		stale = append(stale, m...)
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			return "", err
		}
	}
	now := time.Now().UTC()
	p.RunID = fmt.Sprintf("%s-%s", now.Format("20060102T150405Z"), shortCommit(p.Commit))
	m := manifest{Run: resultfile.Run{Provenance: p, Started: now.Format(time.RFC3339)}, Machine: machine(), LoadAvg: resultfile.LoadAverage()}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	return p.RunID, os.WriteFile(filepath.Join(dir, runFile), data, 0o644)
}

type options struct {
	dir, doc   string
	head       string // the commit HEAD names now
	allowDirty bool
}

func run(o options) error {
	m, results, err := load(o)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(beginMarker + "\n\n")
	writeHeader(&b, m, results)
	if err := writeResults(&b, results, o.dir, m); err != nil {
		return err
	}
	b.WriteString(endMarker)

	old, err := os.ReadFile(o.doc)
	if err != nil {
		return err
	}
	i, j := bytes.Index(old, []byte(beginMarker)), bytes.Index(old, []byte(endMarker))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no generated section (%q ... %q)", o.doc, beginMarker, endMarker)
	}
	out := append(append(append([]byte{}, old[:i]...), b.String()...), old[j+len(endMarker):]...)
	return os.WriteFile(o.doc, out, 0o644)
}

// load reads the run's manifest and results and refuses what does not belong together.
func load(o options) (manifest, map[string]*resultfile.Result, error) {
	var m manifest
	data, err := os.ReadFile(filepath.Join(o.dir, runFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil, fmt.Errorf("%s has no %s: figures are only reported from a run that hack/reliability.sh began (report -begin)", o.dir, runFile)
	}
	if err != nil {
		return m, nil, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, nil, fmt.Errorf("%s: %w", runFile, err)
	}
	if m.Commit == "" || m.RunID == "" {
		return m, nil, fmt.Errorf("%s names no commit or run id", runFile)
	}
	if m.Commit != o.head {
		return m, nil, fmt.Errorf("the run measured commit %s, but HEAD is %s: run hack/reliability.sh again", m.Commit, o.head)
	}
	if m.Dirty && !o.allowDirty {
		return m, nil, fmt.Errorf(
			"the run measured commit %s with uncommitted changes: commit them and run again (or pass -allow-dirty, and the document says so)",
			shortCommit(m.Commit),
		)
	}
	results, err := resultfile.ReadDir(filepath.Join(o.dir, "results"))
	if err != nil {
		return m, nil, err
	}
	names := make([]string, 0, len(results))
	for name := range results {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := results[name]
		switch {
		case r.RunID != m.RunID:
			return m, nil, fmt.Errorf("the result of %s belongs to run %q, not to this run (%s): a mix of runs is refused", name, r.RunID, m.RunID)
		case r.Commit != m.Commit:
			return m, nil, fmt.Errorf("the result of %s measured commit %s, the run commit %s", name, r.Commit, m.Commit)
		case r.Dirty != m.Dirty:
			return m, nil, fmt.Errorf(
				"the result of %s measured a tree in another state (uncommitted changes: %v) than the run began with (%v)",
				name,
				r.Dirty,
				m.Dirty,
			)
		}
	}
	return m, results, nil
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func writeHeader(b *strings.Builder, m manifest, results map[string]*resultfile.Result) {
	tree := "a clean tree"
	if m.Dirty {
		tree = "**a tree with uncommitted changes** (accepted with -allow-dirty)"
	}
	fmt.Fprintf(b, "Measured at commit `%s` (%s), run `%s`, begun %s UTC on %s.\n",
		m.Commit, tree, m.RunID, strings.Replace(strings.TrimSuffix(m.Started, "Z"), "T", " ", 1), m.Machine)
	if len(results) == 0 {
		b.WriteString("No scenario results in this run.\n\n")
		return
	}
	scales, race := map[string]int{}, map[bool]int{}
	for _, r := range results {
		scales[r.Scale]++
		race[r.Race]++
	}
	var parts []string
	for _, s := range sortedKeys(scales) {
		parts = append(parts, fmt.Sprintf("%d at size %s", scales[s], s))
	}
	raceNote := "without `-race`"
	switch {
	case race[true] > 0 && race[false] > 0:
		raceNote = fmt.Sprintf("%d with `-race`, %d without", race[true], race[false])
	case race[true] > 0:
		raceNote = "with `-race`"
	}
	noun := "results"
	if len(results) == 1 {
		noun = "result"
	}
	fmt.Fprintf(
		b,
		"%d scenario %s: %s, %s. Each table gives the load average (1, 5, 15 min) seen at the\n",
		len(results),
		noun,
		strings.Join(parts, ", "),
		raceNote,
	)
	b.WriteString("start and at the end of its test.\n\n")
}

func writeResults(b *strings.Builder, results map[string]*resultfile.Result, dir string, m manifest) error {
	seen := map[string]bool{}
	for _, s := range scenarios {
		if s.test == "" {
			if err := writeFuzz(b, s.title, dir, m); err != nil {
				return err
			}
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
	return nil
}

func writeResult(b *strings.Builder, title, test string, results map[string]*resultfile.Result) {
	fmt.Fprintf(b, "#### %s (`%s`)\n\n", title, test)
	r, ok := results[test]
	if !ok {
		b.WriteString("Not run in this run.\n\n")
		return
	}
	outcome := "passed"
	if !r.Passed {
		outcome = "**FAILED**"
	}
	fmt.Fprintf(b, "%s; size %s; %s; load average %s.\n\n", outcome, r.Scale,
		(time.Duration(r.Duration * float64(time.Second))).Round(time.Second), strings.Join(r.LoadAvg, " → "))
	var setup []string
	for _, f := range r.Figures {
		if f.Setup {
			setup = append(setup, fmt.Sprintf("%s %s", strings.TrimSpace(f.Name), f.Value))
		}
	}
	if len(setup) > 0 {
		fmt.Fprintf(b, "Setup (chosen, not measured): %s.\n\n", escape(strings.Join(setup, "; ")))
	}
	b.WriteString("| measured | value |\n| --- | --- |\n")
	for _, f := range r.Figures {
		if f.Setup {
			continue
		}
		name := strings.TrimSpace(f.Name)
		if strings.HasPrefix(f.Name, "  ") {
			name = "&nbsp;&nbsp;" + name
		}
		fmt.Fprintf(b, "| %s | %s |\n", escape(name), escape(f.Value))
	}
	b.WriteString("\n")
}

var fuzzProgress = regexp.MustCompile(`fuzz: elapsed: (\S+), execs: (\d+) \((\d+)/sec\), new interesting: (\d+) \(total: (\d+)\)`)

func writeFuzz(b *strings.Builder, title, dir string, m manifest) error {
	began, err := time.Parse(time.RFC3339, m.Started)
	if err != nil {
		return fmt.Errorf("%s: started: %w", runFile, err)
	}
	fmt.Fprintf(b, "#### %s (long runs, one target at a time)\n\n", title)
	b.WriteString("| target | what | package | ran | executions | new interesting / corpus | result |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, f := range fuzzTargets {
		logPath := filepath.Join(dir, "fuzz-"+f.name+".log")
		statusPath := filepath.Join(dir, "fuzz-"+f.name+".status")
		data, err := os.ReadFile(logPath)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(b, "| `%s` | %s | `%s` | not run in this run | | | |\n", f.name, f.what, f.pkg)
			continue
		}
		st, err := os.Stat(statusPath)
		if err != nil {
			return fmt.Errorf("%s has a log but no exit status: the fuzz run did not finish", f.name)
		}
		if st.ModTime().Before(began.Add(-time.Second)) {
			return fmt.Errorf(
				"%s's fuzz status (%s) is older than the run (%s): a mix of runs is refused",
				f.name,
				st.ModTime().UTC().Format(time.RFC3339),
				m.Started,
			)
		}
		var elapsed, execs, rate, interesting, total string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if m := fuzzProgress.FindStringSubmatch(sc.Text()); m != nil {
				elapsed, execs, rate, interesting, total = m[1], m[2], m[3], m[4], m[5]
			}
		}
		status, _ := os.ReadFile(statusPath)
		outcome := "clean (no failure)"
		if strings.TrimSpace(string(status)) != "0" {
			outcome = "**failed**: " + failureSummary(data)
			if moved, err := os.ReadFile(filepath.Join(dir, "fuzz-"+f.name+".moved")); err == nil {
				outcome += " (the input is kept as `" + strings.Join(strings.Fields(string(moved)), "`, `") + "`)"
			}
		}
		when := ", ended " + st.ModTime().UTC().Format("2006-01-02 15:04") + " UTC"
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
	return nil
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

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// machine describes the machine the run began on.
func machine() string {
	return fmt.Sprintf("%s, %d CPUs, %s RAM, %s, %s", cpuModel(), runtime.NumCPU(), memTotal(), kernel(), runtime.Version())
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
