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

// Package release checks what the project ships besides its code: the alerts and
// dashboards name only metrics the binaries export, and the image's build context holds
// everything the binaries are built from.
package release

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/testenv"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// exported returns every series name the manager and the receiver can export: their
// own metrics (by descriptor, so a metric counts before its first sample) with the
// _bucket, _sum and _count series of histograms, and controller-runtime's and client-go's
// metrics in the manager's registry.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	descName := regexp.MustCompile(`fqName: "([^"]+)"`)
	add := func(cs ...prometheus.Collector) {
		for _, c := range cs {
			ch := make(chan *prometheus.Desc, 16)
			go func() { c.Describe(ch); close(ch) }()
			for d := range ch {
				m := descName.FindStringSubmatch(d.String())
				if m == nil {
					t.Fatalf("cannot read the name of %s", d)
				}
				names[m[1]] = true
				if _, ok := c.(prometheus.ObserverVec); ok {
					for _, s := range []string{"_bucket", "_sum", "_count"} {
						names[m[1]+s] = true
					}
				}
			}
		}
	}
	add(controllers.Collectors()...)
	m, err := receiver.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	add(m.Events, m.RequestDuration, m.EventToStatus, m.EarlyEvents, m.SigningSecrets)
	return names
}

// promQLNames returns the metric names an expression uses: identifiers that are not
// functions, keywords, label names or aggregation modifiers.
func promQLNames(expr string) []string {
	// Drop label matchers ({...}), strings and durations ([...]) first.
	expr = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]|"[^"]*"`).ReplaceAllString(expr, " ")
	// And the label lists of by/without/on/ignoring/group_left/group_right.
	expr = regexp.MustCompile(`(?i)\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`).ReplaceAllString(expr, " ")
	keywords := map[string]bool{"sum": true, "rate": true, "increase": true, "irate": true, "avg": true, "max": true, "min": true, "count": true,
		"histogram_quantile": true, "and": true, "or": true, "unless": true, "offset": true, "bool": true, "clamp_min": true, "clamp_max": true,
		"vector": true, "absent": true, "topk": true, "bottomk": true, "delta": true, "deriv": true, "time": true, "label_replace": true, "abs": true}
	var out []string
	for _, m := range regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`).FindAllString(expr, -1) {
		if strings.HasSuffix(strings.TrimSpace(m), "(") {
			continue // a function call
		}
		if keywords[strings.ToLower(m)] || regexp.MustCompile(`^\d`).MatchString(m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestPromQLNames checks the name extraction itself.
func TestPromQLNames(t *testing.T) {
	got := promQLNames(`sum by (kind) (rate(a_total{code!~"2..", x="y"}[5m])) / on(kind) sum(b_count) > 0.1 unless absent(c)`)
	if want := []string{"a_total", "b_count", "c"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestAlertsUseExportedMetrics reads every expression of the PrometheusRule and checks
// each metric name against the binaries' registries.
func TestAlertsUseExportedMetrics(t *testing.T) {
	names := exported(t)
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			n++
			used := promQLNames(r.Expr)
			if len(used) == 0 {
				t.Errorf("alert %s: no metric found in %q", r.Alert, r.Expr)
			}
			for _, name := range used {
				if !names[name] {
					t.Errorf("alert %s uses %s, which neither binary exports", r.Alert, name)
				}
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d alerts found", n)
	}
}
