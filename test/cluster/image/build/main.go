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

// Command build writes a container image as a docker-archive tarball without a daemon
// or a registry: the operator's image as the Dockerfile describes it, or (--pause) the
// pod sandbox image of the test cluster. hack/cluster/cluster.sh imports both into
// containerd.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/openai-operator/openai-operator/test/cluster/image"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dockerfile = flag.String("dockerfile", "Dockerfile", "The Dockerfile to reproduce (its directory is the build context).")
		tag        = flag.String("tag", "", "Image name and tag, e.g. localhost/openai-operator:cluster.")
		out        = flag.String("out", "", "The docker-archive tarball to write.")
		pause      = flag.Bool("pause", false, "Build the pod sandbox (pause) image instead.")
	)
	flag.Parse()
	if *tag == "" || *out == "" || flag.NArg() > 0 {
		return fmt.Errorf("usage: build [--dockerfile FILE | --pause] --tag NAME:TAG --out FILE.tar")
	}
	ctx := context.Background()
	goarch, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return err
	}
	arch := strings.TrimSpace(string(goarch))
	var img *image.Image
	if *pause {
		dir, err := os.MkdirTemp("", "pause-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		bin := filepath.Join(dir, "pause")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./test/cluster/image/pause")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building pause: %w\n%s", err, b)
		}
		// 65535, like registry.k8s.io/pause.
		if img, err = image.Single(*tag, arch, bin, "pause", "65535:65535"); err != nil {
			return err
		}
	} else {
		if img, err = image.BuildFromDockerfile(ctx, image.Options{Dockerfile: *dockerfile, Tag: *tag, Arch: arch}); err != nil {
			return err
		}
	}
	if err := img.WriteArchive(*out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "build: wrote %s (%s)\n", *out, *tag)
	return nil
}
