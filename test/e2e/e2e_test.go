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

// Package e2e runs the operator as users do: the kustomize install applied to a real API
// server, the real manager and webhook-receiver binaries running as processes under
// their ServiceAccounts (impersonated, so RBAC is enforced), the samples applied with
// kubectl, and the OpenAI emulator delivering signed webhooks.
package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/openai-operator/openai-operator/internal/devenv"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

var env *devenv.Env

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "openai-operator-e2e-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binDir := filepath.Join(dir, "bin")
	// Build the binaries from this tree, so the test never runs stale ones.
	build := exec.Command("go", "build", "-o", binDir+"/", "./cmd/manager", "./cmd/webhook-receiver", "./cmd/openai-emulator")
	build.Dir = testenv.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("building the binaries: %w\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err = devenv.Up(ctx, devenv.Options{
		Dir: filepath.Join(dir, "dev"), BinDir: binDir, TimeScale: 0.2,
		CredentialsNamespaces: []string{"default", "e2e-deletion"},
		// Webhooks are connected through the sample OpenAIWebhookEndpoint in "default".
		// A second project (its own key) and a rotation overlap of seconds, not 24 h, for
		// TestWebhookEndpointEndToEnd.
		EmulatorArgs: []string{"--project-api-key", webhookProject + "=" + webhookProjectKey, "--rotation-overlap", rotationOverlap.String()},
		ManagerArgs:  []string{"--poll-interval-min=500ms", "--poll-interval-max=2s", "--webhook-secret-overlap", rotationOverlap.String()},
		Progress:     os.Stderr,
	})
	if err != nil {
		return 0, err
	}
	code := m.Run()
	if code != 0 {
		for name, p := range env.Processes() {
			fmt.Fprintf(os.Stderr, "---- %s log (last lines) ----\n%s\n", name, lastLines(p.Log(), 40))
		}
	}
	return code, env.Down()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubectl runs kubectl as cluster admin; it fails the test on error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := env.Kubectl(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return string(out)
}

func emulatorCalls(t *testing.T) map[string]int64 {
	t.Helper()
	resp, err := http.Get(env.EmulatorControlURL + "stats")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var stats struct {
		Calls map[string]int64 `json:"calls"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatalf("emulator stats: %v: %s", err, body)
	}
	return stats.Calls
}

func TestSamplesCompleteEndToEnd(t *testing.T) {
	g := NewWithT(t)
	root := testenv.RepoRoot()
	kubectl(t, "apply", "-n", "default", "-k", filepath.Join(root, "config", "samples"))
	out := kubectl(t, "wait", "-n", "default", "--for=condition=Complete", "--timeout=90s",
		"openaibatch/nightly-embeddings", "openaibatch/support-triage", "openairesponse/release-notes-summary",
		"openaifinetuningjob/support-assistant")
	g.Expect(strings.Count(out, "condition met")).To(Equal(4), out)

	// kubectl get shows the printer columns of both kinds through the category.
	table := kubectl(t, "get", "openai", "-n", "default")
	g.Expect(table).To(ContainSubstring("PROGRESS"))
	g.Expect(table).To(MatchRegexp(`nightly-embeddings\s+Completed\s+batch_\S+\s+3/3`))
	g.Expect(table).To(MatchRegexp(`release-notes-summary\s+Completed\s+resp_\S+\s+gpt-5-mini`))
	g.Expect(table).To(MatchRegexp(`support-assistant\s+Succeeded\s+ftjob-\S+\s+ft:gpt-4o-mini-2024-07-18:\S+:support:\S+`))

	// The fine-tuned model's name, where a Deployment reads it.
	model := kubectl(t, "get", "configmap", "support-assistant-model", "-n", "default", "-o", "jsonpath={.data.model}")
	g.Expect(model).
		To(Equal(kubectl(t, "get", "openaifinetuningjob", "support-assistant", "-n", "default", "-o", "jsonpath={.status.fineTunedModel}")))
	g.Expect(model).To(HavePrefix("ft:gpt-4o-mini-2024-07-18:"))

	// Results where the specs asked: a ConfigMap and a Secret owned by their batches.
	lines := kubectl(t, "get", "configmap", "embeddings-results", "-n", "default", "-o", `jsonpath={.data.output\.jsonl}`)
	g.Expect(strings.Count(strings.TrimSpace(lines), "\n") + 1).To(Equal(3))
	for _, id := range []string{"doc-1", "doc-2", "doc-3"} {
		g.Expect(lines).To(ContainSubstring(`"custom_id":"` + id + `"`))
	}
	owner := kubectl(
		t,
		"get",
		"secret",
		"support-triage-results",
		"-n",
		"default",
		"-o",
		"jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
	)
	g.Expect(owner).To(Equal("OpenAIBatch/support-triage"))
	text := kubectl(t, "get", "openairesponse", "release-notes-summary", "-n", "default", "-o", "jsonpath={.status.outputText}")
	g.Expect(text).To(HavePrefix("echo: Summarise"))

	// The receiver, running under its own ServiceAccount, recorded the signed events.
	for _, obj := range []string{
		"openaibatch/nightly-embeddings", "openaibatch/support-triage", "openairesponse/release-notes-summary", "openaifinetuningjob/support-assistant",
	} {
		ev := kubectl(t, "get", obj, "-n", "default", "-o", "jsonpath={.status.lastWebhookEvent.type}")
		g.Expect(ev).To(BeElementOf("batch.completed", "response.completed", "fine_tuning.job.succeeded"), obj)
	}
	metrics, err := http.Get(env.ReceiverMetricsURL())
	g.Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(metrics.Body)
	_ = metrics.Body.Close()
	g.Expect(string(body)).To(MatchRegexp(`openai_webhook_events_total\{outcome="accepted",type="batch.completed"\} [1-9]`))
	g.Expect(string(body)).To(MatchRegexp(`openai_webhook_events_total\{outcome="accepted",type="fine_tuning.job.succeeded"\} [1-9]`))
	g.Expect(emulatorCalls(t)["batches.create"]).To(BeNumerically(">=", 2))
	g.Expect(emulatorCalls(t)["fine_tuning.jobs.create"]).To(BeNumerically(">=", 1))
}

func TestDeleteMidFlightCancelsOnOpenAI(t *testing.T) {
	g := NewWithT(t)
	const ns = "e2e-deletion"
	manifest := `
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIBatch
metadata:
  name: long-running
spec:
  endpoint: /v1/chat/completions
  input:
    requests:
      - customID: slow-1
        body: {model: emulator-hang, messages: [{role: user, content: wait}]}
`
	f := filepath.Join(t.TempDir(), "batch.yaml")
	g.Expect(os.WriteFile(f, []byte(manifest), 0o600)).To(Succeed())
	kubectl(t, "apply", "-n", ns, "-f", f)
	kubectl(t, "wait", "-n", ns, "--for=jsonpath={.status.phase}=InProgress", "--timeout=60s", "openaibatch/long-running")
	batchID := kubectl(t, "get", "-n", ns, "openaibatch/long-running", "-o", "jsonpath={.status.batchID}")
	g.Expect(batchID).To(HavePrefix("batch_"))

	kubectl(t, "delete", "-n", ns, "openaibatch/long-running", "--timeout=60s")
	out, err := env.Kubectl(context.Background(), "get", "-n", ns, "openaibatch/long-running")
	g.Expect(err).To(HaveOccurred(), "deleted resource still there: %s", out)

	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(env.EmulatorURL, "/")+"/batches/"+batchID, nil)
	req.Header.Set("Authorization", "Bearer "+devenv.APIKey)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	var remote struct {
		Status string `json:"status"`
	}
	g.Expect(json.NewDecoder(resp.Body).Decode(&remote)).To(Succeed())
	g.Expect(remote.Status).To(BeElementOf("cancelling", "cancelled"))
}

func TestServiceAccountsHaveLeastPrivilege(t *testing.T) {
	sa := func(name string) string { return "system:serviceaccount:" + devenv.Namespace + ":" + name }
	cases := map[string]struct {
		as      string
		verb    string
		what    string
		ns      string
		allowed bool
	}{
		// The receiver: read the two kinds, patch their status; nothing else.
		"receiver lists batches":     {sa(devenv.ReceiverServiceAccount), "list", "openaibatches.openai.operator.dev", "", true},
		"receiver watches responses": {sa(devenv.ReceiverServiceAccount), "watch", "openairesponses.openai.operator.dev", "", true},
		"receiver patches batch status": {
			sa(devenv.ReceiverServiceAccount),
			"patch",
			"openaibatches.openai.operator.dev/status",
			"default",
			true,
		},
		"receiver patches response status": {
			sa(devenv.ReceiverServiceAccount),
			"patch",
			"openairesponses.openai.operator.dev/status",
			"default",
			true,
		},
		"receiver watches fine-tuning jobs": {sa(devenv.ReceiverServiceAccount), "watch", "openaifinetuningjobs.openai.operator.dev", "", true},
		"receiver patches fine-tuning status": {
			sa(devenv.ReceiverServiceAccount),
			"patch",
			"openaifinetuningjobs.openai.operator.dev/status",
			"default",
			true,
		},
		"receiver cannot write fine-tuning": {
			sa(devenv.ReceiverServiceAccount),
			"patch",
			"openaifinetuningjobs.openai.operator.dev",
			"default",
			false,
		},
		"receiver cannot update status": {
			sa(devenv.ReceiverServiceAccount),
			"update",
			"openaibatches.openai.operator.dev/status",
			"default",
			false,
		},
		"receiver cannot write specs": {sa(devenv.ReceiverServiceAccount), "patch", "openaibatches.openai.operator.dev", "default", false},
		"receiver cannot create batches": {
			sa(devenv.ReceiverServiceAccount),
			"create",
			"openaibatches.openai.operator.dev",
			"default",
			false,
		},
		"receiver cannot delete batches": {
			sa(devenv.ReceiverServiceAccount),
			"delete",
			"openaibatches.openai.operator.dev",
			"default",
			false,
		},
		"receiver cannot read Secrets":    {sa(devenv.ReceiverServiceAccount), "get", "secrets", "default", false},
		"receiver cannot read its own ns": {sa(devenv.ReceiverServiceAccount), "get", "secrets", devenv.Namespace, false},
		"receiver cannot read ConfigMaps": {sa(devenv.ReceiverServiceAccount), "get", "configmaps", "default", false},
		"receiver cannot create events":   {sa(devenv.ReceiverServiceAccount), "create", "events.events.k8s.io", "default", false},
		"receiver cannot take leases": {
			sa(devenv.ReceiverServiceAccount),
			"create",
			"leases.coordination.k8s.io",
			devenv.Namespace,
			false,
		},
		"manager reads credentials Secrets": {sa(devenv.ManagerServiceAccount), "get", "secrets", "default", true},
		"manager lists Secrets' metadata": {
			sa(devenv.ManagerServiceAccount),
			"list",
			"secrets",
			"default",
			true,
		}, // RBAC has no metadata-only verb; no Secret data is cached
		"manager watches Secrets' metadata": {
			sa(devenv.ManagerServiceAccount),
			"watch",
			"secrets",
			"default",
			true,
		}, // a changed credentials Secret wakes its resources
		"manager cannot delete Secrets":     {sa(devenv.ManagerServiceAccount), "delete", "secrets", "default", false},
		"manager writes results ConfigMaps": {sa(devenv.ManagerServiceAccount), "create", "configmaps", "default", true},
		"manager cannot list ConfigMaps":    {sa(devenv.ManagerServiceAccount), "list", "configmaps", "default", false},
		"manager patches batch status": {
			sa(devenv.ManagerServiceAccount),
			"patch",
			"openaibatches.openai.operator.dev/status",
			"default",
			true,
		},
		"manager updates finalizers": {
			sa(devenv.ManagerServiceAccount),
			"update",
			"openaibatches.openai.operator.dev/finalizers",
			"default",
			true,
		},
		"manager watches fine-tuning jobs": {sa(devenv.ManagerServiceAccount), "watch", "openaifinetuningjobs.openai.operator.dev", "", true},
		"manager patches fine-tuning status": {
			sa(devenv.ManagerServiceAccount),
			"patch",
			"openaifinetuningjobs.openai.operator.dev/status",
			"default",
			true,
		},
		"manager updates fine-tuning finalizers": {
			sa(devenv.ManagerServiceAccount),
			"update",
			"openaifinetuningjobs.openai.operator.dev/finalizers",
			"default",
			true,
		},
		"manager cannot create fine-tuning jobs": {
			sa(devenv.ManagerServiceAccount),
			"create",
			"openaifinetuningjobs.openai.operator.dev",
			"default",
			false,
		},
		"manager cannot delete fine-tuning jobs": {
			sa(devenv.ManagerServiceAccount),
			"delete",
			"openaifinetuningjobs.openai.operator.dev",
			"default",
			false,
		},
		"manager cannot create batches":      {sa(devenv.ManagerServiceAccount), "create", "openaibatches.openai.operator.dev", "default", false},
		"manager cannot delete batches":      {sa(devenv.ManagerServiceAccount), "delete", "openaibatches.openai.operator.dev", "default", false},
		"manager emits events":               {sa(devenv.ManagerServiceAccount), "create", "events.events.k8s.io", "default", true},
		"manager takes its lease":            {sa(devenv.ManagerServiceAccount), "update", "leases.coordination.k8s.io", devenv.Namespace, true},
		"manager cannot take leases outside": {sa(devenv.ManagerServiceAccount), "update", "leases.coordination.k8s.io", "default", false},
		"manager cannot create pods":         {sa(devenv.ManagerServiceAccount), "create", "pods", "default", false},
		"manager cannot touch RBAC": {
			sa(devenv.ManagerServiceAccount),
			"create",
			"clusterrolebindings.rbac.authorization.k8s.io",
			"",
			false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource, sub, _ := strings.Cut(tc.what, "/")
			args := []string{"auth", "can-i", tc.verb, resource, "--as", tc.as}
			if sub != "" {
				args = append(args, "--subresource", sub)
			}
			if tc.ns != "" {
				args = append(args, "-n", tc.ns)
			} else {
				args = append(args, "--all-namespaces")
			}
			out, err := env.Kubectl(context.Background(), args...)
			answer := strings.TrimSpace(string(out))
			want := map[bool]string{true: "yes", false: "no"}[tc.allowed]
			if answer != want {
				t.Fatalf("kubectl %s = %q (%v), want %q", strings.Join(args, " "), answer, err, want)
			}
		})
	}
}

// TestManagerMetricsNeedAnAuthorizedToken starts a manager as deployed (HTTPS metrics,
// every scraper authenticated and authorized) next to the running one, where it stays
// the standby, and scrapes it: without a token, with a ServiceAccount token that has no
// grant, and with one bound to the install's metrics-reader ClusterRole (as the README
// tells Prometheus users to do). This also proves the manager's own RBAC lets it ask
// the API server to review tokens and access.
func TestManagerMetricsNeedAnAuthorizedToken(t *testing.T) {
	g := NewWithT(t)
	p, err := env.StartManager("manager-secure-metrics", "--metrics-secure=true")
	g.Expect(err).NotTo(HaveOccurred())
	defer p.Stop()
	url := "https://" + strings.TrimPrefix(p.MetricsURL, "http://")

	const ns = "default"
	kubectl(t, "create", "serviceaccount", "-n", ns, "prometheus")
	kubectl(t, "create", "serviceaccount", "-n", ns, "stranger")
	kubectl(
		t,
		"create",
		"clusterrolebinding",
		"e2e-prometheus-metrics",
		"--clusterrole=openai-operator-metrics-reader",
		"--serviceaccount="+ns+":prometheus",
	)
	reader := strings.TrimSpace(kubectl(t, "create", "token", "-n", ns, "prometheus"))
	stranger := strings.TrimSpace(kubectl(t, "create", "token", "-n", ns, "stranger"))

	// The manager serves a self-signed certificate unless one is mounted.
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		g.Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, _ := scrape("")
	g.Expect(code).To(Equal(http.StatusUnauthorized), "no token")
	code, _ = scrape("not-a-token")
	g.Expect(code).To(Equal(http.StatusUnauthorized), "a token the API server does not know")
	code, _ = scrape(stranger)
	g.Expect(code).To(Equal(http.StatusForbidden), "a ServiceAccount without the metrics-reader role")
	code, body := scrape(reader)
	g.Expect(code).To(Equal(http.StatusOK), body)
	g.Expect(body).To(ContainSubstring("go_goroutines"))
}
