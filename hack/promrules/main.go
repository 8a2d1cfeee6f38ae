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

// Command promrules prints the spec of a PrometheusRule manifest as a plain Prometheus
// rule file, which promtool checks and unit-tests (make test-alerts).
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: promrules PROMETHEUSRULE.yaml")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "promrules:", err)
		os.Exit(1)
	}
	var rule struct {
		Kind string         `json:"kind"`
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(in, &rule, yaml.DisallowUnknownFields); err != nil && rule.Kind == "" {
		fmt.Fprintln(os.Stderr, "promrules:", err)
		os.Exit(1)
	}
	if rule.Kind != "PrometheusRule" || rule.Spec["groups"] == nil {
		fmt.Fprintf(os.Stderr, "promrules: %s is not a PrometheusRule with groups\n", os.Args[1])
		os.Exit(1)
	}
	out, err := yaml.Marshal(rule.Spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promrules:", err)
		os.Exit(1)
	}
	_, _ = os.Stdout.Write(out)
}
