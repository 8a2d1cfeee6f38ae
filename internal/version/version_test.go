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

package version

import (
	"runtime/debug"
	"testing"
)

func TestGet(t *testing.T) {
	buildInfo := func(mainVersion string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Version: mainVersion}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := map[string]struct {
		version, commit, date string
		read                  func() (*debug.BuildInfo, bool)
		want                  Info
	}{
		"stamped by the link flags": {
			version: "v1.2.3", commit: rev, date: "2026-11-30T18:00:00Z",
			read: buildInfo("(devel)", "vcs.revision", "ffffffff", "vcs.time", "2020-01-01T00:00:00Z"),
			want: Info{Version: "v1.2.3", Commit: rev, BuildDate: "2026-11-30T18:00:00Z"},
		},
		"go install of a tagged module": {
			read: buildInfo("v0.4.0"),
			want: Info{Version: "v0.4.0", Commit: Unknown, BuildDate: Unknown},
		},
		"go build in a modified checkout": {
			read: buildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "true", "vcs.time", "2026-11-29T10:00:00Z"),
			want: Info{Version: "0123456-dirty", Commit: rev, BuildDate: "2026-11-29T10:00:00Z"},
		},
		"go build in a clean checkout": {
			read: buildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "false"),
			want: Info{Version: "0123456", Commit: rev, BuildDate: Unknown},
		},
		"nothing known": {
			read: none,
			want: Info{Version: Unknown, Commit: Unknown, BuildDate: Unknown},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := get(tc.version, tc.commit, tc.date, tc.read)
			if got.GoVersion == "" || got.Platform == "" {
				t.Errorf("toolchain and platform missing: %+v", got)
			}
			got.GoVersion, got.Platform = "", ""
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
