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

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/openai-operator/openai-operator/internal/devenv"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// A second emulated project for TestWebhookEndpointEndToEnd, and the rotation overlap
// both the emulator and the manager use here (24 h in production).
const (
	webhookProject    = "proj_e2e"
	webhookProjectKey = "sk-e2e-webhooks"
	rotationOverlap   = 8 * time.Second
)

// endpointStatus is the part of an OpenAIWebhookEndpoint's status the test reads.
type endpointStatus struct {
	EndpointID        string   `json:"endpointID"`
	URL               string   `json:"url"`
	EventTypes        []string `json:"eventTypes"`
	SigningSecretHint string   `json:"signingSecretHint"`
	ReceiverSecretKey string   `json:"receiverSecretKey"`
	SecretWrittenAt   string   `json:"secretWrittenAt"`
	LastRotation      *struct {
		Count                   int64  `json:"count"`
		Reason                  string `json:"reason"`
		PreviousSecretExpiresAt string `json:"previousSecretExpiresAt"`
	} `json:"lastRotation"`
	LastTest *struct {
		Time       string `json:"time"`
		StatusCode int    `json:"statusCode"`
	} `json:"lastTest"`
	Conditions []struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	} `json:"conditions"`
}

// The namespace and name of TestWebhookEndpointEndToEnd's OpenAIWebhookEndpoint.
const hooksNamespace, hooksName = "e2e-webhooks", "hooks"

// hooksStatus returns the status of TestWebhookEndpointEndToEnd's endpoint.
func hooksStatus(t *testing.T) endpointStatus {
	t.Helper()
	var st endpointStatus
	out := kubectl(t, "get", "-n", hooksNamespace, "openaiwebhookendpoint/"+hooksName, "-o", "jsonpath={.status}")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("decoding the status: %v", err)
	}
	return st
}

func (st endpointStatus) condition(typ string) string {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// receiverSecret returns the receiver's Secret's data, read as cluster admin.
func receiverSecret(t *testing.T) map[string]string {
	t.Helper()
	var data map[string]string
	out := kubectl(t, "get", "-n", devenv.Namespace, "secret", devenv.SigningSecretName, "-o", "jsonpath={.data}")
	if err := json.Unmarshal([]byte(out), &data); err != nil {
		t.Fatalf("decoding the receiver's Secret: %v", err)
	}
	for k, v := range data {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		data[k] = string(raw)
	}
	return data
}

// deliver posts an event signed with secret alone to the receiver and returns the status.
func deliver(t *testing.T, secret string) int {
	t.Helper()
	s, err := standardwebhooks.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	id := fmt.Sprintf("wh_e2e_%d", now.UnixNano())
	body := []byte(fmt.Sprintf(`{"id":"evt_e2e_%d","object":"event","created_at":%d,"type":"batch.completed",`+
		`"data":{"id":"batch_e2e_unknown"}}`, now.UnixNano(), now.Unix()))
	req, err := http.NewRequest(http.MethodPost, env.ReceiverURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	standardwebhooks.Headers{ID: id, Timestamp: fmt.Sprint(now.Unix()), Signature: s.Sign(id, now, body)}.Set(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// emulatorEndpoints lists the emulator's webhook endpoints of every project.
func emulatorEndpoints(t *testing.T) []map[string]any {
	t.Helper()
	resp, err := http.Get(env.EmulatorControlURL + "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The whole life of an OpenAIWebhookEndpoint with the real binaries under their
// ServiceAccounts: applied with kubectl, Verified by a test delivery through the real
// receiver, a batch of its project completes by its webhook, a rotation keeps both
// secrets accepted during the overlap and refuses the old one after, and deletion
// removes the endpoint on OpenAI and the keys. The receiver reads the Secret through
// the mounted-file path here (devenv projects the Secret into its directory every
// 250 ms, as the kubelet does at its own pace, and the receiver re-reads the directory
// every 5 s); the time a new secret takes to be accepted is measured and logged.
func TestWebhookEndpointEndToEnd(t *testing.T) {
	g := NewWithT(t)
	const ns, name = hooksNamespace, hooksName
	kubectl(t, "create", "namespace", ns)
	kubectl(t, "create", "secret", "generic", devenv.CredentialsSecretName, "-n", ns, "--from-literal=apiKey="+webhookProjectKey)
	dir := t.TempDir()
	apply := func(manifest string) {
		t.Helper()
		f := filepath.Join(dir, "m.yaml")
		g.Expect(os.WriteFile(f, []byte(manifest), 0o600)).To(Succeed())
		kubectl(t, "apply", "-n", ns, "-f", f)
	}
	apply(`
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIWebhookEndpoint
metadata:
  name: hooks
spec:
  rotation:
    every: 720h
`)
	kubectl(t, "wait", "-n", ns, "--for=condition=Verified", "--timeout=90s", "openaiwebhookendpoint/"+name)
	st := hooksStatus(t)
	g.Expect(st.condition("Ready")).To(Equal("True"))
	g.Expect(st.EndpointID).To(HavePrefix("whe_"))
	g.Expect(st.URL).To(Equal(env.ReceiverURL), "the manager's --webhook-receiver-url is the default")
	g.Expect(st.ReceiverSecretKey).To(Equal(ns + "_" + name))
	g.Expect(st.LastTest.StatusCode).To(BeNumerically(">=", 200))
	g.Expect(st.LastTest.StatusCode).To(BeNumerically("<", 300))
	table := kubectl(t, "get", "oaiwh", "-n", ns)
	g.Expect(table).To(MatchRegexp(`hooks\s+whe_\S+\s+http://127.0.0.1:\d+/openai/webhook\s+True\s+True`))
	first := receiverSecret(t)[ns+"_"+name]
	g.Expect(first).To(HavePrefix("whsec_"))
	g.Expect(kubectl(t, "get", "-n", ns, "openaiwebhookendpoint/"+name, "-o", "yaml")).NotTo(ContainSubstring(strings.TrimPrefix(first, "whsec_")))
	var ours []map[string]any
	for _, ep := range emulatorEndpoints(t) {
		if ep["project"] == webhookProject {
			ours = append(ours, ep)
		}
	}
	g.Expect(ours).To(HaveLen(1), "one endpoint in the project of the namespace's key")
	g.Expect(ours[0]["id"]).To(Equal(st.EndpointID))

	// A batch of this project completes by the endpoint's webhook.
	apply(`
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIBatch
metadata:
  name: by-webhook
spec:
  endpoint: /v1/embeddings
  input:
    requests:
      - {customID: a, body: {model: text-embedding-3-small, input: hello}}
`)
	kubectl(t, "wait", "-n", ns, "--for=condition=Complete", "--timeout=60s", "openaibatch/by-webhook")
	g.Eventually(func() string {
		return kubectl(t, "get", "-n", ns, "openaibatch/by-webhook", "-o", "jsonpath={.status.lastWebhookEvent.type}")
	}, 30*time.Second, 200*time.Millisecond).Should(Equal("batch.completed"))

	// Rotation on request: during the overlap the old secret is still accepted, and the
	// new one as soon as the receiver has loaded it.
	kubectl(t, "annotate", "-n", ns, "openaiwebhookendpoint/"+name, "openai.operator.dev/rotate-requested-at=e2e-1")
	g.Eventually(func() int64 {
		if r := hooksStatus(t).LastRotation; r != nil {
			return r.Count
		}
		return 0
	}, 30*time.Second, 100*time.Millisecond).Should(Equal(int64(1)))
	st = hooksStatus(t)
	g.Expect(st.LastRotation.Reason).To(Equal("Requested"))
	keys := receiverSecret(t)
	second := keys[ns+"_"+name]
	g.Expect(second).NotTo(Equal(first))
	g.Expect(keys[ns+"_"+name+"_previous"]).To(Equal(first))
	written, err := time.Parse(time.RFC3339Nano, st.SecretWrittenAt)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(deliver(t, first)).To(BeNumerically("<", 300), "the old secret is accepted during the overlap")
	g.Eventually(func() int { return deliver(t, second) }, 20*time.Second, 50*time.Millisecond).Should(BeNumerically("<", 300))
	pickup := time.Since(written)
	t.Logf(
		"a rotated secret was accepted by the receiver %s after the manager wrote it (mounted-file path: %s projection + the receiver's 5 s re-read)",
		pickup.Round(10*time.Millisecond),
		devenv.ProjectionInterval,
	)
	g.Expect(pickup).To(BeNumerically("<", 10*time.Second))

	// After the overlap: the old secret is refused, the new one alone is tested.
	g.Eventually(func() string { return hooksStatus(t).LastRotation.PreviousSecretExpiresAt }, 30*time.Second,
		200*time.Millisecond).Should(BeEmpty())
	g.Expect(receiverSecret(t)).NotTo(HaveKey(ns + "_" + name + "_previous"))
	g.Eventually(func() int { return deliver(t, first) }, 20*time.Second, 100*time.Millisecond).Should(Equal(http.StatusUnauthorized))
	g.Expect(deliver(t, second)).To(BeNumerically("<", 300))
	g.Eventually(func() string { return hooksStatus(t).condition("Verified") }, 30*time.Second,
		200*time.Millisecond).Should(Equal("True"))

	// Deletion removes the endpoint on OpenAI and the keys.
	kubectl(t, "delete", "-n", ns, "openaiwebhookendpoint/"+name, "--timeout=60s")
	for _, ep := range emulatorEndpoints(t) {
		g.Expect(ep["id"]).NotTo(Equal(st.EndpointID))
	}
	g.Expect(receiverSecret(t)).NotTo(HaveKey(ns + "_" + name))
	g.Eventually(func() string {
		return kubectl(t, "get", "-n", ns, "events", "--field-selector", "involvedObject.name="+name, "-o", "jsonpath={.items[*].reason}")
	}, 10*time.Second, 200*time.Millisecond).Should(And(ContainSubstring("Created"), ContainSubstring("Verified"),
		ContainSubstring("Rotated"), ContainSubstring("Deleted")))
}

// What the ServiceAccounts may do with OpenAIWebhookEndpoint and the receiver's Secret,
// asked of the real install's RBAC by impersonation. (The manager's ClusterRole lists and
// watches Secrets everywhere, for the metadata watch of credentials Secrets: see
// TestServiceAccountsHaveLeastPrivilege; the receiver's Secret adds no verb to that.)
func TestWebhookEndpointRBAC(t *testing.T) {
	sa := func(name string) string { return "system:serviceaccount:" + devenv.Namespace + ":" + name }
	manager, receiver := sa(devenv.ManagerServiceAccount), sa(devenv.ReceiverServiceAccount)
	secret := "secrets/" + devenv.SigningSecretName
	endpoints := "openaiwebhookendpoints.openai.operator.dev"
	cases := map[string]struct {
		as, verb, what, sub, ns string
		allowed                 bool
	}{
		"manager reads the receiver's Secret":         {as: manager, verb: "get", what: secret, ns: devenv.Namespace, allowed: true},
		"manager updates the receiver's Secret":       {as: manager, verb: "update", what: secret, ns: devenv.Namespace, allowed: true},
		"manager cannot delete the receiver's Secret": {as: manager, verb: "delete", what: secret, ns: devenv.Namespace},
		"manager watches webhook endpoints":           {as: manager, verb: "watch", what: endpoints, allowed: true},
		"manager patches webhook endpoint status":     {as: manager, verb: "patch", what: endpoints, sub: "status", ns: "default", allowed: true},
		"manager updates their finalizers": {
			as:      manager,
			verb:    "update",
			what:    endpoints,
			sub:     "finalizers",
			ns:      "default",
			allowed: true,
		},
		"manager cannot create webhook endpoints": {as: manager, verb: "create", what: endpoints, ns: "default"},
		"manager cannot delete webhook endpoints": {as: manager, verb: "delete", what: endpoints, ns: "default"},
		"receiver cannot read webhook endpoints":  {as: receiver, verb: "get", what: endpoints, ns: "default"},
		"receiver cannot write their status":      {as: receiver, verb: "patch", what: endpoints, sub: "status", ns: "default"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"auth", "can-i", tc.verb, tc.what, "--as", tc.as}
			if tc.sub != "" {
				args = append(args, "--subresource", tc.sub)
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
