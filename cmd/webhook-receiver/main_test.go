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

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
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

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// runMainEnv makes the test binary run main instead of the tests, so that the tests
// can start the real command as a process.
const runMainEnv = "WEBHOOK_RECEIVER_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scrape gets url over HTTPS (the receiver's self-signed certificate is not checked)
// with a bearer token, if any.
func scrape(url, token string) (int, string) {
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// serviceAccountToken creates ServiceAccount ns/name, allowed to get /metrics if
// reader, and returns a token of it.
func serviceAccountToken(t *testing.T, env *testenv.Env, ns, name string, reader bool) string {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	if reader {
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-metrics-reader"},
			Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
		g.Expect(env.Client.Create(ctx, role)).To(Succeed())
		g.Expect(env.Client.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-metrics-reader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}})).To(Succeed())
	}
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return tok.Status.Token
}

func status(url string) int {
	code, _ := get(url)
	return code
}

// TestCommand runs the webhook-receiver command against a real API server: it becomes
// ready, records a signed event, serves its metrics to authorized scrapers only, and
// stops cleanly on SIGTERM.
// metricsServerName is the DNS name in the metrics certificate TestCommand mounts.
const metricsServerName = "webhook-receiver-metrics.test.svc"

func TestCommand(t *testing.T) {
	g := NewWithT(t)
	env, err := testenv.Start()
	if err != nil {
		t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	dir := t.TempDir()

	kubeconfig := filepath.Join(dir, "kubeconfig")
	g.Expect(os.WriteFile(kubeconfig, env.KubeConfig, 0o600)).To(Succeed())
	secretText := standardwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32))
	secret, err := standardwebhooks.ParseSecret(secretText)
	g.Expect(err).NotTo(HaveOccurred())
	secrets := filepath.Join(dir, "secrets")
	g.Expect(os.Mkdir(secrets, 0o700)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(secrets, "current"), []byte(secretText+"\n"), 0o600)).To(Succeed())

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cmd-"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())
	batch := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "nightly"},
		Spec: openaiv1alpha1.OpenAIBatchSpec{
			Endpoint: openaiv1alpha1.BatchEndpointEmbeddings,
			Input: openaiv1alpha1.BatchInput{Requests: []openaiv1alpha1.BatchRequest{{
				CustomID: "one", Body: runtime.RawExtension{Raw: []byte(`{"model":"text-embedding-3-small","input":"hi"}`)},
			}}},
		},
	}
	g.Expect(env.Client.Create(ctx, batch)).To(Succeed())
	base := batch.DeepCopy()
	batch.Status.BatchID = "batch_cmd"
	g.Expect(env.Client.Status().Patch(ctx, batch, client.MergeFrom(base))).To(Succeed())

	// The metrics server's certificate, as cert-manager would mount it.
	certs := filepath.Join(dir, "metrics-certs")
	g.Expect(os.Mkdir(certs, 0o700)).To(Succeed())
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(metricsServerName, nil, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(filepath.Join(certs, "tls.crt"), certPEM, 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(certs, "tls.key"), keyPEM, 0o600)).To(Succeed())

	hook, metrics, probes := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(os.Args[0],
		"--kubeconfig", kubeconfig,
		"--bind-address", hook,
		"--metrics-bind-address", metrics,
		"--metrics-cert-path", certs,
		"--health-probe-bind-address", probes,
		"--secrets-path", secrets,
		"--namespace", ns.Name,
		"--zap-log-level", "debug",
	)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	g.Expect(cmd.Start()).To(Succeed())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("webhook-receiver output:\n%s", logs.String())
		}
	})

	g.Eventually(func() int { return status("http://" + probes + "/readyz") }, 60*time.Second, 100*time.Millisecond).
		Should(Equal(http.StatusOK))
	g.Expect(status("http://" + probes + "/healthz")).To(Equal(http.StatusOK))

	now := time.Now()
	body := fmt.Appendf(nil, `{"id":"evt_cmd","object":"event","created_at":%d,"type":"batch.completed","data":{"id":"batch_cmd"}}`, now.Unix())
	post := func(path string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+hook+path, bytes.NewReader(body))
		standardwebhooks.Headers{
			ID:        "wh_cmd",
			Timestamp: strconv.FormatInt(now.Unix(), 10),
			Signature: secret.Sign("wh_cmd", now, body),
		}.Set(
			req.Header,
		)
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	g.Expect(post("/elsewhere")).To(Equal(http.StatusNotFound))
	g.Expect(status("http://" + hook + "/openai/webhook")).To(Equal(http.StatusMethodNotAllowed))
	g.Expect(post("/openai/webhook")).To(Equal(http.StatusOK))

	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(batch), batch)).To(Succeed())
	g.Expect(batch.Status.LastWebhookEvent).NotTo(BeNil())
	g.Expect(batch.Status.LastWebhookEvent.ID).To(Equal("evt_cmd"))

	// The metrics are served over HTTPS to scrapers the API server authenticates and
	// authorizes, as the manager's are: a ServiceAccount bound to get /metrics.
	// The metrics server starts with a fresh self-signed certificate, which takes a
	// while under the race detector.
	g.Eventually(func() int {
		code, _ := scrape("https://"+metrics+"/metrics", "")
		return code
	}, 60*time.Second, 200*time.Millisecond).Should(Equal(http.StatusUnauthorized), "a scrape without a token")
	// The certificate served is the mounted one, so that a scraper can verify it.
	pool := x509.NewCertPool()
	g.Expect(pool.AppendCertsFromPEM(certPEM)).To(BeTrue())
	conn, err := tls.Dial("tcp", metrics, &tls.Config{RootCAs: pool, ServerName: metricsServerName})
	g.Expect(err).NotTo(HaveOccurred(), "the metrics server's certificate verifies against the mounted CA")
	_ = conn.Close()
	stranger := serviceAccountToken(t, env, ns.Name, "stranger", false)
	code, _ := scrape("https://"+metrics+"/metrics", stranger)
	g.Expect(code).To(Equal(http.StatusForbidden), "a ServiceAccount without the grant")
	code, _ = scrape("http://"+metrics+"/metrics", "")
	g.Expect(code).To(Equal(http.StatusBadRequest), "plain HTTP is not served")
	reader := serviceAccountToken(t, env, ns.Name, "prometheus", true)
	code, text := scrape("https://"+metrics+"/metrics", reader)
	g.Expect(code).To(Equal(http.StatusOK), text)
	g.Expect(text).To(ContainSubstring(`openai_webhook_events_total{outcome="accepted",type="batch.completed"} 1`))
	g.Expect(text).To(ContainSubstring(`openai_webhook_events_total{outcome="method_not_allowed",type="unknown"} 1`))
	g.Expect(text).To(ContainSubstring(`openai_webhook_signing_secrets 1`))
	g.Expect(text).To(ContainSubstring(`openai_webhook_event_to_status_seconds_count{from="received"} 1`))

	g.Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	select {
	case err := <-exited:
		g.Expect(err).NotTo(HaveOccurred(), "exit status after SIGTERM")
	case <-time.After(40 * time.Second):
		t.Fatal("the command did not stop within 40s of SIGTERM")
	}
	g.Expect(logs.String()).To(ContainSubstring("Serving OpenAI webhooks"))
	g.Expect(logs.String()).
		NotTo(ContainSubstring(strings.TrimPrefix(secretText, standardwebhooks.SecretPrefix)), "the secret never reaches the logs")
	g.Expect(logs.String()).NotTo(ContainSubstring(`batch_cmd"}}`), "bodies are not logged")
}
