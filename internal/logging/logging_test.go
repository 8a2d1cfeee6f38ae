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

package logging

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

func newLogger(buf *bytes.Buffer, lazy bool) logr.Logger {
	opts := []zap.Opts{zap.WriteTo(buf), zap.Level(zapcore.InfoLevel)}
	if lazy {
		opts = append(opts, zap.RawZapOpts(LazyWith()))
	}
	return zap.New(opts...)
}

func TestLazyWithWritesEveryValueInOrder(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, true).WithName("ctrl").WithValues("controller", "openaibatch", "namespace", "team-a").
		WithValues("name", "nightly", "reconcileID", "r-1")
	log.Info("reconciled", "phase", "InProgress")
	log.Info("again")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 entries, got %d:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("entry %d is not JSON: %v: %s", i, err, line)
		}
		for k, v := range map[string]string{"logger": "ctrl", "controller": "openaibatch", "namespace": "team-a", "name": "nightly", "reconcileID": "r-1"} {
			if entry[k] != v {
				t.Errorf("entry %d: %s = %v, want %q (%s)", i, k, entry[k], v, line)
			}
		}
	}
	if !strings.Contains(lines[0], `"phase":"InProgress"`) {
		t.Errorf("the call's own value is missing: %s", lines[0])
	}
	// The values keep the order in which they were added.
	if strings.Index(lines[0], `"controller"`) > strings.Index(lines[0], `"reconcileID"`) {
		t.Errorf("values out of order: %s", lines[0])
	}
}

func TestLazyWithKeepsTheLevel(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, true).WithValues("name", "nightly")
	log.V(1).Info("debug detail")
	if buf.Len() != 0 {
		t.Fatalf("a V(1) entry was written at info level: %s", buf.String())
	}
	log.Error(nil, "boom")
	if !strings.Contains(buf.String(), `"name":"nightly"`) {
		t.Fatalf("error entry lacks the value: %s", buf.String())
	}
}

// A reconcile derives a logger with four values and, most of the time, writes nothing:
// deferred, that costs a fraction of the bytes encoding them costs (an encoder clone
// with its buffer).
func TestLazyWithAllocatesLessForALoggerThatWritesNothing(t *testing.T) {
	measure := func(lazy bool) uint64 {
		var buf bytes.Buffer
		root := newLogger(&buf, lazy)
		const n = 1000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			l := root.WithValues("controller", "openaibatch", "namespace", "team-a", "name", "nightly", "reconcileID", "0f2c")
			l.V(1).Info("not written")
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / n
	}
	eager, lazy := measure(false), measure(true)
	t.Logf("bytes allocated per derived logger: eager %d, lazy %d", eager, lazy)
	if lazy*2 > eager {
		t.Fatalf("lazy With allocated %d bytes, eager %d: less than half was deferred", lazy, eager)
	}
}
