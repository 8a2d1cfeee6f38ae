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

package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/devenv"
)

// harness is a running devenv (a real API server with the install applied, and the
// emulator, receiver and manager as processes) owned by one test.
type harness struct {
	*devenv.Env
	t   *testing.T
	dir string
	// apiKey is the OpenAI API key of this environment: the emulator accepts it and the
	// credentials Secret of every namespace holds it.
	apiKey string
	// scanned is set once the test searched the environment for secrets itself.
	scanned bool

	mu    sync.Mutex
	extra []*exec.Cmd // API servers this test restarted itself
}

// envOptions configure up.
type envOptions struct {
	timeScale                               float64
	emulatorArgs, managerArgs, receiverArgs []string
	namespaces                              []string
}

// up starts a devenv for t and stops it (and everything t started in it) when t ends.
// Every process logs at debug level, and the namespaces' credentials hold a fresh API
// key; when the test ends, everything the operator wrote is searched for that key and
// the signing secret (see scanForSecrets). On failure the last lines of every process
// log are printed.
func up(t *testing.T, o envOptions) *harness {
	t.Helper()
	bin := binaries(t)
	dir := logDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	key := newAPIKey()
	var env *devenv.Env
	var err error
	for attempt := 1; ; attempt++ {
		env, err = devenv.Up(ctx, devenv.Options{
			Dir: dir, BinDir: bin, TimeScale: o.timeScale,
			// The scenarios sign and count deliveries with the one flag-given secret.
			Webhooks:              devenv.WebhooksByFlags,
			EmulatorArgs:          append([]string{"--api-key", key, "--log-level", "debug"}, o.emulatorArgs...),
			ManagerArgs:           append([]string{"--zap-log-level=debug"}, o.managerArgs...),
			ReceiverArgs:          append([]string{"--zap-log-level=debug"}, o.receiverArgs...),
			CredentialsNamespaces: o.namespaces,
		})
		// devenv picks its ports by binding port 0 and closing the listener, so two of
		// them (or another test's) can coincide; start afresh in a new directory then.
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		t.Logf("starting the environment: a port was taken (%v); trying again", firstLine(err.Error()))
		dir = logDir(t)
	}
	if err != nil {
		t.Fatalf("starting the environment: %v", err)
	}
	h := &harness{Env: env, t: t, dir: dir, apiKey: key}
	t.Cleanup(func() {
		if t.Failed() {
			for name, p := range env.Processes() {
				t.Logf("---- %s log (last lines) ----\n%s", name, lastLines(p.Log(), 30))
			}
		}
		stopping := time.Now()
		// Nothing here tests a graceful shutdown: kill, then stop what is left.
		for _, p := range env.Processes() {
			if p.Running() {
				p.Kill()
			}
		}
		if err := env.Down(); err != nil {
			t.Logf("stopping the environment: %v", err)
		}
		t.Logf("environment down in %s", time.Since(stopping).Round(time.Millisecond))
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.extra {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	for _, ns := range o.namespaces {
		secret := &corev1.Secret{}
		if err := env.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: devenv.CredentialsSecretName}, secret); err != nil {
			t.Fatal(err)
		}
		secret.Data = map[string][]byte{"apiKey": []byte(key)}
		if err := env.ControlPlane.Client.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	// Runs before the environment stops.
	t.Cleanup(func() {
		if h.scanned || t.Failed() {
			return
		}
		hy := h.scanForSecrets(nil)
		reportLeaks(t, hy)
		t.Logf("secret scan: %d secrets and fragments, %d sources, %d lines: %d leaks", hy.needles, hy.sources, hy.lines, len(hy.leaks))
		if rec := recorderOf(t); rec != nil {
			rec.add("secret scan of logs, Events, resources, metrics", fmt.Sprintf("%d leaks in %d lines", len(hy.leaks), hy.lines))
		}
	})
	t.Logf("environment up in %s (logs in %s)", time.Since(start).Round(time.Millisecond), dir)
	return h
}

// logDir is where an environment keeps its logs: a temporary directory, kept after the
// test when RELIABILITY_KEEP_LOGS is set.
func logDir(t *testing.T) string {
	if os.Getenv("RELIABILITY_KEEP_LOGS") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "reliability-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc returns the running process named name; the test fails if there is none.
func (h *harness) proc(name string) *devenv.Process {
	h.t.Helper()
	p := h.Processes()[name]
	if p == nil || !p.Running() {
		h.t.Fatalf("process %s is not running", name)
	}
	return p
}

// emulatorStats reads the emulator's counters through its control API.
func (h *harness) emulatorStats() emulator.Stats {
	h.t.Helper()
	var s emulator.Stats
	h.controlCall(http.MethodGet, "stats", nil, &s)
	return s
}

func (h *harness) controlCall(method, path string, body []byte, out any) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.EmulatorControlURL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		h.t.Fatalf("emulator control %s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		h.t.Fatalf("emulator control %s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("emulator control %s %s: %v", method, path, err)
		}
	}
}

// httpClient is the tests' HTTP client: every call is bounded.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// sdk is an OpenAI client on the emulator, for reading what OpenAI holds.
func (h *harness) sdk() openai.Client {
	return openai.NewClient(option.WithBaseURL(h.EmulatorURL+"/"), option.WithAPIKey(devenv.APIKey), option.WithMaxRetries(0))
}

// remoteBatches lists every batch on the emulator whose operator tag names namespace
// ns, by tag.
func remoteBatches(t *testing.T, api openai.Client, ns string) map[string][]openai.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string][]openai.Batch{}
	pager := api.Batches.ListAutoPaging(ctx, openai.BatchListParams{Limit: openai.Int(100)})
	for n := 0; pager.Next() && n < 1_000_000; n++ {
		b := pager.Current()
		tag := b.Metadata[openaiv1alpha1.ResourceMetadataKey]
		if strings.HasPrefix(tag, ns+"/") {
			out[tag] = append(out[tag], b)
		}
	}
	if err := pager.Err(); err != nil {
		t.Fatalf("listing batches on the emulator: %v", err)
	}
	return out
}

// remoteInputFiles lists the batch input files on the emulator that the operator
// uploaded for resources of namespace ns.
func remoteInputFiles(t *testing.T, api openai.Client, ns string) []openai.FileObject {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []openai.FileObject
	pager := api.Files.ListAutoPaging(ctx, openai.FileListParams{Purpose: openai.String("batch"), Limit: openai.Int(10000)})
	for n := 0; pager.Next() && n < 1_000_000; n++ {
		if f := pager.Current(); strings.HasPrefix(f.Filename, "openai-operator_"+ns+"_") {
			out = append(out, f)
		}
	}
	if err := pager.Err(); err != nil {
		t.Fatalf("listing files on the emulator: %v", err)
	}
	return out
}

// peakRSS returns the peak resident set size (VmHWM) of a running process, in MiB.
func peakRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// recordPeakRSS adds the peak RSS of every running process of h to rec.
func (h *harness) recordPeakRSS(rec *results) {
	for name, p := range h.Processes() {
		if !p.Running() {
			continue
		}
		if mib, err := peakRSS(p.Pid()); err == nil {
			rec.add("peak RSS of "+name+" (VmHWM)", fmt.Sprintf("%.1f MiB", mib))
		}
	}
}

// scrape fetches a Prometheus text endpoint.
func scrape(t *testing.T, url string) metrics {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return metrics(data)
}

// metrics is a Prometheus text exposition.
type metrics string

// sum adds the samples of the named metric whose labels include every pair of labels
// (given as "key", "value", ...).
func (m metrics) sum(name string, labels ...string) float64 {
	var total float64
	for _, line := range strings.Split(string(m), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := cutLast(line, " ")
		if !ok {
			continue
		}
		metric, lbls, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(lbls, labels[i]+`="`+labels[i+1]+`"`) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			total += v
		}
	}
	return total
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// isLeader reports whether the manager p holds the leader election lease.
func isLeader(t *testing.T, p *devenv.Process) bool {
	t.Helper()
	resp, err := httpClient.Get(p.MetricsURL)
	if err != nil {
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return metrics(data).sum("leader_election_master_status") == 1
}

// stopAPIServer stops the environment's kube-apiserver (SIGTERM, then SIGKILL if it is
// still shutting down after grace) and returns a function that starts it again with the
// same command line, certificates and port, so that every client reconnects to it. The
// restarted server is stopped when the test ends.
func (h *harness) stopAPIServer(grace time.Duration) (restart func() time.Duration) {
	t := h.t
	t.Helper()
	certDir := h.ControlPlane.ControlPlane.APIServer.CertDir
	pid, argv, environ := findProcess(t, "kube-apiserver", certDir)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stopping kube-apiserver: %v", err)
	}
	deadline := time.Now().Add(grace)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(30 * time.Second)
			for processAlive(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("kube-apiserver (pid %d) survived SIGKILL for 30s", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() time.Duration {
		t.Helper()
		start := time.Now()
		logf, err := os.OpenFile(filepath.Join(h.dir, "kube-apiserver-restarted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = environ
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("restarting kube-apiserver: %v", err)
		}
		h.mu.Lock()
		h.extra = append(h.extra, cmd)
		h.mu.Unlock()
		// Ready once the admin client can list again.
		deadline := time.Now().Add(90 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := h.ControlPlane.Client.List(ctx, &openaiv1alpha1.OpenAIBatchList{}, client.Limit(1))
			cancel()
			if err == nil {
				return time.Since(start)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the restarted kube-apiserver did not answer within 90s: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// findProcess finds a child process of this test whose command is named binary and
// whose arguments mention marker, and returns its pid, argv and environment.
func findProcess(t *testing.T, binary, marker string) (int, []string, []string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(raw) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if filepath.Base(argv[0]) != binary || !strings.Contains(string(raw), marker) {
			continue
		}
		envRaw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatalf("reading the environment of %s: %v", binary, err)
		}
		return pid, argv, strings.Split(strings.TrimRight(string(envRaw), "\x00"), "\x00")
	}
	t.Fatalf("no %s process with %q in its arguments", binary, marker)
	return 0, nil, nil
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
