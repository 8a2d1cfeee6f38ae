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

package bench

import (
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// The scale run gives each binary the MEMORY_LIMIT its shipped Deployment gives it.
func TestShippedMemoryLimit(t *testing.T) {
	g := NewWithT(t)
	for path, container := range map[string]string{
		filepath.Join("..", "config", "manager", "manager.yaml"):                   "manager",
		filepath.Join("..", "config", "webhook-receiver", "webhook_receiver.yaml"): "webhook-receiver",
	} {
		n, err := ShippedMemoryLimit(path, container)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(n).To(BeNumerically(">=", 32<<20), path)
	}

	dir := t.TempDir()
	manifest := filepath.Join(dir, "d.yaml")
	g.Expect(os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Namespace
metadata:
  name: x
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
      - name: sidecar
        resources:
          limits:
            memory: 1Gi
      - name: manager
        resources:
          limits:
            memory: 300Mi
`), 0o600)).To(Succeed())
	n, err := ShippedMemoryLimit(manifest, "manager")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(Equal(int64(300 << 20)))
	_, err = ShippedMemoryLimit(manifest, "webhook-receiver")
	g.Expect(err).To(MatchError(ContainSubstring("no memory limit")))
}

// CPU profiles are taken one after another until the resync ends; the one under way is
// finished, and each file is a whole profile.
func TestProfileCPUUntilStopped(t *testing.T) {
	g := NewWithT(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	stop := make(chan struct{})
	done := make(chan []string, 1)
	go func() {
		done <- profileCPU(t.Context(), strings.TrimPrefix(srv.URL, "http://"), filepath.Join(dir, "m"), stop)
	}()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	files := <-done
	g.Expect(files).To(Equal([]string{"m-cpu-00.pb.gz"}))
	data, err := os.ReadFile(filepath.Join(dir, files[0]))
	g.Expect(err).NotTo(HaveOccurred())
	// A gzip stream (a pprof profile), not an error page.
	g.Expect(data[:2]).To(Equal([]byte{0x1f, 0x8b}))
}
