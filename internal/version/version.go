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

// Package version tells which build of the operator a binary is. The Makefile and the
// Dockerfile stamp it at link time:
//
//	-ldflags "-X github.com/openai-operator/openai-operator/internal/version.version=v0.1.0
//	          -X github.com/openai-operator/openai-operator/internal/version.commit=<sha>
//	          -X github.com/openai-operator/openai-operator/internal/version.buildDate=<RFC 3339>"
//
// A binary built without them (go build, go run, go test) reports what the Go toolchain
// recorded instead: the module version for `go install ...@vX.Y.Z`, and the VCS
// revision of the tree it was built from.
package version

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by -ldflags -X; empty when the build did not stamp them.
var (
	version   string
	commit    string
	buildDate string
)

// Unknown stands for a field that neither the link flags nor the build info provide.
const Unknown = "unknown"

// Info describes one build.
type Info struct {
	// Version is the release (`git describe --tags --always --dirty`), e.g. v0.1.0 or
	// v0.1.0-3-gabc1234-dirty.
	Version string `json:"version"`
	// Commit is the full VCS revision.
	Commit string `json:"commit"`
	// BuildDate is when the binary was built (RFC 3339, UTC), or the commit's time when
	// only the build info is available.
	BuildDate string `json:"buildDate"`
	// GoVersion is the toolchain that built it.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns this binary's build description.
func Get() Info {
	return get(version, commit, buildDate, debug.ReadBuildInfo)
}

func get(v, c, d string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: v, Commit: c, BuildDate: d, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		var revision, modified, when string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				when = s.Value
			}
		}
		if info.Commit == "" {
			info.Commit = revision
		}
		if info.BuildDate == "" {
			info.BuildDate = when
		}
		if info.Version == "" && revision != "" {
			// What `git describe --always --dirty` prints for an untagged tree.
			info.Version = revision[:min(len(revision), 7)]
			if modified == "true" {
				info.Version += "-dirty"
			}
		}
	}
	for _, f := range []*string{&info.Version, &info.Commit, &info.BuildDate} {
		if *f == "" {
			*f = Unknown
		}
	}
	return info
}

// String renders the description on one line, after the binary's name:
// "manager v0.1.0 (commit 0123abc..., built 2026-11-30T18:00:00Z, go1.26.8 linux/amd64)".
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, built %s, %s %s)", i.Version, i.Commit, i.BuildDate, i.GoVersion, i.Platform)
}

// KeysAndValues are the description as structured log fields.
func (i Info) KeysAndValues() []any {
	return []any{"version", i.Version, "commit", i.Commit, "buildDate", i.BuildDate, "goVersion", i.GoVersion, "platform", i.Platform}
}

// BindFlag registers --version on fs. After parsing, a true value means: print
// Line(name) and exit 0.
func BindFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("version", false, "Print the version and exit.")
}

// Line is what --version prints for the binary called name.
func Line(name string) string {
	return name + " " + Get().String()
}
