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
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	// The manager's metrics, registered in controller-runtime's registry at init.
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/testenv"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// exported reports whether a binary exports a series of this name. The manager
// serves controller-runtime's metrics.Registry, which holds its own metrics (registered
// by the controllers package at init) and controller-runtime's and client-go's
// (reconciles, work queues, REST client calls). The registry cannot list its names, so
// each name is probed: registering a collector of that name fails exactly when one is
// registered already. The receiver's metrics are read from their descriptors. Histogram
// series (_bucket, _sum, _count) count for the histogram's name.
func exported(t *testing.T) func(name string) bool {
	t.Helper()
	// own maps the project's metrics (the receiver's, and the manager's that
	// controllers.Collectors lists) to whether they are histograms.
	own := map[string]bool{}
	descName := regexp.MustCompile(`fqName: "([^"]+)"`)
	m, err := receiver.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	receiverNames := map[string]bool{}
	receiverCollectors := []prometheus.Collector{m.Events, m.RequestDuration, m.EventToStatus, m.EarlyEvents, m.SigningSecrets}
	for i, c := range append(receiverCollectors, controllers.Collectors()...) {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			name := descName.FindStringSubmatch(d.String())
			if name == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			_, histogram := c.(prometheus.ObserverVec)
			own[name[1]] = histogram
			if i < len(receiverCollectors) {
				receiverNames[name[1]] = true
			}
		}
	}
	metricName := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	inManager := func(name string) bool {
		probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe"})
		if err := ctrlmetrics.Registry.Register(probe); err != nil {
			return true // already registered, with these or other labels
		}
		ctrlmetrics.Registry.Unregister(probe)
		return false
	}
	return func(name string) bool {
		if !metricName.MatchString(name) {
			return false
		}
		if receiverNames[name] || inManager(name) {
			return true
		}
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			base, ok := strings.CutSuffix(name, s)
			if !ok {
				continue
			}
			if histogram, known := own[base]; known {
				return histogram
			}
			// controller-runtime's and client-go's: the type cannot be probed.
			return inManager(base)
		}
		return false
	}
}

// TestExported checks the probe itself: the manager's own metrics, controller-runtime's,
// a histogram's series and the receiver's count; a made-up name and a label do not.
func TestExported(t *testing.T) {
	has := exported(t)
	for _, name := range []string{"openai_operator_api_requests_total", "openai_operator_insufficient_quota_total",
		"openai_operator_api_request_duration_seconds_bucket", "controller_runtime_reconcile_total",
		"controller_runtime_reconcile_errors_total", "workqueue_depth", "rest_client_requests_total",
		"openai_webhook_events_total", "openai_webhook_event_to_status_seconds_count"} {
		if !has(name) {
			t.Errorf("%s is reported as not exported", name)
		}
	}
	for _, name := range []string{"openai_operator_no_such_metric_total", "operation", "openai_operator_api_requests_total_count"} {
		if has(name) {
			t.Errorf("%s is reported as exported", name)
		}
	}
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
	exported := exported(t)
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
				if !exported(name) {
					t.Errorf("alert %s uses %s, which neither binary exports", r.Alert, name)
				}
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d alerts found", n)
	}
}

// TestDashboardUsesExportedMetrics reads every query of the Grafana dashboards in
// config/grafana and checks each metric name against the binaries' registries.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	exported := exported(t)
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "grafana", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboard in config/grafana (%v)", err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			UID    string  `json:"uid"`
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if dash.UID == "" {
			t.Errorf("%s: no uid", f)
		}
		queries := 0
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: panel %q has no query", filepath.Base(f), p.Title)
				}
				for _, q := range p.Targets {
					queries++
					used := promQLNames(q.Expr)
					if len(used) == 0 {
						t.Errorf("%s: panel %q: no metric found in %q", filepath.Base(f), p.Title, q.Expr)
					}
					for _, name := range used {
						if !exported(name) {
							t.Errorf("%s: panel %q uses %s, which neither binary exports", filepath.Base(f), p.Title, name)
						}
					}
				}
			}
		}
		walk(dash.Panels)
		if queries == 0 {
			t.Errorf("%s: no query found", f)
		}
	}
}
