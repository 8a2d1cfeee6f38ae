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

package install

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	"github.com/openai-operator/openai-operator/internal/testenv"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// The namespaces of the namespace-scoped install's test: config/namespaced serves
// team-a; team-b is any other namespace.
const (
	served   = "team-a"
	unserved = "team-b"
)

// namespacedInstall returns the API server with config/namespaced applied.
func namespacedInstall(t *testing.T) *server {
	t.Helper()
	return installed(t, "namespaced", func(env *testenv.Env) error {
		for _, ns := range []string{served, unserved} {
			if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestNamespacedInstallGrants asks the API server what the ServiceAccounts of the
// namespace-scoped install may do: everything they need in the served namespace, and
// nothing (no Secret, no ConfigMap, no list or watch) anywhere else.
func TestNamespacedInstallGrants(t *testing.T) {
	s := namespacedInstall(t)
	type check struct {
		sa, verb, resource, sub, ns, name string
		allowed                           bool
	}
	cases := map[string]check{
		"manager reads credentials in the served namespace":  {managerSA, "get", "secrets", "", served, "", true},
		"manager writes results in the served namespace":     {managerSA, "create", "configmaps", "", served, "", true},
		"manager watches batches in the served namespace":    {managerSA, "watch", "openaibatches", "", served, "", true},
		"manager patches status in the served namespace":     {managerSA, "patch", "openairesponses", "status", served, "", true},
		"manager emits events in the served namespace":       {managerSA, "create", "events", "", served, "", true},
		"manager takes its lease":                            {managerSA, "update", "leases", "", installNamespace, "", true},
		"manager reads no Secret elsewhere":                  {managerSA, "get", "secrets", "", unserved, "", false},
		"manager reads no Secret in kube-system":             {managerSA, "get", "secrets", "", "kube-system", "", false},
		"manager writes no ConfigMap elsewhere":              {managerSA, "create", "configmaps", "", unserved, "", false},
		"manager lists no batches cluster-wide":              {managerSA, "list", "openaibatches", "", "", "", false},
		"manager watches no batches elsewhere":               {managerSA, "watch", "openaibatches", "", unserved, "", false},
		"receiver watches responses in the served namespace": {receiverSA, "watch", "openairesponses", "", served, "", true},
		"receiver patches status in the served namespace":    {receiverSA, "patch", "openaibatches", "status", served, "", true},
		"receiver reads its signing Secret":                  {receiverSA, "watch", "secrets", "", installNamespace, "openai-webhook-secret", true},
		"receiver reads no other Secret": {
			receiverSA,
			"get",
			"secrets",
			"",
			installNamespace,
			"openai-operator-credentials",
			false,
		},
		"receiver lists no batches cluster-wide": {receiverSA, "list", "openaibatches", "", "", "", false},
		"receiver patches no status elsewhere":   {receiverSA, "patch", "openaibatches", "status", unserved, "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			group := ""
			switch tc.resource {
			case "openaibatches", "openairesponses":
				group = openaiv1alpha1.GroupVersion.Group
			case "events":
				group = "events.k8s.io"
			case "leases":
				group = "coordination.k8s.io"
			}
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   "system:serviceaccount:" + installNamespace + ":" + tc.sa,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + installNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: tc.ns, Verb: tc.verb, Group: group, Resource: tc.resource, Subresource: tc.sub, Name: tc.name,
				},
			}}
			g.Expect(s.env.Client.Create(ctx, review)).To(Succeed())
			g.Expect(review.Status.Allowed).To(Equal(tc.allowed), "%s %s/%s in %q: %s", tc.verb, tc.resource, tc.sub, tc.ns, review.Status.Reason)
		})
	}
}

// TestNamespacedReceiver runs the receiver as its ServiceAccount of the
// namespace-scoped install, serving team-a: its cache syncs with the Roles alone, and
// it records an event on a batch there.
func TestNamespacedReceiver(t *testing.T) {
	g := NewWithT(t)
	s := namespacedInstall(t)
	batch := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: served, Name: "recorded"},
		Spec: openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings, Input: openaiv1alpha1.BatchInput{FileID: "file-1"}}}
	g.Expect(s.env.Client.Create(ctx, batch)).To(Succeed())
	g.Expect(s.env.Client.Status().Patch(ctx, batch, statusPatch(map[string]any{"batchID": "batch_namespaced"}))).To(Succeed())

	secret, err := standardwebhooks.ParseSecret(standardwebhooks.SecretPrefix + "c2lnbmluZy1zZWNyZXQtb2YtdGhlLW5hbWVzcGFjZWQtdGVzdA==")
	g.Expect(err).NotTo(HaveOccurred())
	mgr, r, err := receiver.NewManager(s.configAs(installNamespace, receiverSA), receiver.Options{
		BindAddress: "127.0.0.1:0", MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		Namespace: served, Secrets: receiver.StaticSecrets{secret}, Registerer: prometheus.NewRegistry(),
	})
	g.Expect(err).NotTo(HaveOccurred())
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	defer func() {
		cancel()
		g.Expect(<-done).To(Succeed())
	}()
	g.Eventually(func() error { return r.ReadyCheck(nil) }, time.Minute, 50*time.Millisecond).Should(Succeed(), "the cache syncs with Roles only")

	now := time.Now()
	body := fmt.Appendf(nil, `{"id":"evt_ns","object":"event","created_at":%d,"type":"batch.completed","data":{"id":"batch_namespaced"}}`, now.Unix())
	req, err := http.NewRequest(http.MethodPost, "http://"+r.Addr()+receiver.DefaultPath, bytes.NewReader(body))
	g.Expect(err).NotTo(HaveOccurred())
	standardwebhooks.Headers{ID: "wh_ns", Timestamp: strconv.FormatInt(now.Unix(), 10), Signature: secret.Sign("wh_ns", now, body)}.Set(req.Header)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(s.env.Client.Get(ctx, client.ObjectKeyFromObject(batch), batch)).To(Succeed())
	g.Expect(batch.Status.LastWebhookEvent).NotTo(BeNil())
	g.Expect(batch.Status.LastWebhookEvent.ID).To(Equal("evt_ns"))
}

// managerProcess is the manager binary running as its ServiceAccount of the
// namespace-scoped install, started once.
var (
	managerOnce sync.Once
	managerLog  *syncBuffer
	managerErr  error
)

// fakeOpenAI is the manager's --openai-base-url: nothing listens there, so every call
// fails at once (these tests never get as far as OpenAI).
const fakeOpenAI = "http://127.0.0.1:1/v1"

// startManager builds and starts the manager with --namespaces=team-a, impersonating
// its ServiceAccount, unless it is already running; it stops when the tests end.
func startManager(t *testing.T, s *server) *syncBuffer {
	t.Helper()
	managerOnce.Do(func() {
		bin := filepath.Join(tempDir, "manager")
		build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
		build.Dir = testenv.RepoRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // as test/e2e and test/reliability: one build cache
		if out, err := build.CombinedOutput(); err != nil {
			managerErr = fmt.Errorf("building the manager: %w\n%s", err, out)
			return
		}
		probe := freePort()
		cmd := exec.Command(bin,
			"--kubeconfig", s.kubeconfigAs(t, installNamespace, managerSA),
			"--namespaces", served,
			"--openai-base-url", fakeOpenAI,
			"--metrics-bind-address", "0",
			"--health-probe-bind-address", probe,
			"--zap-log-level", "debug",
		)
		managerLog = &syncBuffer{}
		cmd.Stdout, cmd.Stderr = managerLog, managerLog
		if managerErr = cmd.Start(); managerErr != nil {
			return
		}
		stopAtExit = append(stopAtExit, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	})
	if managerErr != nil {
		t.Fatal(managerErr)
	}
	return managerLog
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
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

// credentialsCondition waits for the CredentialsReady condition of batch name in the served
// namespace and returns it.
func credentialsCondition(t *testing.T, s *server, log *syncBuffer, name string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	NewWithT(t).Eventually(func() *metav1.Condition {
		var b openaiv1alpha1.OpenAIBatch
		if err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: served, Name: name}, &b); err != nil {
			return nil
		}
		cond = meta.FindStatusCondition(b.Status.Conditions, openaiv1alpha1.ConditionCredentialsReady)
		return cond
	}, 2*time.Minute, 200*time.Millisecond).ShouldNot(BeNil(), "the manager's log:\n%s", lastLines(log.String(), 40))
	return cond
}

func newBatch(ns, name, credentials string) *openaiv1alpha1.OpenAIBatch {
	b := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings, Input: openaiv1alpha1.BatchInput{FileID: "file-1"}}}
	if credentials != "" {
		b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: credentials}
	}
	return b
}

// TestNamespacedManager runs the manager binary as its ServiceAccount of the
// namespace-scoped install: it serves a batch in team-a (its cache syncs, it reads the
// credentials Secret there and writes status) and leaves one in team-b alone, without
// a single request refused by RBAC.
func TestNamespacedManager(t *testing.T) {
	g := NewWithT(t)
	s := namespacedInstall(t)
	log := startManager(t, s)
	g.Expect(s.env.Client.Create(ctx, newBatch(served, "no-credentials", ""))).To(Succeed())
	g.Expect(s.env.Client.Create(ctx, newBatch(unserved, "not-served", ""))).To(Succeed())

	cond := credentialsCondition(t, s, log, "no-credentials")
	g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(cond.Reason).To(Equal(openaiv1alpha1.ReasonSecretNotFound), "it read (for) the Secret in team-a")

	g.Consistently(func() int {
		var b openaiv1alpha1.OpenAIBatch
		_ = s.env.Client.Get(ctx, client.ObjectKey{Namespace: unserved, Name: "not-served"}, &b)
		return len(b.Status.Conditions) + len(b.Finalizers)
	}, 2*time.Second, 200*time.Millisecond).Should(BeZero(), "a namespace it does not serve is left alone")
	g.Expect(strings.ToLower(log.String())).NotTo(ContainSubstring("forbidden"), lastLines(log.String(), 40))
}

// TestManagerRefusesBaseURLsOutsideItsList checks that a credentials Secret cannot
// point the manager at an address of its choosing: a baseURL outside
// --allowed-base-urls (OpenAI's only, by default) leaves the resource with
// CredentialsReady=False, reason BaseURLNotAllowed, and no request is sent there; the
// manager's own --openai-base-url stays allowed, and the resource continues once its
// Secret names an allowed one.
func TestManagerRefusesBaseURLsOutsideItsList(t *testing.T) {
	g := NewWithT(t)
	s := namespacedInstall(t)
	log := startManager(t, s)

	var hits sync.WaitGroup
	hit := make(chan struct{}, 10)
	target := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hit <- struct{}{} }),
		ReadHeaderTimeout: time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	hits.Go(func() { _ = target.Serve(ln) })
	defer func() { _ = target.Close(); hits.Wait() }()
	forged := "http://" + ln.Addr().String() + "/v1"

	for name, baseURL := range map[string]string{"forged-base-url": forged, "own-base-url": fakeOpenAI + "/"} {
		g.Expect(s.env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: served, Name: name},
			StringData: map[string]string{"apiKey": "sk-test-key", "baseURL": baseURL}})).To(Succeed())
		g.Expect(s.env.Client.Create(ctx, newBatch(served, name, name))).To(Succeed())
	}

	cond := credentialsCondition(t, s, log, "forged-base-url")
	g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(cond.Reason).To(Equal(openaiv1alpha1.ReasonBaseURLNotAllowed))
	g.Expect(cond.Message).To(ContainSubstring("--allowed-base-urls"))
	g.Expect(cond.Message).NotTo(ContainSubstring(ln.Addr().String()), "the URL is not repeated")

	cond = credentialsCondition(t, s, log, "own-base-url")
	g.Expect(cond.Status).To(Equal(metav1.ConditionTrue), "the manager's own base URL is allowed")
	g.Consistently(hit, 2*time.Second).ShouldNot(Receive(), "no request reached the forged base URL")

	// Once the Secret names an allowed base URL, the resource continues by itself.
	var secret corev1.Secret
	g.Expect(s.env.Client.Get(ctx, client.ObjectKey{Namespace: served, Name: "forged-base-url"}, &secret)).To(Succeed())
	secret.Data["baseURL"] = []byte(fakeOpenAI + "/")
	g.Expect(s.env.Client.Update(ctx, &secret)).To(Succeed())
	g.Eventually(func() metav1.ConditionStatus {
		return credentialsCondition(t, s, log, "forged-base-url").Status
	}, time.Minute, 200*time.Millisecond).Should(Equal(metav1.ConditionTrue), "the manager's log:\n%s", lastLines(log.String(), 40))
	g.Expect(hit).NotTo(Receive(), "no request reached the forged base URL")
}

// stopAtExit are run by TestMain after the tests.
var stopAtExit []func()

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
