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

import "testing"

func TestParseProm(t *testing.T) {
	text := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="openaibatch",result="success"} 120
controller_runtime_reconcile_total{controller="openaibatch",result="requeue_after"} 30
controller_runtime_reconcile_total{controller="openairesponse",result="success"} 7
workqueue_depth{controller="openaibatch",name="openaibatch"} 0
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",` +
		`subresource="",verb="GET",version="v1"} 5
process_resident_memory_bytes 2.5e+07
odd_label{msg="a \"quoted\", value"} 1
`
	s := parseProm(text)
	tests := map[string]struct {
		name  string
		match map[string]string
		want  float64
	}{
		"all batch reconciles":  {"controller_runtime_reconcile_total", map[string]string{"controller": "openaibatch"}, 150},
		"every reconcile":       {"controller_runtime_reconcile_total", nil, 157},
		"by two labels":         {"controller_runtime_reconcile_total", map[string]string{"controller": "openaibatch", "result": "success"}, 120},
		"no labels, exponent":   {"process_resident_memory_bytes", nil, 2.5e7},
		"apiserver by verb":     {"apiserver_request_total", map[string]string{"verb": "GET", "resource": "secrets"}, 5},
		"escaped label value":   {"odd_label", map[string]string{"msg": `a "quoted", value`}, 1},
		"absent metric is zero": {"nope", nil, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sumMetric(s, tc.name, tc.match); got != tc.want {
				t.Errorf("sumMetric = %v, want %v", got, tc.want)
			}
		})
	}
}
