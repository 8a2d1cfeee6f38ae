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
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one entry of a layer.
type File struct {
	// Path is absolute inside the image; a trailing "/" makes a directory.
	Path     string
	Mode     os.FileMode
	UID, GID int
	Data     []byte
}

// Base is a local stand-in for a base image: the files and settings of the image that
// matter to what runs on it.
type Base struct {
	Files      func() ([]File, error)
	User       string
	WorkDir    string
	Env        []string
	Entrypoint []string
}

// BaseImages are the bases a Dockerfile may start its final stage from.
var BaseImages = map[string]Base{
	// distroless/static, tag nonroot: the users root, nobody and nonroot (65532), CA
	// certificates, /tmp, and the nonroot user's home; no shell, no package manager.
	// (Its time zone data and os-release are left out: nothing here reads them.)
	"gcr.io/distroless/static:nonroot": {
		Files:   distrolessStaticFiles,
		User:    "65532",
		WorkDir: "/home/nonroot",
		Env:     []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
	},
}

func knownBases() string {
	names := make([]string, 0, len(BaseImages))
	for n := range BaseImages {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// CACertificates is where the stand-in base takes its CA bundle from (Debian's
// ca-certificates, which distroless ships too).
var CACertificates = "/etc/ssl/certs/ca-certificates.crt"

func distrolessStaticFiles() ([]File, error) {
	certs, err := os.ReadFile(CACertificates)
	if err != nil {
		return nil, fmt.Errorf("CA certificates for the base image: %w", err)
	}
	return []File{
		{Path: "/etc/", Mode: 0o755},
		{
			Path: "/etc/passwd",
			Mode: 0o644,
			Data: []byte(
				"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
			),
		},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n")},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: "/etc/ssl/", Mode: 0o755},
		{Path: "/etc/ssl/certs/", Mode: 0o755},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: certs},
		{Path: "/home/", Mode: 0o755},
		{Path: "/home/nonroot/", Mode: 0o700, UID: 65532, GID: 65532},
		{Path: "/root/", Mode: 0o700},
		{Path: "/tmp/", Mode: os.ModeSticky | 0o777},
	}, nil
}

// Image is an image to write: its layers (bottom first) and its settings.
type Image struct {
	Tag        string
	Arch       string
	Layers     [][]File
	History    []string
	User       string
	WorkDir    string
	Env        []string
	Entrypoint []string
	Cmd        []string
	Labels     map[string]string
}

// Options of BuildFromDockerfile.
type Options struct {
	// Dockerfile is the path of the Dockerfile; its directory is the build context.
	Dockerfile string
	// Tag is the image's name, e.g. localhost/openai-operator:cluster.
	Tag string
	// Arch is the target GOARCH (default: the Go toolchain's).
	Arch string
	// WorkDir receives the builder stage's outputs (default: a temporary directory).
	WorkDir string
}

// BuildFromDockerfile runs the Dockerfile's go builds and returns the final image.
func BuildFromDockerfile(ctx context.Context, opts Options) (*Image, error) {
	if opts.Arch == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOARCH").Output()
		if err != nil {
			return nil, fmt.Errorf("go env GOARCH: %w", err)
		}
		opts.Arch = strings.TrimSpace(string(out))
	}
	plan, err := ReadFile(opts.Dockerfile, opts.Arch)
	if err != nil {
		return nil, err
	}
	// The builder stage's Go is this machine's: it must be the release the Dockerfile names.
	goVersion, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOVERSION: %w", err)
	}
	want := "go" + strings.TrimPrefix(plan.BuilderBase, "golang:")
	if have := strings.TrimSpace(string(goVersion)); have != want && !strings.HasPrefix(have, want+".") {
		return nil, fmt.Errorf("the Dockerfile builds with %s but this machine's Go is %s", plan.BuilderBase, have)
	}
	buildContext := filepath.Dir(opts.Dockerfile)
	work := opts.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "image-build-"); err != nil {
			return nil, err
		}
		defer func() { _ = os.RemoveAll(work) }()
	}
	// The builder stage, on this machine: each go build as written, its -o moved under work.
	for _, b := range plan.Builds {
		args := make([]string, len(b.Args))
		copy(args, b.Args)
		for i := range args {
			if i > 0 && args[i-1] == "-o" {
				args[i] = filepath.Join(work, args[i])
			}
		}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = buildContext
		cmd.Env = append(os.Environ(), b.Env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(b.Args, " "), err, out)
		}
	}
	base := BaseImages[plan.Base]
	baseFiles, err := base.Files()
	if err != nil {
		return nil, err
	}
	img := &Image{
		Tag: opts.Tag, Arch: opts.Arch,
		Layers:  [][]File{baseFiles},
		History: []string{"local stand-in for " + plan.Base},
		User:    base.User, WorkDir: base.WorkDir, Env: base.Env, Entrypoint: base.Entrypoint,
		Labels: plan.Labels,
	}
	if plan.WorkDir != "" {
		img.WorkDir = plan.WorkDir
	}
	if plan.User != "" {
		img.User = plan.User
	}
	if plan.Entrypoint != nil {
		img.Entrypoint = plan.Entrypoint
	}
	img.Cmd = plan.Cmd
	img.Env = append(append([]string{}, img.Env...), plan.Env...)
	for _, c := range plan.Copies {
		data, err := os.ReadFile(filepath.Join(work, c.Src))
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(filepath.Join(work, c.Src))
		if err != nil {
			return nil, err
		}
		// COPY keeps the source's permission bits and makes the file root's.
		img.Layers = append(img.Layers, []File{{Path: c.Dst, Mode: st.Mode().Perm(), Data: data}})
		img.History = append(img.History, fmt.Sprintf("COPY --from=builder %s %s", c.Src, c.Dst))
	}
	return img, nil
}

// Single returns an image of one static binary at /name, run as user.
func Single(tag, arch, binary, name, user string) (*Image, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	return &Image{
		Tag: tag, Arch: arch,
		Layers:     [][]File{{{Path: "/" + name, Mode: 0o755, Data: data}}},
		History:    []string{"COPY " + name},
		User:       user,
		WorkDir:    "/",
		Entrypoint: []string{"/" + name},
	}, nil
}

// epoch is the modification time of every file: images built from the same inputs are
// identical.
var epoch = time.Unix(0, 0).UTC()

// imageOS is the operating system of the images built here (and of the cluster's nodes).
const imageOS = "linux"

func layerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		h := &tar.Header{Name: name, Uid: f.UID, Gid: f.GID, ModTime: epoch, Format: tar.FormatPAX}
		if strings.HasSuffix(f.Path, "/") {
			h.Typeflag = tar.TypeDir
			h.Mode = int64(f.Mode.Perm())
		} else {
			h.Typeflag = tar.TypeReg
			h.Mode = int64(f.Mode.Perm())
			h.Size = int64(len(f.Data))
		}
		if f.Mode&os.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// imageConfig is the image configuration (OCI image-spec config / Docker image JSON).
type imageConfig struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Created      time.Time       `json:"created"`
	Config       containerConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created   time.Time `json:"created"`
		CreatedBy string    `json:"created_by"`
	} `json:"history"`
}

type containerConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// WriteArchive writes the image as a docker-archive tarball (what `docker save` writes
// and `ctr images import` reads): one tar per layer, the config JSON, manifest.json.
func (img *Image) WriteArchive(path string) error {
	cfg := imageConfig{Architecture: img.Arch, OS: imageOS, Created: epoch}
	cfg.Config = containerConfig{User: img.User, Env: img.Env, Entrypoint: img.Entrypoint, Cmd: img.Cmd, WorkingDir: img.WorkDir, Labels: img.Labels}
	cfg.RootFS.Type = "layers"
	type entry struct {
		name string
		data []byte
	}
	var entries []entry
	var layerNames []string
	for i, files := range img.Layers {
		data, err := layerTar(files)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		digest := hex.EncodeToString(sum[:])
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, "sha256:"+digest)
		name := digest + "/layer.tar"
		entries = append(entries, entry{name, data})
		layerNames = append(layerNames, name)
		h := struct {
			Created   time.Time `json:"created"`
			CreatedBy string    `json:"created_by"`
		}{epoch, ""}
		if i < len(img.History) {
			h.CreatedBy = img.History[i]
		}
		cfg.History = append(cfg.History, h)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgSum := sha256.Sum256(cfgJSON)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{img.Tag}, "Layers": layerNames}})
	if err != nil {
		return err
	}
	entries = append(entries, entry{cfgName, cfgJSON}, entry{"manifest.json", manifest})

	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			_ = f.Close()
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
