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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/devenv"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// newAPIKey returns a fresh key shaped like an OpenAI project key.
func newAPIKey() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "sk-proj-" + string(b)
}

// needle is a secret, or a recognisable piece of one, that must appear nowhere.
type needle struct {
	what  string // described without its value
	value string
}

// needles returns each secret whole and its first, middle and last 12 characters.
func needles(secrets map[string]string) []needle {
	var out []needle
	for what, v := range secrets {
		out = append(out, needle{what, v})
		if len(v) > 12 {
			mid := (len(v) - 12) / 2
			out = append(out,
				needle{what + " (first 12 characters)", v[:12]},
				needle{what + " (middle 12 characters)", v[mid : mid+12]},
				needle{what + " (last 12 characters)", v[len(v)-12:]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].what < out[j].what })
	return out
}

// leak is where a needle was found.
type leak struct {
	what, source string
	line         int
}

// search returns every place in sources (by name) that holds one of needles.
func search(sources map[string][]byte, ns []needle) []leak {
	var out []leak
	for name, data := range sources {
		for i, line := range bytes.Split(data, []byte("\n")) {
			for _, n := range ns {
				if bytes.Contains(line, []byte(n.value)) {
					out = append(out, leak{what: n.what, source: name, line: i + 1})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].source+out[i].what < out[j].source+out[j].what })
	return out
}

// hygiene is what a secret scan covered.
type hygiene struct {
	sources, lines, bytes, needles int
	leaks                          []leak
}

// scanForSecrets collects everything the operator wrote where people or tools can read
// it (every log line of the manager, receiver and emulator processes, every Event, every
// OpenAIBatch, OpenAIResponse and OpenAIFineTuningJob with its status and error
// messages, the results
// ConfigMaps, the metrics, the emulator's delivery records) and searches it for the
// environment's secrets and extra ones (the values of more).
func (h *harness) scanForSecrets(more map[string]string) hygiene {
	t := h.t
	t.Helper()
	secrets := map[string]string{
		"the API key":                         h.apiKey,
		"the devenv API key":                  devenv.APIKey,
		"the webhook signing secret":          h.WebhookSecret,
		"the webhook signing key (base64)":    strings.TrimPrefix(h.WebhookSecret, standardwebhooks.SecretPrefix),
		"the webhook signing key (raw bytes)": string(rawKey(h.WebhookSecret)),
		"the webhook signing key (hex)":       hex.EncodeToString(rawKey(h.WebhookSecret)),
	}
	for k, v := range more {
		secrets[k] = v
	}
	sources := map[string][]byte{}
	logs, _ := filepath.Glob(filepath.Join(h.dir, "*.log"))
	for _, p := range logs {
		if base := filepath.Base(p); strings.HasPrefix(base, "kube-apiserver") {
			continue // the API server's own log, not the operator's
		}
		if b, err := os.ReadFile(p); err == nil {
			sources["log "+filepath.Base(p)] = b
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := h.ControlPlane.Client
	for name, list := range map[string]client.ObjectList{
		"Events (events.k8s.io)": &eventsv1.EventList{},
		"Events (core)":          &corev1.EventList{},
		"OpenAIBatches":          &openaiv1alpha1.OpenAIBatchList{},
		"OpenAIResponses":        &openaiv1alpha1.OpenAIResponseList{},
		"OpenAIFineTuningJobs":   &openaiv1alpha1.OpenAIFineTuningJobList{},
		"ConfigMaps":             &corev1.ConfigMapList{},
	} {
		if err := c.List(ctx, list); err != nil {
			t.Errorf("secret scan: listing %s: %v", name, err)
			continue
		}
		b, _ := json.MarshalIndent(list, "", " ")
		sources[name] = b
	}
	for name, p := range h.Processes() {
		if p.Running() && p.MetricsURL != "" {
			sources["metrics of "+name] = []byte(scrape(t, p.MetricsURL))
		}
	}
	if p := h.Processes()["webhook-receiver"]; p != nil && p.Running() {
		sources["metrics of webhook-receiver"] = []byte(scrape(t, h.ReceiverMetricsURL()))
	}
	if p := h.Processes()["openai-emulator"]; p != nil && p.Running() {
		b, _ := json.Marshal(h.emulatorStats())
		sources["emulator stats"] = b
	}
	hy := hygiene{sources: len(sources)}
	for _, b := range sources {
		hy.bytes += len(b)
		hy.lines += bytes.Count(b, []byte("\n")) + 1
	}
	ns := needles(secrets)
	hy.needles = len(ns)
	hy.leaks = search(sources, ns)
	return hy
}

// rawKey is the signing key a whsec_ secret encodes.
func rawKey(secret string) []byte {
	b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, standardwebhooks.SecretPrefix))
	return b
}

// reportLeaks fails t for every leak, naming the secret and where, never its value.
func reportLeaks(t *testing.T, hy hygiene) {
	t.Helper()
	for i, l := range hy.leaks {
		if i == 20 {
			t.Errorf("... %d leaks in all", len(hy.leaks))
			break
		}
		t.Errorf("secret leak: %s appears in %s, line %d", l.what, l.source, l.line)
	}
}

// TestSecretsNeverLeak runs the operator end to end with a known API key and signing
// secret, through the paths that produce messages: resources that complete (a
// fine-tuning job among them), a batch with a failing request, a batch that fails on
// OpenAI, resources whose credentials Secret holds a wrong key (OpenAI answers 401 and
// echoes a masked key) or none, a batch deleted while it runs, and
// webhook requests with bad signatures or stale timestamps. Every process logs at debug
// level. Then every log line, Event, resource (status and messages included), results
// ConfigMap, metric and emulator record is searched for every secret, whole and by
// fragments (first, middle and last 12 characters): none is found. The search itself is
// checked first on a planted secret. (Every other devenv test runs the same search on
// its own environment when it ends.)
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	rec := record(t)
	const ns = "hygiene"
	h := up(t, envOptions{timeScale: 0.1, namespaces: []string{ns}, managerArgs: fastPolls})
	c := h.ControlPlane.Client
	wrongKey := newAPIKey()

	// The search finds what it looks for.
	planted := map[string][]byte{"planted": []byte("line one\nmessage: OpenAI answered 401: key " + wrongKey[:12] + "...\n")}
	if got := search(planted, needles(map[string]string{"the wrong key": wrongKey})); len(got) != 1 || got[0].line != 2 {
		t.Fatalf("the search does not find a planted fragment: %v", got)
	}

	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wrong-key"}, StringData: map[string]string{"apiKey": wrongKey}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-key"}, StringData: map[string]string{"organization": "org-test"}},
	} {
		if err := c.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	n := size.hygieneResources
	var objs []client.Object
	var good []client.Object
	for i := range n {
		b := newBatch(ns, fmt.Sprintf("ok-batch-%d", i), 2)
		b.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindConfigMap, Name: b.Name + "-results"}
		r := newResponse(ns, fmt.Sprintf("ok-response-%d", i))
		good = append(good, b, r)
	}
	objs = append(objs, good...)
	// One request fails (in the error file), the batch completes.
	partial := newBatch(ns, "request-fails", 2)
	partial.Spec.Input.Requests[0].Body = runtime.RawExtension{Raw: []byte(`{"model":"emulator-fail","input":"x"}`)}
	// Two models in one batch: OpenAI fails the batch in validation.
	failing := newBatch(ns, "fails-on-openai", 2)
	failing.Spec.Input.Requests[1].Body = runtime.RawExtension{Raw: []byte(`{"model":"text-embedding-3-large","input":"x"}`)}
	wrongBatch := newBatch(ns, "wrong-key-batch", 1)
	wrongBatch.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "wrong-key"}
	wrongResponse := newResponse(ns, "wrong-key-response")
	wrongResponse.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "wrong-key"}
	noKey := newResponse(ns, "no-key-response")
	noKey.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "no-key"}
	hang := newBatch(ns, "deleted-while-running", 1)
	hang.Spec.Input.Requests[0].Body = runtime.RawExtension{Raw: []byte(`{"model":"emulator-hang","input":"x"}`)}
	hang.Spec.CancelOnDelete = ptr.To(true)
	fineTuned := newFineTuningJob(ns, "ok-finetune")
	fineTuned.Spec.Results = &openaiv1alpha1.ResultsTarget{Name: "ok-finetune-model"}
	wrongFineTune := newFineTuningJob(ns, "wrong-key-finetune")
	wrongFineTune.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "wrong-key"}
	objs = append(objs, partial, failing, wrongBatch, wrongResponse, noKey, hang, fineTuned, wrongFineTune)
	createAll(t, c, objs)

	// Webhook requests that must be refused, and one that is accepted.
	secret, err := standardwebhooks.ParseSecret(h.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	other := standardwebhooks.NewSecret(randomBytes(32))
	body := eventBody("evt_hygiene", "batch.completed", time.Now(), "batch_unknown")
	for _, q := range []*hostileRequest{
		signed(other, "wh_other", time.Now(), body),
		signed(secret, "wh_stale", time.Now().Add(-time.Hour), body),
		signed(secret, "wh_ok", time.Now(), body),
	} {
		if _, err := send(httpClient, h.ReceiverURL, q); err != nil {
			t.Fatalf("sending a webhook request: %v", err)
		}
	}

	// Outcomes: the good ones complete, the one OpenAI fails fails, those with a wrong
	// key wait (OpenAI refused the key, not the work), the deleted one goes.
	waitFor(t, 2*time.Minute, "the outcomes", func() (bool, string) {
		p, err := readProgress(c, ns)
		if err != nil {
			return false, err.Error()
		}
		refused := 0
		for _, o := range []client.Object{&openaiv1alpha1.OpenAIBatch{}, &openaiv1alpha1.OpenAIResponse{}} {
			key := client.ObjectKeyFromObject(wrongBatch)
			if _, ok := o.(*openaiv1alpha1.OpenAIResponse); ok {
				key = client.ObjectKeyFromObject(wrongResponse)
			}
			if c.Get(context.Background(), key, o) == nil && credentialsRefused(o) {
				refused++
			}
		}
		return p.complete >= len(good)+1 && p.failed >= 1 && refused == 2, fmt.Sprintf("%s, %d of 2 refused keys reported", p, refused)
	})
	waitFor(t, time.Minute, "the hanging batch to be submitted", func() (bool, string) {
		err := c.Get(context.Background(), client.ObjectKeyFromObject(hang), hang)
		return err == nil && hang.Status.BatchID != "", string(hang.Status.Phase)
	})
	if err := c.Delete(context.Background(), hang); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the deleted batch to go", func() (bool, string) {
		err := c.Get(context.Background(), client.ObjectKeyFromObject(hang), &openaiv1alpha1.OpenAIBatch{})
		return client.IgnoreNotFound(err) == nil && err != nil, fmt.Sprint(err)
	})
	// The fine-tuning job succeeds; the one with the wrong key waits, saying why (a 401 on
	// a create is about access, not the work: it does not end the resource).
	waitFor(t, 2*time.Minute, "the fine-tuning jobs", func() (bool, string) {
		var ok, wrong openaiv1alpha1.OpenAIFineTuningJob
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(fineTuned), &ok); err != nil {
			return false, err.Error()
		}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(wrongFineTune), &wrong); err != nil {
			return false, err.Error()
		}
		creds := meta.FindStatusCondition(wrong.Status.Conditions, openaiv1alpha1.ConditionCredentialsReady)
		return ok.Status.Phase == openaiv1alpha1.FineTuningPhaseSucceeded && creds != nil && creds.Reason == openaiv1alpha1.ReasonUnauthorized &&
			strings.Contains(creds.Message, "401"), fmt.Sprintf("%s, %s %v", ok.Status.Phase, wrong.Status.Phase, creds)
	})
	var wrong openaiv1alpha1.OpenAIBatch
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(wrongBatch), &wrong); err != nil {
		t.Fatal(err)
	}
	wrongKeyMessage := ""
	if cond := meta.FindStatusCondition(wrong.Status.Conditions, openaiv1alpha1.ConditionCredentialsReady); cond != nil {
		wrongKeyMessage = cond.Message
	}
	if !strings.Contains(wrongKeyMessage, "401") {
		t.Errorf("the batch with a wrong key does not say OpenAI refused it: %q", wrongKeyMessage)
	}

	hy := h.scanForSecrets(map[string]string{"the wrong API key": wrongKey})
	reportLeaks(t, hy)
	h.scanned = true
	rec.setup("secrets searched (whole and 12-character fragments)", hy.needles)
	rec.add("sources searched (logs, Events, resources, ConfigMaps, metrics, emulator records)", hy.sources)
	rec.add("lines searched", hy.lines)
	rec.add("bytes searched", hy.bytes)
	rec.add("leaks found", len(hy.leaks))
	rec.add("CredentialsReady message of the batch with a wrong key", wrongKeyMessage)
}

// credentialsRefused reports whether a resource says OpenAI refused its key.
func credentialsRefused(o client.Object) bool {
	var conds []metav1.Condition
	switch r := o.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		conds = r.Status.Conditions
	case *openaiv1alpha1.OpenAIResponse:
		conds = r.Status.Conditions
	}
	c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionCredentialsReady)
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == openaiv1alpha1.ReasonUnauthorized
}

// newFineTuningJob builds an OpenAIFineTuningJob of gpt-4o-mini trained on ten inline
// chat examples.
func newFineTuningJob(ns, name string) *openaiv1alpha1.OpenAIFineTuningJob {
	j := &openaiv1alpha1.OpenAIFineTuningJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       openaiv1alpha1.OpenAIFineTuningJobSpec{Model: "gpt-4o-mini"},
	}
	for i := range 10 {
		j.Spec.TrainingData.Examples = append(j.Spec.TrainingData.Examples, runtime.RawExtension{Raw: []byte(fmt.Sprintf(
			`{"messages":[{"role":"user","content":"question %d"},{"role":"assistant","content":"answer %d"}]}`, i, i))})
	}
	return j
}

// waitFor polls cond until it holds or timeout passes; cond also describes the state.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: still %s after %s", what, state, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
