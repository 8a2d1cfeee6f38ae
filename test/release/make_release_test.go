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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// copyTracked copies the repository's tracked files (what a clone holds) to dir, so
// that `make release` can write dist/ and CHANGELOG.md there, not in the working tree.
func copyTracked(t *testing.T, dir string) {
	t.Helper()
	root := testenv.RepoRoot()
	for _, name := range strings.Split(strings.TrimSpace(string(run(t, root, "git", "ls-files"))), "\n") {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or a symlink
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMakeReleaseWritesAPinnedRelease runs `make release VERSION=...` in a copy of the
// repository with the pinned tools and checks what it promises: dist/install.yaml runs
// that version's image and no other, dist/crds.yaml holds every kind's CRD, the chart's
// package carries the version, dist/checksums.txt matches the files, and CHANGELOG.md
// has the version's entry, dated today. A version that is not vX.Y.Z is refused.
func TestMakeReleaseWritesAPinnedRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make release (controller-gen, kustomize, helm)")
	}
	g := NewWithT(t)
	dir := t.TempDir()
	copyTracked(t, dir)
	const version = "v1.2.3-rc.1"
	tools := []string{
		"CONTROLLER_GEN=" + tool(t, "CONTROLLER_GEN", "controller-gen"),
		"KUSTOMIZE=" + tool(t, "KUSTOMIZE", "kustomize"),
		"HELM=" + tool(t, "HELM", "helm"),
	}
	release := func(args ...string) ([]byte, error) {
		cmd := exec.Command("make", append(append([]string{"--no-print-directory", "release"}, args...), tools...)...)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}

	out, err := release("VERSION=1.2")
	g.Expect(err).To(HaveOccurred(), "a version without the v and patch is refused")
	g.Expect(string(out)).To(ContainSubstring("make release needs VERSION=vX.Y.Z"))
	g.Expect(filepath.Join(dir, "dist", "install.yaml")).NotTo(BeAnExistingFile())

	out, err = release("VERSION=" + version)
	g.Expect(err).NotTo(HaveOccurred(), "make release:\n%s", out)
	dist := filepath.Join(dir, "dist")

	install, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	images := regexp.MustCompile(`(?m)^\s*image:\s*(\S+)`).FindAllSubmatch(install, -1)
	g.Expect(images).NotTo(BeEmpty())
	for _, m := range images {
		g.Expect(string(m[1])).To(Equal("ghcr.io/openai-operator/openai-operator:"+version), "every image is the release's")
	}
	var kinds []string
	crds := objects(t, readFile(t, filepath.Join(dist, "crds.yaml")))
	for _, o := range crds {
		g.Expect(o.GetKind()).To(Equal("CustomResourceDefinition"))
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	g.Expect(kinds).To(Equal([]string{"OpenAIBatch", "OpenAIFineTuningJob", "OpenAIResponse", "OpenAIWebhookEndpoint"}))

	pkg := "openai-operator-" + strings.TrimPrefix(version, "v") + ".tgz"
	chart := chartYAML(t, filepath.Join(dist, pkg))
	g.Expect(chart["version"]).To(Equal(strings.TrimPrefix(version, "v")))
	g.Expect(chart["appVersion"]).To(Equal(version))

	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(dist, "checksums.txt")))), "\n") {
		f := strings.Fields(line)
		g.Expect(f).To(HaveLen(2), "a sha256sum line: %q", line)
		sums[f[1]] = f[0]
	}
	g.Expect(sums).To(HaveLen(3))
	for _, name := range []string{"install.yaml", "crds.yaml", pkg} {
		sum := sha256.Sum256(readFile(t, filepath.Join(dist, name)))
		g.Expect(sums).To(HaveKeyWithValue(name, hex.EncodeToString(sum[:])))
	}

	changelog := string(readFile(t, filepath.Join(dir, "CHANGELOG.md")))
	entry := "## [" + version + "] - " + time.Now().UTC().Format("2006-01-02")
	g.Expect(changelog).To(ContainSubstring("## [Unreleased]\n\n" + entry + "\n"))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chartYAML reads Chart.yaml out of a packaged chart.
func chartYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s has no Chart.yaml", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "openai-operator/Chart.yaml" {
			continue
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, tr); err != nil {
			t.Fatal(err)
		}
		var chart map[string]any
		if err := yaml.Unmarshal(buf.Bytes(), &chart); err != nil {
			t.Fatal(err)
		}
		return chart
	}
}
