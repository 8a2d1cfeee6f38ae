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

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/openai-operator/openai-operator/test/reliability/resultfile"
)

const (
	commit  = "0123456789abcdef0123456789abcdef01234567"
	runID   = "20260101T000000Z-0123456789ab"
	docHead = "# Reliability\n\nHand-written text.\n\n"
)

// fixture is a results directory of one run and a document to render into.
type fixture struct {
	t        *testing.T
	dir, doc string
	m        manifest
	results  map[string]*resultfile.Result
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, doc: filepath.Join(dir, "RELIABILITY.md"), results: map[string]*resultfile.Result{}}
	f.m = manifest{Run: resultfile.Run{Provenance: resultfile.Provenance{Commit: commit, RunID: runID},
		Started: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, Machine: "a test machine"}
	f.add(&resultfile.Result{Test: "TestManagerKilledMidSubmissionCreatesEachBatchOnce", Scale: "full", Passed: true,
		LoadAvg: []string{"1.00 1.00 1.00", "2.00 2.00 2.00"}, Duration: 21,
		Figures: []resultfile.Figure{
			{Name: "batches", Value: "200", Setup: true},
			{Name: "kills that landed in the create window", Value: "2 (at least 2 required)"},
			{Name: "batches.create calls", Value: "200"},
		}})
	f.add(&resultfile.Result{Test: "TestFaultSchedules", Scale: "full", Passed: true, Duration: 2400,
		Figures: []resultfile.Figure{
			{Name: "seeds asked for (first seed)", Value: "2000 (7000)", Setup: true},
			{Name: "seeds run", Value: "2000"},
			{Name: "faults injected (by fault)", Value: "9000: 400 800, 401 820"},
		}})
	if err := os.WriteFile(f.doc, []byte(docHead+beginMarker+"\nold figures\n"+endMarker+"\n\nAfter.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) add(r *resultfile.Result) {
	r.Provenance = f.m.Provenance
	f.results[r.Test] = r
}

// render writes the fixture's files and renders the document with HEAD at head.
func (f *fixture) render(head string, allowDirty bool) (string, error) {
	f.t.Helper()
	_ = os.RemoveAll(filepath.Join(f.dir, "results"))
	if err := os.MkdirAll(filepath.Join(f.dir, "results"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	data, _ := json.Marshal(f.m)
	if err := os.WriteFile(filepath.Join(f.dir, runFile), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	for _, r := range f.results {
		if err := r.Write(filepath.Join(f.dir, "results")); err != nil {
			f.t.Fatal(err)
		}
	}
	err := run(options{dir: f.dir, doc: f.doc, head: head, allowDirty: allowDirty})
	out, rerr := os.ReadFile(f.doc)
	if rerr != nil {
		f.t.Fatal(rerr)
	}
	return string(out), err
}

func TestReportNamesTheCommitAndKeepsSetupApart(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	doc, err := f.render(commit, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(doc).To(HavePrefix(docHead))
	g.Expect(doc).To(HaveSuffix(endMarker + "\n\nAfter.\n"))
	g.Expect(doc).NotTo(ContainSubstring("old figures"))
	g.Expect(doc).To(ContainSubstring("Measured at commit `" + commit + "` (a clean tree), run `" + runID + "`"))
	g.Expect(doc).To(ContainSubstring("2 at size full, without `-race`"))
	g.Expect(doc).To(ContainSubstring("Setup (chosen, not measured): batches 200."))
	g.Expect(doc).NotTo(ContainSubstring("| batches | 200 |"), "a setup value is never a row of measurements")
	g.Expect(doc).To(ContainSubstring("| batches.create calls | 200 |"))
	g.Expect(doc).To(ContainSubstring("#### 8. Randomized fault schedules (`TestFaultSchedules`)"))
	g.Expect(doc).To(ContainSubstring("| faults injected (by fault) | 9000: 400 800, 401 820 |"))
	g.Expect(doc).To(ContainSubstring("#### 2. Lost and late webhooks (`TestLostAndLateWebhooksLoseNothing`)\n\nNot run in this run."))
	g.Expect(doc).To(ContainSubstring("| `FuzzVerify` | signature verifier | `internal/standardwebhooks` | not run in this run |"))
}

// TestReportFollowsTheFigures alters results and checks that each changed figure
// changes the text: nothing in the document is a literal.
func TestReportFollowsTheFigures(t *testing.T) {
	cases := map[string]struct {
		alter      func(f *fixture)
		was, isNow string
	}{
		"a measured value": {
			func(f *fixture) {
				f.results["TestManagerKilledMidSubmissionCreatesEachBatchOnce"].Figures[2].Value = "201"
			},
			"| batches.create calls | 200 |", "| batches.create calls | 201 |"},
		"a setup value": {
			func(f *fixture) {
				f.results["TestManagerKilledMidSubmissionCreatesEachBatchOnce"].Figures[0].Value = "16"
			},
			"Setup (chosen, not measured): batches 200.", "Setup (chosen, not measured): batches 16."},
		"the fault schedule figures": {
			func(f *fixture) { f.results["TestFaultSchedules"].Figures[2].Value = "12: 500 12" },
			"| faults injected (by fault) | 9000: 400 800, 401 820 |", "| faults injected (by fault) | 12: 500 12 |"},
		"the size": {
			func(f *fixture) {
				for _, r := range f.results {
					r.Scale = "ci"
				}
			},
			"2 at size full", "2 at size ci"},
		"the race detector": {
			func(f *fixture) { f.results["TestFaultSchedules"].Race = true },
			"without `-race`", "1 with `-race`, 1 without"},
		"a failure": {
			func(f *fixture) { f.results["TestFaultSchedules"].Passed = false },
			"passed; size full; 40m0s", "**FAILED**; size full; 40m0s"},
		"the load average": {
			func(f *fixture) {
				f.results["TestManagerKilledMidSubmissionCreatesEachBatchOnce"].LoadAvg = []string{"3.00 3.00 3.00", "4.00 4.00 4.00"}
			},
			"load average 1.00 1.00 1.00 → 2.00 2.00 2.00", "load average 3.00 3.00 3.00 → 4.00 4.00 4.00"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)
			before, err := f.render(commit, false)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(before).To(ContainSubstring(tc.was))
			tc.alter(f)
			after, err := f.render(commit, false)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(after).NotTo(ContainSubstring(tc.was))
			g.Expect(after).To(ContainSubstring(tc.isNow))
		})
	}
}

func TestReportRefusesFiguresItCannotVouchFor(t *testing.T) {
	cases := map[string]struct {
		alter func(f *fixture)
		head  string
		want  string
	}{
		"a run of another commit": {func(*fixture) {}, "fedcba9876543210fedcba9876543210fedcba98", "but HEAD is fedcba98"},
		"a result of another run": {func(f *fixture) {
			f.results["TestFaultSchedules"].RunID = "20251231T000000Z-0123456789ab"
		}, commit, "a mix of runs is refused"},
		"a result without a run": {func(f *fixture) { f.results["TestFaultSchedules"].RunID = "" }, commit, "a mix of runs is refused"},
		"a result of another commit": {func(f *fixture) {
			f.results["TestFaultSchedules"].Commit = "fedcba9876543210fedcba9876543210fedcba98"
		}, commit, "measured commit fedcba9876543210fedcba9876543210fedcba98"},
		"a result of a changed tree": {func(f *fixture) { f.results["TestFaultSchedules"].Dirty = true }, commit, "another state"},
		"a run of a changed tree": {func(f *fixture) {
			f.m.Dirty = true
			for _, r := range f.results {
				r.Dirty = true
			}
		}, commit, "uncommitted changes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)
			tc.alter(f)
			doc, err := f.render(tc.head, false)
			g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
			g.Expect(doc).To(ContainSubstring("old figures"), "a refused run leaves the document alone")
		})
	}
	t.Run("no run manifest", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixture(t)
		_, _ = f.render(commit, false)
		g.Expect(os.Remove(filepath.Join(f.dir, runFile))).To(Succeed())
		err := run(options{dir: f.dir, doc: f.doc, head: commit})
		g.Expect(err).To(MatchError(ContainSubstring("no run.json")))
	})
	t.Run("a changed tree, accepted and said", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixture(t)
		f.m.Dirty = true
		for _, r := range f.results {
			r.Dirty = true
		}
		doc, err := f.render(commit, true)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(doc).To(ContainSubstring("**a tree with uncommitted changes**"))
	})
	t.Run("a fuzz log older than the run", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixture(t)
		for _, ext := range []string{".log", ".status"} {
			p := filepath.Join(f.dir, "fuzz-FuzzVerify"+ext)
			g.Expect(os.WriteFile(p, []byte("0\n"), 0o644)).To(Succeed())
			old := time.Now().Add(-2 * time.Hour)
			g.Expect(os.Chtimes(p, old, old)).To(Succeed())
		}
		_, err := f.render(commit, false)
		g.Expect(err).To(MatchError(ContainSubstring("older than the run")))
	})
}

// TestBeginEmptiesTheResults checks that a new run starts from nothing: an earlier
// run's results and fuzz logs cannot survive into the next document.
func TestBeginEmptiesTheResults(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	_, err := f.render(commit, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(filepath.Join(f.dir, "fuzz-FuzzVerify.log"), []byte("x"), 0o644)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(f.dir, "fuzz-FuzzVerify.status"), []byte("0"), 0o644)).To(Succeed())

	root, err := filepath.Abs("../../..")
	g.Expect(err).NotTo(HaveOccurred())
	id, err := beginRun(f.dir, root)
	g.Expect(err).NotTo(HaveOccurred())
	left, _ := filepath.Glob(filepath.Join(f.dir, "results", "*"))
	g.Expect(left).To(BeEmpty())
	fuzz, _ := filepath.Glob(filepath.Join(f.dir, "fuzz-*"))
	g.Expect(fuzz).To(BeEmpty())
	data, err := os.ReadFile(filepath.Join(f.dir, runFile))
	g.Expect(err).NotTo(HaveOccurred())
	var m manifest
	g.Expect(json.Unmarshal(data, &m)).To(Succeed())
	g.Expect(m.RunID).To(Equal(id))
	head, err := resultfile.Current(root)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m.Commit).To(Equal(head.Commit))
	g.Expect(strings.HasSuffix(id, head.Commit[:12])).To(BeTrue())

	// The old results are gone, so the earlier run's figures cannot be rendered again
	// under the new run.
	err = run(options{dir: f.dir, doc: f.doc, head: m.Commit, allowDirty: true})
	g.Expect(err).NotTo(HaveOccurred())
	doc, _ := os.ReadFile(f.doc)
	g.Expect(string(doc)).To(ContainSubstring("No scenario results in this run."))
	g.Expect(string(doc)).NotTo(ContainSubstring("batches.create calls"))
}
