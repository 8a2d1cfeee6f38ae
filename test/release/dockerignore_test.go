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

package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// allowedByDockerignore applies the allow-list .dockerignore (a leading "*", then "!dir/"
// or "!file" entries, then exclusions that must not touch non-test Go files) to a path.
func allowedByDockerignore(lines []string, path string) bool {
	allowed := false
	for _, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case l == "*":
			allowed = false
		case strings.HasPrefix(l, "!"):
			p := strings.TrimPrefix(l, "!")
			if path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
				allowed = true
			}
		case l == "**/*_test.go":
			if strings.HasSuffix(path, "_test.go") {
				allowed = false
			}
		case l == "**/testdata/":
			if strings.Contains("/"+path, "/testdata/") {
				allowed = false
			}
		}
	}
	return allowed
}

// TestDockerContextHoldsTheBinariesSources checks that every Go file the image's two
// binaries are built from passes the .dockerignore allow-list.
func TestDockerContextHoldsTheBinariesSources(t *testing.T) {
	root := testenv.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{end}}`, "./cmd/manager", "./cmd/webhook-receiver")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded by go mod download in the image
		}
		n++
		if !allowedByDockerignore(lines, filepath.ToSlash(rel)) {
			t.Errorf("%s is needed by the binaries but .dockerignore keeps it out of the build context", rel)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !allowedByDockerignore(lines, f) {
			t.Errorf("%s is kept out of the build context", f)
		}
	}
	for _, f := range []string{"bin/manager", ".git/HEAD", "emulator/server.go", "controllers/suite_test.go", "dist/install.yaml"} {
		if allowedByDockerignore(lines, f) {
			t.Errorf("%s is let into the build context", f)
		}
	}
	if n < 20 {
		t.Fatalf("only %d source files found", n)
	}
}
