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

// Package boundaries checks the import rules that keep the parts of the project apart:
// the receiver and the controllers meet only through the resources' status, production
// binaries never link the emulator, api/ holds types only, and shared plumbing under
// internal/ never reaches up into a reconciler or the receiver.
package boundaries

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

const module = "github.com/openai-operator/openai-operator"

// deps lists the project packages that pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/"+pkg)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var own []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, module+"/") && p != module+"/"+pkg {
			own = append(own, strings.TrimPrefix(p, module+"/"))
		}
	}
	return own
}

func TestImportBoundaries(t *testing.T) {
	cases := map[string]struct {
		pkg       string
		forbidden []string // package path prefixes
		allowOnly []string // when set, the only project packages allowed
	}{
		"manager never links the emulator or the receiver": {
			pkg:       "cmd/manager",
			forbidden: []string{"emulator", "webhook-receiver", "internal/testenv", "internal/devenv"},
		},
		"receiver never links the emulator or the controllers": {
			pkg:       "cmd/webhook-receiver",
			forbidden: []string{"emulator", "controllers", "internal/testenv", "internal/devenv", "internal/openaiclient"},
		},
		"controllers do not import the receiver":   {pkg: "controllers", forbidden: []string{"webhook-receiver", "emulator"}},
		"receiver does not import the controllers": {pkg: "webhook-receiver", forbidden: []string{"controllers", "emulator"}},
		"api holds types only":                     {pkg: "api/v1alpha1", allowOnly: []string{}},
		"internal plumbing stays below the reconcilers": {
			pkg:       "internal/openaiclient",
			forbidden: []string{"controllers", "webhook-receiver", "emulator"},
		},
		"the signer is shared plumbing": {pkg: "internal/standardwebhooks", allowOnly: []string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := deps(t, tc.pkg)
			if tc.allowOnly != nil && len(got) > len(tc.allowOnly) {
				t.Fatalf("%s imports project packages %v; it may import only %v", tc.pkg, got, tc.allowOnly)
			}
			for _, d := range got {
				for _, f := range tc.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s imports %s", tc.pkg, d)
					}
				}
			}
		})
	}
}

// TestAPIImportsOnlyAPIMachinery checks that api/ imports nothing beyond the standard
// library and k8s.io/apimachinery, so that clients can import the types cheaply (the
// reason controller-runtime deprecated its scheme.Builder for API packages).
func TestAPIImportsOnlyAPIMachinery(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"/api/v1alpha1")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list api/v1alpha1: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(p, "/")
		if strings.Contains(first, ".") && !strings.HasPrefix(p, "k8s.io/apimachinery/") {
			t.Errorf("api/v1alpha1 imports %s; it may import only the standard library and k8s.io/apimachinery", p)
		}
	}
}
