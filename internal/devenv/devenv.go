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

// Package devenv runs the whole operator on one machine without a cluster: a real
// kube-apiserver and etcd (envtest), the kustomize install applied to it, the OpenAI
// emulator, and the real manager and webhook-receiver binaries as processes whose
// kubeconfigs impersonate their ServiceAccounts, so RBAC is enforced as in a cluster.
// Webhooks are connected as users connect them: an OpenAIWebhookEndpoint, whose signing
// secret the manager writes into the receiver's Secret (see WebhookSetup).
// `make dev-up`, `make demo` and the end-to-end tests use it.
package devenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// Names of the install, as config/default renders them.
const (
	Namespace              = "openai-operator-system"
	ManagerServiceAccount  = "openai-operator-controller-manager"
	ReceiverServiceAccount = "openai-operator-webhook-receiver"
	SigningSecretName      = "openai-webhook-secret"
	CredentialsSecretName  = "openai-credentials"
	// APIKey is the key the emulator accepts.
	APIKey = "sk-emulator"
	// WebhookEndpointName is the OpenAIWebhookEndpoint that Up creates (the sample's).
	WebhookEndpointName = "openai-webhooks"
)

// WebhookSetup is how an environment connects the emulator's webhooks to the receiver.
type WebhookSetup string

const (
	// WebhooksByEndpoint (the default) creates the sample OpenAIWebhookEndpoint in the
	// first credentials namespace and waits until it is Verified: the manager creates
	// the endpoint on the emulator and writes its signing secret into the receiver's
	// Secret, which this environment mounts into the receiver's secrets directory as a
	// kubelet would (see projectSecret).
	WebhooksByEndpoint WebhookSetup = ""
	// WebhooksByFlags is the manual route: a signing secret generated here, given to the
	// emulator (--webhook-url, --webhook-secret) and to the receiver; no
	// OpenAIWebhookEndpoint.
	WebhooksByFlags WebhookSetup = "flags"
)

// Options configure an environment.
type Options struct {
	// Dir receives kubeconfigs, logs and env.sh (e.g. bin/dev).
	Dir string
	// BinDir holds the manager, webhook-receiver and openai-emulator binaries.
	BinDir string
	// TimeScale is the emulator's --time-scale (1.0 when zero).
	TimeScale float64
	// EmulatorArgs, ManagerArgs and ReceiverArgs are appended to each command line.
	EmulatorArgs, ManagerArgs, ReceiverArgs []string
	// ManagerEnv and ReceiverEnv are added to those processes' environments (e.g. the
	// MEMORY_LIMIT that the Deployments set from limits.memory).
	ManagerEnv, ReceiverEnv []string
	// CredentialsNamespaces get the openai-credentials Secret (default: "default").
	CredentialsNamespaces []string
	// Webhooks is how webhooks are connected (default: WebhooksByEndpoint).
	Webhooks WebhookSetup
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

// Env is a running environment.
type Env struct {
	opts         Options
	ControlPlane *testenv.Env
	// AdminKubeconfig is a cluster-admin kubeconfig file.
	AdminKubeconfig string
	// EmulatorURL is the OpenAI base URL (http://127.0.0.1:port/v1).
	EmulatorURL string
	// EmulatorControlURL is the emulator's control API (http://127.0.0.1:port/emulator/).
	EmulatorControlURL string
	// ReceiverURL is where OpenAI (the emulator) delivers webhooks.
	ReceiverURL string
	// WebhookSecret is the signing secret shared by the emulator and the receiver, with
	// WebhooksByFlags only (an OpenAIWebhookEndpoint's secret stays in the receiver's
	// Secret).
	WebhookSecret string

	mu    sync.Mutex
	procs map[string]*Process
	ports map[string]int

	stopProjection context.CancelFunc
	projectionDone chan struct{}
}

func (o Options) logf(format string, args ...any) {
	if o.Progress != nil {
		_, _ = fmt.Fprintf(o.Progress, "dev: "+format+"\n", args...)
	}
}

// Up starts everything and returns once the emulator, the receiver and the manager
// answer their readiness checks. Call Down to stop it all.
func Up(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.TimeScale == 0 {
		opts.TimeScale = 1
	}
	if len(opts.CredentialsNamespaces) == 0 {
		opts.CredentialsNamespaces = []string{"default"}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	e := &Env{opts: opts, procs: map[string]*Process{}, ports: map[string]int{}}
	defer func() {
		if err != nil {
			_ = e.Down()
		}
	}()

	opts.logf("starting a local control plane (kube-apiserver and etcd)")
	if e.ControlPlane, err = testenv.Start(); err != nil {
		return nil, err
	}
	admin, err := e.ControlPlane.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	e.AdminKubeconfig = filepath.Join(opts.Dir, "admin.kubeconfig")
	if err := os.WriteFile(e.AdminKubeconfig, kc, 0o600); err != nil {
		return nil, err
	}

	opts.logf("applying the install (kustomize config/default, server-side)")
	if err := e.applyInstall(ctx); err != nil {
		return nil, err
	}
	if err := e.createSecrets(ctx); err != nil {
		return nil, err
	}
	names := []string{"emulator", "receiver", "receiver-metrics", "receiver-probe", "manager-metrics", "manager-probe"}
	ports, err := freePorts(len(names))
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		e.ports[name] = ports[i]
	}
	e.EmulatorURL = fmt.Sprintf("http://127.0.0.1:%d/v1", e.ports["emulator"])
	e.EmulatorControlURL = fmt.Sprintf("http://127.0.0.1:%d/emulator/", e.ports["emulator"])
	e.ReceiverURL = fmt.Sprintf("http://127.0.0.1:%d/openai/webhook", e.ports["receiver"])

	opts.logf("starting the OpenAI emulator on %s", e.EmulatorURL)
	if _, err := e.StartEmulator(); err != nil {
		return nil, err
	}
	if opts.Webhooks == WebhooksByEndpoint {
		e.startProjection()
	}
	opts.logf("starting the webhook receiver on %s (as ServiceAccount %s)", e.ReceiverURL, ReceiverServiceAccount)
	if _, err := e.StartReceiver(); err != nil {
		return nil, err
	}
	opts.logf("starting the manager (as ServiceAccount %s)", ManagerServiceAccount)
	if _, err := e.StartManager("manager"); err != nil {
		return nil, err
	}
	if opts.Webhooks == WebhooksByEndpoint {
		ns := opts.CredentialsNamespaces[0]
		opts.logf("connecting webhooks: OpenAIWebhookEndpoint %s/%s (config/samples), waiting until it is Verified", ns, WebhookEndpointName)
		if err := e.connectWebhooks(ctx, ns); err != nil {
			return nil, err
		}
	}
	if err := e.writeEnvFile(); err != nil {
		return nil, err
	}
	opts.logf("ready; logs and kubeconfigs in %s", opts.Dir)
	return e, nil
}

// kubeconfigFlag is the flag that kubectl and the project's binaries take their
// kubeconfig from.
const kubeconfigFlag = "--kubeconfig"

// kubectl runs the kubectl next to the API server binaries with the admin kubeconfig.
func (e *Env) kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, testenv.KubectlPath(), append([]string{kubeconfigFlag, e.AdminKubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out.Bytes(), nil
}

// Kubectl runs kubectl against the environment as cluster admin.
func (e *Env) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	return e.kubectl(ctx, nil, args...)
}

func (e *Env) applyInstall(ctx context.Context) error {
	rendered, err := e.kubectl(ctx, nil, "kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		return err
	}
	_, err = e.kubectl(ctx, rendered, "apply", "--server-side", "--force-conflicts", "-f", "-")
	return err
}

// secretsDir is the receiver's --secrets-path: the mounted Secret volume.
func (e *Env) secretsDir() string { return filepath.Join(e.opts.Dir, "webhook-secrets") }

func (e *Env) createSecrets(ctx context.Context) error {
	if err := os.MkdirAll(e.secretsDir(), 0o700); err != nil {
		return err
	}
	c := e.ControlPlane.Client
	if e.opts.Webhooks == WebhooksByFlags {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		e.WebhookSecret = "whsec_" + base64.StdEncoding.EncodeToString(key)
		if err := os.WriteFile(filepath.Join(e.secretsDir(), "signing-secret"), []byte(e.WebhookSecret), 0o600); err != nil {
			return err
		}
		// The signing secret as a cluster stores it (the receiver here reads the same value
		// from a file, as the Secret volume would provide it).
		if err := c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: SigningSecretName},
			StringData: map[string]string{"signing-secret": e.WebhookSecret},
		}); err != nil {
			return err
		}
	}
	for _, ns := range e.opts.CredentialsNamespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !strings.Contains(err.Error(), "already exists") {
			return err
		}
		if err := c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: CredentialsSecretName},
			StringData: map[string]string{"apiKey": APIKey},
		}); err != nil {
			return err
		}
	}
	return nil
}

// ServiceAccountKubeconfig writes a kubeconfig that impersonates a ServiceAccount of the
// install namespace and returns its path.
func (e *Env) ServiceAccountKubeconfig(serviceAccount string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(e.AdminKubeconfig)
	if err != nil {
		return "", err
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + Namespace + ":" + serviceAccount
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + Namespace, "system:authenticated"}
	}
	path := filepath.Join(e.opts.Dir, serviceAccount+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// StartEmulator starts (or restarts) the emulator process.
func (e *Env) StartEmulator() (*Process, error) {
	args := []string{
		"--addr", fmt.Sprintf("127.0.0.1:%d", e.ports["emulator"]),
		"--time-scale", fmt.Sprint(e.opts.TimeScale),
		"--api-key", APIKey,
	}
	var env []string
	if e.opts.Webhooks == WebhooksByFlags {
		args = append(args, "--webhook-url", e.ReceiverURL)
		env = []string{"EMULATOR_WEBHOOK_SECRET=" + e.WebhookSecret}
	}
	p, err := e.start("openai-emulator", "openai-emulator", append(args, e.opts.EmulatorArgs...), env)
	if err != nil {
		return nil, err
	}
	return p, waitReady(p, e.EmulatorControlURL+"stats")
}

// StartReceiver starts (or restarts) the webhook receiver process.
func (e *Env) StartReceiver() (*Process, error) {
	return e.startReceiver("webhook-receiver", e.ports["receiver"], e.ports["receiver-metrics"], e.ports["receiver-probe"])
}

// StartReceiverReplica starts another webhook receiver process under name, on ports of
// its own, as one more replica of the receiver's Deployment would run; it returns the
// process and the URL it takes webhooks on. The emulator keeps delivering to ReceiverURL:
// a caller spreads requests over the replicas itself, as a Service would.
func (e *Env) StartReceiverReplica(name string) (*Process, string, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, "", err
	}
	p, err := e.startReceiver(name, ports[0], ports[1], ports[2])
	return p, fmt.Sprintf("http://127.0.0.1:%d/openai/webhook", ports[0]), err
}

func (e *Env) startReceiver(name string, port, metrics, probePort int) (*Process, error) {
	kc, err := e.ServiceAccountKubeconfig(ReceiverServiceAccount)
	if err != nil {
		return nil, err
	}
	args := []string{
		kubeconfigFlag, kc,
		"--bind-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--secrets-path", e.secretsDir(),
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metrics),
		"--metrics-secure=false",
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
		// No ingress controller routes to these processes: nothing to drain on a stop.
		"--drain-period=0",
		// As in a cluster, the Secret of signing secrets is also watched through the API.
		"--signing-secret-namespace", Namespace,
	}
	p, err := e.start(name, "webhook-receiver", append(args, e.opts.ReceiverArgs...), e.opts.ReceiverEnv)
	if err != nil {
		return nil, err
	}
	probe := "readyz"
	if entries, _ := os.ReadDir(e.secretsDir()); len(entries) == 0 {
		// Not ready without a signing secret; the OpenAIWebhookEndpoint brings it.
		probe = "healthz"
	}
	return p, waitReady(p, fmt.Sprintf("http://127.0.0.1:%d/%s", probePort, probe))
}

// StartManager starts a manager process under name (several may run: they elect a
// leader). The first one named "manager" uses the fixed probe and metrics ports.
func (e *Env) StartManager(name string, extraArgs ...string) (*Process, error) {
	return e.StartManagerFrom(name, "manager", nil, extraArgs...)
}

// StartManagerFrom is StartManager with another binary (an absolute path, or a name in
// BinDir) and environment variables added to the process's (e.g. GOGC): benchmarks
// compare builds and settings on the same objects with it.
func (e *Env) StartManagerFrom(name, binary string, env []string, extraArgs ...string) (*Process, error) {
	kc, err := e.ServiceAccountKubeconfig(ManagerServiceAccount)
	if err != nil {
		return nil, err
	}
	probe, metrics := e.ports["manager-probe"], e.ports["manager-metrics"]
	if name != "manager" {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		probe, metrics = ports[0], ports[1]
	}
	args := []string{
		kubeconfigFlag, kc,
		"--openai-base-url", e.EmulatorURL,
		"--leader-elect",
		"--leader-election-namespace", Namespace,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metrics),
		"--metrics-secure=false",
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probe),
		"--webhook-receiver-url", e.ReceiverURL,
		"--webhook-secret-namespace", Namespace,
	}
	args = append(append(args, e.opts.ManagerArgs...), extraArgs...)
	p, err := e.start(name, binary, args, append(append([]string(nil), e.opts.ManagerEnv...), env...))
	if err != nil {
		return nil, err
	}
	p.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)
	return p, waitReady(p, fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
}

// ReceiverMetricsURL is the receiver's Prometheus endpoint.
func (e *Env) ReceiverMetricsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", e.ports["receiver-metrics"])
}

// Process is a running binary.
type Process struct {
	Name       string
	LogPath    string
	MetricsURL string
	cmd        *exec.Cmd
	done       chan struct{}
	exitErr    error
}

func (e *Env) start(name, binary string, args, env []string) (*Process, error) {
	e.mu.Lock()
	if old := e.procs[name]; old != nil && old.Running() {
		e.mu.Unlock()
		return nil, fmt.Errorf("%s is already running", name)
	}
	e.mu.Unlock()
	logPath := filepath.Join(e.opts.Dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	path := binary
	if !filepath.IsAbs(path) {
		path = filepath.Join(e.opts.BinDir, binary)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	// Children die with the environment, whatever kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	e.mu.Lock()
	e.procs[name] = p
	e.mu.Unlock()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (a crash) and waits for the exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM and waits up to 15 s, then kills.
func (p *Process) Stop() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.Kill()
	}
}

// Log returns what the process wrote so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Processes returns the running processes by name.
func (e *Env) Processes() map[string]*Process {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]*Process{}
	for k, v := range e.procs {
		out[k] = v
	}
	return out
}

// Down stops every process and the control plane.
func (e *Env) Down() error {
	e.mu.Lock()
	procs := make([]*Process, 0, len(e.procs))
	for _, p := range e.procs {
		procs = append(procs, p)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop()
		}()
	}
	wg.Wait()
	if e.stopProjection != nil {
		e.stopProjection()
		<-e.projectionDone
	}
	if e.ControlPlane != nil {
		return e.ControlPlane.Stop()
	}
	return nil
}

// waitReady polls url until it answers 200, the process exits, or three minutes pass (a
// receiver is ready once its cache holds every OpenAIBatch: tens of thousands take a while
// on a loaded machine).
func waitReady(p *Process, url string) error {
	deadline := time.Now().Add(3 * time.Minute)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if !p.Running() {
			return fmt.Errorf("%s exited: %w\n%s", p.Name, p.exitErr, tail(p.Log(), 20))
		}
		if resp, err := client.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after three minutes\n%s", p.Name, url, tail(p.Log(), 20))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct free ports. All n listeners stay open until every port
// is chosen, so the kernel cannot hand out the same port twice among them.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (e *Env) writeEnvFile() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by make dev-up; source it to use the local environment.\n")
	fmt.Fprintf(&b, "export KUBECONFIG=%q\n", e.AdminKubeconfig)
	fmt.Fprintf(&b, "export OPENAI_BASE_URL=%q\n", e.EmulatorURL)
	fmt.Fprintf(&b, "export OPENAI_API_KEY=%q\n", APIKey)
	fmt.Fprintf(&b, "export RECEIVER_URL=%q\n", e.ReceiverURL)
	if e.WebhookSecret != "" {
		fmt.Fprintf(&b, "export WEBHOOK_SECRET=%q\n", e.WebhookSecret)
	}
	fmt.Fprintf(&b, "export EMULATOR_CONTROL_URL=%q\n", e.EmulatorControlURL)
	if k := testenv.KubectlPath(); filepath.IsAbs(k) {
		// The kubectl built for this API server version.
		fmt.Fprintf(&b, "export PATH=%q:\"$PATH\"\n", filepath.Dir(k))
	}
	return os.WriteFile(filepath.Join(e.opts.Dir, "env.sh"), []byte(b.String()), 0o600)
}
