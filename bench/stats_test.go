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
	"strings"
	"testing"
	"time"
)

func TestMedianAndPercentile(t *testing.T) {
	tests := map[string]struct {
		xs          []float64
		median, p99 float64
	}{
		"none":  {xs: nil, median: 0, p99: 0},
		"one":   {xs: []float64{7}, median: 7, p99: 7},
		"odd":   {xs: []float64{3, 1, 2}, median: 2, p99: 3},
		"even":  {xs: []float64{4, 1, 3, 2}, median: 2.5, p99: 4},
		"100th": {xs: seq(100), median: 50.5, p99: 99},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Median(tc.xs); got != tc.median {
				t.Errorf("Median = %v, want %v", got, tc.median)
			}
			if got := Percentile(tc.xs, 99); got != tc.p99 {
				t.Errorf("Percentile(99) = %v, want %v", got, tc.p99)
			}
		})
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(ds)
	if l.Count != 200 || l.P50 != 100 || l.P99 != 198 || l.Max != 200 {
		t.Errorf("Summarize = %+v", l)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkVerify/body=1KiB/lib=receiver-2         	  121700	      1600 ns/op	 605.43 MB/s	     192 B/op	       8 allocs/op
BenchmarkVerify/body=1KiB/lib=openai-go-2        	   35696	      6796 ns/op	 150.68 MB/s	    4737 B/op	      23 allocs/op
BenchmarkVerify/body=1KiB/lib=receiver-2         	  121700	      1700 ns/op	 605.43 MB/s	     192 B/op	       8 allocs/op
BenchmarkVerify/body=1KiB/lib=receiver-2         	  121700	      1900 ns/op	 605.43 MB/s	     200 B/op	       9 allocs/op
PASS
ok  	github.com/openai-operator/openai-operator/bench	1.505s
`
	got, err := ParseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d benchmarks, want 2: %+v", len(got), got)
	}
	r := got[0]
	if r.Name != "BenchmarkVerify/body=1KiB/lib=receiver" || r.Runs != 3 || r.NsPerOp != 1700 || r.BytesPerOp != 192 || r.AllocsPerOp != 8 ||
		r.NsPerOpMin != 1600 ||
		r.NsPerOpMax != 1900 {
		t.Errorf("receiver = %+v", r)
	}
	if got[1].Name != "BenchmarkVerify/body=1KiB/lib=openai-go" || got[1].Runs != 1 {
		t.Errorf("openai-go = %+v", got[1])
	}
}
