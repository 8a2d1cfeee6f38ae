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
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// loadResults reads the committed bench/results.json as a generic JSON tree.
func loadResults(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("results.json")
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	return tree
}

func decodeResults(t *testing.T, tree map[string]any) *Results {
	t.Helper()
	b, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

// figure is one number of a Results, found by reflection, with its JSON path.
type figure struct {
	path string
	get  func() float64
	set  func(float64)
}

// figures lists every number in v (a pointer to a struct), named by JSON paths.
func figures(v reflect.Value, path string, out *[]figure) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			figures(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				figures(v.Field(i), path, out)
				continue
			}
			if name == "" || name == "-" {
				name = f.Name
			}
			figures(v.Field(i), path+"."+name, out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			figures(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			m := v
			if !m.MapIndex(k).CanInt() && !m.MapIndex(k).CanFloat() {
				continue
			}
			*out = append(*out, figure{path + "." + k.String(),
				func() float64 {
					e := m.MapIndex(k)
					if e.CanInt() {
						return float64(e.Int())
					}
					return e.Float()
				},
				func(x float64) {
					e := reflect.New(m.Type().Elem()).Elem()
					if e.CanInt() {
						e.SetInt(int64(x))
					} else {
						e.SetFloat(x)
					}
					m.SetMapIndex(k, e)
				}})
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		*out = append(*out, figure{path, func() float64 { return float64(v.Int()) }, func(x float64) { v.SetInt(int64(x)) }})
	case reflect.Float64, reflect.Float32:
		*out = append(*out, figure{path, v.Float, v.SetFloat})
	}
}

// notInReport are figures of results.json that the report does not print, each group
// with its reason.
var notInReport = []*regexp.Regexp{
	// Scenario 5: seeding time and the count reached by an unfinished step belong to
	// make bench-scale's seeded runs; its report (bench/cmd/benchscale) prints them, this
	// one only with a seeded count, which make bench's runs (never seeded) do not have.
	regexp.MustCompile(`^\.scale\.steps\[\d+\]\.(seedSeconds|reached)$`),
	// Sample counts behind percentiles (the tables give the number of events instead).
	regexp.MustCompile(`\.count$`),
	// Scenario 1: the raw go test -bench lines; the table prints their medians (rows).
	regexp.MustCompile(`^\.verify\.benchmarks\[\d+\]\.`),
	// Scenario 1 runs inside go test before the others: no load figures are printed for it.
	regexp.MustCompile(`^\.verify\.load(Before|After)$`),
	// Scenario 3a: the p99 ratio is the two printed p99s divided.
	regexp.MustCompile(`^\.latency\.rows\[\d+\]\.p99Ratio$`),
	// Scenario 3b: the table prints calls per batch, not each operation's count (the
	// findings cite the operations of the target rate's injected run); p90 and max of the
	// POST-to-Complete latency and the emulator runs' answer times are not columns; the
	// emulator's time scale is part of the setup text.
	regexp.MustCompile(`^\.endToEnd\.rows\[\d+\]\.(calls\.|fromPost\.(p90Ms|maxMs)$|answer\.|timeScale$)`),
	// Scenario 4: the table prints p50 and max of completion to Complete.
	regexp.MustCompile(`^\.polling\.rows\[\d+\]\.toComplete\.(p90Ms|p99Ms)$`),
	// Scenario 5: object sizes are printed for the last step only.
	regexp.MustCompile(`^\.scale\.steps\[\d+\]\.(objectBytes|managedFieldsBytes)$`),
}

// TestReportFollowsEveryFigure alters each figure of the committed results on its own
// and renders the report again: every figure must change the text (the tables print
// them, the findings compute from them), so no figure is silently ignored.
func TestReportFollowsEveryFigure(t *testing.T) {
	res := decodeResults(t, loadResults(t))
	base := Report(res)
	var all []figure
	figures(reflect.ValueOf(res), "", &all)
	if len(all) < 100 {
		t.Fatalf("only %d figures found in results.json", len(all))
	}
	var unchanged []string
	for _, f := range all {
		old := f.get()
		// A large change, away from every threshold the findings compare with (integers
		// stay integers: some fields are counts).
		if old == math.Trunc(old) {
			f.set(old*3 + 7)
		} else {
			f.set(old*3 + 7.5)
		}
		changed := Report(res) != base
		f.set(old)
		if changed || slices.ContainsFunc(notInReport, func(re *regexp.Regexp) bool { return re.MatchString(f.path) }) {
			continue
		}
		unchanged = append(unchanged, f.path)
	}
	if Report(res) != base {
		t.Fatal("restoring every figure did not restore the report")
	}
	if len(unchanged) > 0 {
		t.Errorf(
			"altering these figures leaves the report unchanged (print them, or list them in notInReport with a reason):\n%s",
			strings.Join(unchanged, "\n"),
		)
	}
}

// TestFindingsClaimOnlyWhatTheFiguresSay renders the findings from altered results and
// checks the wording that depends on each comparison.
func TestFindingsClaimOnlyWhatTheFiguresSay(t *testing.T) {
	tests := map[string]struct {
		alter         func(*Results)
		want, notWant []string
	}{
		"the machine's CPUs come from the run": {
			alter: func(r *Results) { r.Machine.NProc = 8 },
			want:  []string{"with 8 CPUs (`nproc`)"}, notWant: []string{"two cores", "2 CPUs"},
		},
		"a receiver cheaper than the bare client is not said to add CPU": {
			alter: func(r *Results) {
				for i := range r.Throughput.Cells {
					r.Throughput.Cells[i].ReceiverCPUms.Self = r.Throughput.Cells[i].BareCPUms.Self - 1
				}
			},
			want: []string{"(no more than the bare client)"}, notWant: []string{"adds about -", "ms more per event"},
		},
		"verification memory that grows with the body is reported as such": {
			alter: func(r *Results) {
				for i, row := range r.Verify.Rows {
					if row.Library == "receiver" && row.Body == "64KiB" {
						r.Verify.Rows[i].BytesPerOp, r.Verify.Rows[i].AllocsPerOp = 70000, 12
					}
				}
			},
			want: []string{"and 70000 B in 12 at 64 KiB"}, notWant: []string{"does not grow with the body", "whatever the body"},
		},
		"the bare patch meeting the latency target does not blame the API server": {
			alter: func(r *Results) {
				for i := range r.Latency.Rows {
					r.Latency.Rows[i].Bare.P99 = 10
				}
			},
			notWant: []string{"puts it out of reach"},
		},
		"no pre-written conclusions": {
			alter: func(*Results) {},
			notWant: []string{
				"36 MB",
				"two cores",
				"almost all of them",
				"a few percent",
				"would fix",
				"What would",
				"Every figure is measured next to a baseline",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := decodeResults(t, loadResults(t))
			tc.alter(res)
			assertText(t, findings(res), tc.want, tc.notWant)
			assertText(t, Report(res), nil, []string{"Every figure is measured next to a baseline"})
		})
	}
}
