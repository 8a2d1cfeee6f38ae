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

package receiver

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// secretsOf returns which of the test secrets 0..9 src holds.
func secretsOf(src SecretSource) []int {
	var out []int
	for n := range 10 {
		want, _ := standardwebhooks.ParseSecret(testSecretString(n))
		for _, s := range src.Secrets() {
			if s.Equal(want) {
				out = append(out, n)
			}
		}
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSecretFilesLayouts checks which files and entries are read.
func TestSecretFilesLayouts(t *testing.T) {
	cases := map[string]struct {
		setup func(t *testing.T, dir string) string // returns the path to load
		want  []int
	}{
		"one file, one secret": {setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "secret"), testSecretString(0)+"\n")
			return filepath.Join(dir, "secret")
		}, want: []int{0}},
		"one file, several secrets on lines and spaces": {setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "secret"), "\n"+testSecretString(0)+"\n\t"+testSecretString(1)+"  "+testSecretString(2)+"\r\n")
			return filepath.Join(dir, "secret")
		}, want: []int{0, 1, 2}},
		"directory of files; dot files and subdirectories skipped": {setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "current"), testSecretString(0))
			writeFile(t, filepath.Join(dir, "previous"), testSecretString(1))
			writeFile(t, filepath.Join(dir, ".hidden"), testSecretString(2))
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "sub", "nested"), testSecretString(3))
			return dir
		}, want: []int{0, 1}},
		"mounted Secret with ..data symlinks": {setup: func(t *testing.T, dir string) string {
			mountSecret(t, dir, "..2026_01_01", map[string]string{"current": testSecretString(4), "previous": testSecretString(5)})
			return dir
		}, want: []int{4, 5}},
		"invalid entries are skipped, valid ones kept": {setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "a"), "not-a-secret "+testSecretString(0)+" whsec_short")
			writeFile(t, filepath.Join(dir, "b"), "whsec_!!!!")
			return dir
		}, want: []int{0}},
		"duplicates count once": {setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "a"), testSecretString(0))
			writeFile(t, filepath.Join(dir, "b"), testSecretString(0))
			return dir
		}, want: []int{0}},
		"missing path": {setup: func(t *testing.T, dir string) string {
			return filepath.Join(dir, "absent")
		}},
		"empty directory": {setup: func(t *testing.T, dir string) string { return dir }},
		"oversized file": {setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "big"), testSecretString(0)+strings.Repeat(" ", maxSecretFileBytes))
			return dir
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			path := tc.setup(t, t.TempDir())
			s := NewSecretFiles(path, time.Hour, logr.Discard(), nil)
			g.Expect(secretsOf(s)).To(Equal(tc.want))
		})
	}
}

// TestSecretFilesNeverLogSecrets checks that parse errors name the file, not the value.
func TestSecretFilesNeverLogSecrets(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	leaky := "whsec_" + strings.Repeat("Zm9v", 3) // valid base64, too short
	writeFile(t, filepath.Join(dir, "a"), leaky+" not-whsec-"+testSecretString(1)+" "+testSecretString(0))
	var logged strings.Builder
	log := funcr.New(func(prefix, args string) { logged.WriteString(prefix + args + "\n") }, funcr.Options{Verbosity: 10})
	s := NewSecretFiles(dir, time.Hour, log, nil)
	g.Expect(secretsOf(s)).To(Equal([]int{0}))
	g.Expect(logged.String()).To(ContainSubstring(`"file"="a"`))
	for _, secret := range []string{leaky, strings.TrimPrefix(testSecretString(0), "whsec_"), strings.TrimPrefix(testSecretString(1), "whsec_")} {
		g.Expect(logged.String()).NotTo(ContainSubstring(strings.TrimPrefix(secret, "whsec_")))
	}
}

// mountSecret lays out dir as the kubelet does for a Secret volume: the files live in a
// timestamped directory, ..data points at it, and each key is a symlink through ..data.
// Calling it again swaps ..data atomically, as an update of the Secret does.
func mountSecret(t *testing.T, dir, version string, files map[string]string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, version), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, version, name), content)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries { // drop keys that are gone, link new ones
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, ok := files[e.Name()]; !ok {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecretRotation rotates a mounted Secret under a running receiver: the old and the
// new secret are both valid while both are mounted, then the old one is refused.
func TestSecretRotation(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	mountSecret(t, dir, "..v1", map[string]string{"current": testSecretString(0)})
	files := NewSecretFiles(dir, 20*time.Millisecond, logr.Discard(), nil)
	r, _ := newFakeReceiver(t, Options{Secrets: files}, nil, newBatch("ns", "b", "batch_1"))
	ctx := t.Context()
	go func() { _ = files.Start(ctx) }()

	n := 0
	send := func(secret int) int {
		n++
		now := time.Now()
		w := signedEvent(testSecret(t, secret), fmt.Sprintf("wh_%d", n), now,
			eventBody(fmt.Sprintf("evt_%d", n), "batch.completed", now.Add(time.Duration(n)*time.Second), "batch_1"))
		return w.serve(r).Code
	}
	g.Expect(send(0)).To(Equal(http.StatusOK))
	g.Expect(send(1)).To(Equal(http.StatusUnauthorized))

	// Rotation starts: OpenAI signs with both; the Secret holds both.
	mountSecret(t, dir, "..v2", map[string]string{"current": testSecretString(1), "previous": testSecretString(0)})
	g.Eventually(func() []int { return secretsOf(files) }, 5*time.Second, 10*time.Millisecond).Should(Equal([]int{0, 1}))
	g.Expect(send(1)).To(Equal(http.StatusOK))
	g.Expect(send(0)).To(Equal(http.StatusOK))

	// Rotation ends: the old secret is removed.
	mountSecret(t, dir, "..v3", map[string]string{"current": testSecretString(1)})
	g.Eventually(func() []int { return secretsOf(files) }, 5*time.Second, 10*time.Millisecond).Should(Equal([]int{1}))
	g.Expect(send(0)).To(Equal(http.StatusUnauthorized))
	g.Expect(send(1)).To(Equal(http.StatusOK))
	g.Expect(events(r.metrics, typeUnknown, OutcomeInvalidSignature)).To(Equal(2.0))
	g.Expect(events(r.metrics, "batch.completed", OutcomeAccepted)).To(Equal(4.0))
}

// TestSecretFilesReportChanges checks the load callback fires on changes only.
func TestSecretFilesReportChanges(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "secret")
	writeFile(t, path, testSecretString(0))
	var loads []int
	s := NewSecretFiles(path, time.Hour, logr.Discard(), func(n int) { loads = append(loads, n) })
	s.Reload()
	s.Reload()
	writeFile(t, path, testSecretString(0)+"\n"+testSecretString(1))
	s.Reload()
	g.Expect(os.Remove(path)).To(Succeed())
	s.Reload()
	s.Reload()
	g.Expect(loads).To(Equal([]int{1, 2, 0}))
}

// flakyFS fails the reads it is told to, as a mounted volume can during an update or
// a node's I/O trouble.
type flakyFS struct {
	osFS
	mu       sync.Mutex
	failDir  bool
	failFile map[string]bool
}

func (f *flakyFS) fail(dir bool, files ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failDir = dir
	f.failFile = map[string]bool{}
	for _, n := range files {
		f.failFile[n] = true
	}
}

func (f *flakyFS) ReadDir(path string) ([]os.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDir {
		return nil, &os.PathError{Op: "readdirent", Path: path, Err: syscall.EIO}
	}
	return f.osFS.ReadDir(path)
}

func (f *flakyFS) ReadFile(path string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFile[filepath.Base(path)] {
		return nil, &os.PathError{Op: "read", Path: path, Err: syscall.EIO}
	}
	return f.osFS.ReadFile(path)
}

// TestSecretFilesKeepTheLastGoodSetOnReadErrors checks that a read that fails keeps
// what the last good read found (a failing file keeps its last good secrets, a failing
// directory keeps them all) and names the failing file in the log, while a read that
// succeeds and finds no valid secret fails closed.
func TestSecretFilesKeepTheLastGoodSetOnReadErrors(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "current"), testSecretString(0))
	writeFile(t, filepath.Join(dir, "previous"), testSecretString(1))
	var logged strings.Builder
	var mu sync.Mutex
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logged.WriteString(prefix + args + "\n")
	}, funcr.Options{Verbosity: 10})
	fsys := &flakyFS{}
	s := newSecretFiles(dir, time.Hour, log, nil, fsys)
	g.Expect(secretsOf(s)).To(Equal([]int{0, 1}))

	// The directory cannot be read: everything is kept.
	fsys.fail(true)
	s.Reload()
	g.Expect(secretsOf(s)).To(Equal([]int{0, 1}), "a failed directory read keeps the last good set")
	g.Expect(logged.String()).To(ContainSubstring("keeping the last good set"))

	// One file cannot be read while the other changes: the failing one keeps its
	// last good secret, the other's change is taken.
	writeFile(t, filepath.Join(dir, "current"), testSecretString(2))
	fsys.fail(false, "previous")
	s.Reload()
	g.Expect(secretsOf(s)).To(Equal([]int{1, 2}))
	g.Expect(logged.String()).To(ContainSubstring(`"file"="previous"`))

	// Reads succeed again, and find no valid secret: fail closed.
	fsys.fail(false)
	writeFile(t, filepath.Join(dir, "current"), "not-a-secret")
	writeFile(t, filepath.Join(dir, "previous"), "")
	s.Reload()
	g.Expect(secretsOf(s)).To(BeEmpty(), "a successful read without a valid secret fails closed")

	// A path that no longer exists is a successful read of nothing.
	writeFile(t, filepath.Join(dir, "current"), testSecretString(3))
	s.Reload()
	g.Expect(secretsOf(s)).To(Equal([]int{3}))
	g.Expect(os.RemoveAll(dir)).To(Succeed())
	s.Reload()
	g.Expect(secretsOf(s)).To(BeEmpty())
	for _, n := range []int{0, 1, 2, 3} {
		g.Expect(logged.String()).NotTo(ContainSubstring(strings.TrimPrefix(testSecretString(n), "whsec_")))
	}
}

// TestReadyWithoutSigningSecrets checks that a receiver without any signing secret is
// ready (polling-only is a supported mode, and a Deployment that never becomes
// Available blocks rollouts and node drains), answers deliveries 503 so that OpenAI
// retries, and says so once in its log and in the signing secrets gauge.
func TestReadyWithoutSigningSecrets(t *testing.T) {
	g := NewWithT(t)
	var logged strings.Builder
	var mu sync.Mutex
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logged.WriteString(prefix + args + "\n")
	}, funcr.Options{})
	path := filepath.Join(t.TempDir(), "absent")
	_, err := New(Deps{Cache: nil, Client: nil, Log: log}, Options{SecretsPath: path, Registerer: prometheus.NewRegistry()})
	g.Expect(err).To(HaveOccurred(), "a receiver needs a cache and a client")
	c, _ := newFakeReceiver(t, Options{}, nil)
	r, err := New(Deps{Cache: c.deps.Cache, Client: c.deps.Client, Log: log}, Options{SecretsPath: path, Registerer: prometheus.NewRegistry()})
	g.Expect(err).NotTo(HaveOccurred())
	r.serving.Store(true) // as once Start listens

	g.Expect(r.ReadyCheck(nil)).To(Succeed())
	w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), eventBody("evt_1", "batch.completed", time.Now(), "batch_1"))
	rec := w.serve(r)
	g.Expect(rec.Code).To(Equal(http.StatusServiceUnavailable))
	g.Expect(rec.Body.String()).To(ContainSubstring("no webhook signing secret"))
	g.Expect(events(r.metrics, typeUnknown, OutcomeNoSecret)).To(Equal(1.0))
	g.Expect(testutilGauge(r.metrics.SigningSecrets)).To(BeZero())
	for range 3 {
		r.files.Reload()
	}
	g.Expect(strings.Count(logged.String(), "No webhook signing secret is configured")).To(Equal(1), logged.String())
}
