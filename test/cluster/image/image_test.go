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

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// archive is a docker-archive tarball as a runtime reads it, read here with the standard
// library only, independently of the writer.
type archive struct {
	config struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User       string   `json:"User"`
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
			WorkingDir string   `json:"WorkingDir"`
			Env        []string `json:"Env"`
		} `json:"config"`
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	repoTags []string
	layerIDs []string // sha256 of each layer tar as stored
	files    map[string]*tar.Header
	contents map[string][]byte
}

func readArchive(t *testing.T, path string) *archive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	entries := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = b
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v (%d images)", err, len(manifest))
	}
	a := &archive{repoTags: manifest[0].RepoTags, files: map[string]*tar.Header{}, contents: map[string][]byte{}}
	if err := json.Unmarshal(entries[manifest[0].Config], &a.config); err != nil {
		t.Fatalf("config %s: %v", manifest[0].Config, err)
	}
	for _, name := range manifest[0].Layers {
		layer, ok := entries[name]
		if !ok {
			t.Fatalf("layer %s is missing from the archive", name)
		}
		sum := sha256.Sum256(layer)
		a.layerIDs = append(a.layerIDs, "sha256:"+hex.EncodeToString(sum[:]))
		lr := tar.NewReader(bytes.NewReader(layer))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(lr)
			p := "/" + strings.TrimSuffix(h.Name, "/")
			a.files[p], a.contents[p] = h, b
		}
	}
	return a
}

// lastMatch returns the first group of the last line of the Dockerfile matching re.
func lastMatch(t *testing.T, dockerfile, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindAllStringSubmatch(dockerfile, -1)
	if len(m) == 0 {
		t.Fatalf("the Dockerfile has no line matching %s", re)
	}
	return m[len(m)-1][1]
}

// deploymentCommands returns each Deployment's containers' command[0] in a manifest.
func deploymentCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Command) > 0 {
				cmds = append(cmds, c.Command[0])
			}
		}
	}
	return cmds
}

// The image the cluster test runs is the one the Dockerfile describes: same user, same
// entrypoint, same files, built by the same go build commands; and it holds every
// command the install's Deployments run.
func TestImageAgreesWithDockerfile(t *testing.T) {
	g := NewWithT(t)
	root := testenv.RepoRoot()
	dockerfileBytes, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	g.Expect(err).NotTo(HaveOccurred())
	dockerfile := string(dockerfileBytes)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := BuildFromDockerfile(ctx, Options{Dockerfile: filepath.Join(root, "Dockerfile"), Tag: "localhost/openai-operator:test"})
	g.Expect(err).NotTo(HaveOccurred())
	out := filepath.Join(t.TempDir(), "image.tar")
	g.Expect(img.WriteArchive(out)).To(Succeed())
	a := readArchive(t, out)

	g.Expect(a.repoTags).To(Equal([]string{"localhost/openai-operator:test"}))
	g.Expect(a.config.OS).To(Equal("linux"))
	g.Expect(a.config.Architecture).To(Equal(runtime.GOARCH))
	// Layers are what the config says they are (a runtime refuses them otherwise).
	g.Expect(a.config.RootFS.Type).To(Equal("layers"))
	g.Expect(a.config.RootFS.DiffIDs).To(Equal(a.layerIDs))

	// User, entrypoint and working directory: the Dockerfile's last USER, ENTRYPOINT and
	// WORKDIR lines, word for word.
	g.Expect(a.config.Config.User).To(Equal(lastMatch(t, dockerfile, `(?m)^USER\s+(\S+)\s*$`)))
	var entrypoint []string
	g.Expect(json.Unmarshal([]byte(lastMatch(t, dockerfile, `(?m)^ENTRYPOINT\s+(.+)$`)), &entrypoint)).To(Succeed())
	g.Expect(a.config.Config.Entrypoint).To(Equal(entrypoint))
	g.Expect(a.config.Config.WorkingDir).To(Equal(lastMatch(t, dockerfile, `(?m)^WORKDIR\s+(\S+)\s*$`)))

	// The user exists in the image, as the base provides it.
	uid, _, _ := strings.Cut(a.config.Config.User, ":")
	g.Expect(string(a.contents["/etc/passwd"])).To(MatchRegexp(`(?m)^nonroot:x:` + uid + `:` + uid + `:`))
	g.Expect(a.files["/tmp"].Mode & 0o1777).To(Equal(int64(0o1777)))

	// Files: every COPY --from=builder destination, an executable owned by root, a static
	// Go binary of the package and with the flags of the Dockerfile's go build.
	copies := regexp.MustCompile(`(?m)^COPY --from=builder (\S+) (\S+)\s*$`).FindAllStringSubmatch(dockerfile, -1)
	g.Expect(copies).NotTo(BeEmpty())
	for _, c := range copies {
		src, dst := c[1], c[2]
		h, ok := a.files[dst]
		g.Expect(ok).To(BeTrue(), "%s is not in the image", dst)
		g.Expect(h.Typeflag).To(Equal(byte(tar.TypeReg)), dst)
		g.Expect(h.Mode&0o111).NotTo(BeZero(), "%s is not executable", dst)
		g.Expect(h.Uid).To(BeZero(), dst)

		build := lastMatch(t, dockerfile, `go build ([^&\n]*-o `+regexp.QuoteMeta(src)+` \S+)`)
		pkg := build[strings.LastIndex(build, " ")+1:]
		ef, err := elf.NewFile(bytes.NewReader(a.contents[dst]))
		g.Expect(err).NotTo(HaveOccurred(), dst)
		for _, p := range ef.Progs {
			g.Expect(p.Type).NotTo(Equal(elf.PT_INTERP), "%s is dynamically linked", dst)
		}
		info, err := buildinfo.Read(bytes.NewReader(a.contents[dst]))
		g.Expect(err).NotTo(HaveOccurred(), dst)
		g.Expect(info.Path).To(Equal(info.Main.Path+strings.TrimPrefix(pkg, ".")), dst)
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		g.Expect(settings).To(HaveKeyWithValue("CGO_ENABLED", "0"), dst)
		g.Expect(settings).To(HaveKeyWithValue("GOOS", "linux"), dst)
		g.Expect(settings).To(HaveKeyWithValue("GOARCH", runtime.GOARCH), dst)
		if strings.Contains(build, "-trimpath") {
			g.Expect(settings).To(HaveKeyWithValue("-trimpath", "true"), dst)
		}
		// Go does not record -ldflags with -trimpath; their effect shows in the file.
		if m := regexp.MustCompile(`-ldflags="([^"]*)"`).FindStringSubmatch(build); m != nil {
			flags := strings.Fields(m[1])
			if slices.Contains(flags, "-s") {
				g.Expect(ef.Section(".symtab")).To(BeNil(), "%s keeps its symbol table, yet the Dockerfile links with -s", dst)
			}
			if slices.Contains(flags, "-w") {
				for _, s := range ef.Sections {
					g.Expect(s.Name).NotTo(HavePrefix(".debug_"), "%s keeps DWARF, yet the Dockerfile links with -w", dst)
					g.Expect(s.Name).NotTo(HavePrefix(".zdebug_"), "%s keeps DWARF, yet the Dockerfile links with -w", dst)
				}
			}
		}
	}

	// Every command the install runs is in the image.
	var commands []string
	for _, manifest := range []string{"config/manager/manager.yaml", "config/webhook-receiver/webhook_receiver.yaml"} {
		commands = append(commands, deploymentCommands(t, filepath.Join(root, manifest))...)
	}
	g.Expect(commands).To(ContainElements("/manager", "/webhook-receiver"))
	for _, c := range commands {
		h, ok := a.files[c]
		g.Expect(ok).To(BeTrue(), "the install runs %s, which the image lacks", c)
		g.Expect(h.Mode&0o111).NotTo(BeZero(), c)
	}
}
