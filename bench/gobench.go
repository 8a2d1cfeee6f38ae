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
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// GoBenchmark is the summary of the -count runs of one `go test -bench` benchmark.
type GoBenchmark struct {
	// Name is the benchmark name without the -GOMAXPROCS suffix.
	Name string `json:"name"`
	// Runs is how many result lines were read.
	Runs int `json:"runs"`
	// NsPerOp, BytesPerOp and AllocsPerOp are medians over the runs.
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	// NsPerOpMin and NsPerOpMax are the extremes, to show the spread.
	NsPerOpMin float64 `json:"nsPerOpMin"`
	NsPerOpMax float64 `json:"nsPerOpMax"`
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// ParseGoBench reads `go test -bench -benchmem` output and returns one summary per
// benchmark, in the order they first appear. Lines that are not results are ignored.
func ParseGoBench(r io.Reader) ([]GoBenchmark, error) {
	type samples struct{ ns, bytes, allocs []float64 }
	byName := map[string]*samples{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		s := byName[m[1]]
		if s == nil {
			s = &samples{}
			byName[m[1]] = s
			order = append(order, m[1])
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: value %q: %w", m[1], fields[i], err)
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]GoBenchmark, 0, len(order))
	for _, name := range order {
		s := byName[name]
		if len(s.ns) == 0 {
			continue
		}
		out = append(out, GoBenchmark{
			Name: name, Runs: len(s.ns),
			NsPerOp: Median(s.ns), BytesPerOp: Median(s.bytes), AllocsPerOp: Median(s.allocs),
			NsPerOpMin: slices.Min(s.ns), NsPerOpMax: slices.Max(s.ns),
		})
	}
	return out, nil
}
