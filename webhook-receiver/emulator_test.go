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
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// emulatorCall sends one authenticated API call to the emulator and decodes the object
// it answers with.
func emulatorCall(t *testing.T, em *emulator.Server, path, contentType string, body []byte) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, em.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+emulator.DefaultAPIKey)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %v %v", path, resp.StatusCode, out, err)
	}
	return out
}

// startEmulatorBatch uploads a one-request input file and creates a batch, as the
// controller does, and returns the batch id.
func startEmulatorBatch(t *testing.T, em *emulator.Server) string {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("purpose", "batch")
	fw, _ := mw.CreateFormFile("file", "input.jsonl")
	_, _ = fw.Write(
		[]byte(`{"custom_id":"one","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"hello"}}` + "\n"),
	)
	_ = mw.Close()
	file := emulatorCall(t, em, "files", mw.FormDataContentType(), form.Bytes())
	body, _ := json.Marshal(map[string]any{"input_file_id": file["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"})
	batch := emulatorCall(t, em, "batches", "application/json", body)
	id, _ := batch["id"].(string)
	if id == "" {
		t.Fatalf("the emulator returned no batch id: %v", batch)
	}
	return id
}

// deliveryFor returns the emulator's record of the webhook delivery about objectID.
func deliveryFor(em *emulator.Server, objectID string) (emulator.WebhookDelivery, bool) {
	for _, d := range em.Stats().Webhooks {
		if d.DataID == objectID {
			return d, true
		}
	}
	return emulator.WebhookDelivery{}, false
}

// TestEmulatorDeliveriesReachStatus runs batches on the OpenAI emulator, which signs
// and delivers their webhook events (each one twice) to a running receiver. One
// OpenAIBatch records its batch id before the batch ends; the other only after the
// event arrived. Both end up with the event in status.lastWebhookEvent.
func TestEmulatorDeliveriesReachStatus(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ns := newNamespace(t, e.Client)
	em, err := emulator.Start(emulator.Options{TimeScale: 1, Seed: 7, Faults: emulator.Faults{WebhookDuplicateRate: 1}})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(em.Close)
	sec, err := standardwebhooks.ParseSecret(em.WebhookSecret())
	g.Expect(err).NotTo(HaveOccurred())
	r := startReceiver(t, e.Config, Options{Namespace: ns, Secrets: StaticSecrets{sec}})
	em.AddWebhookURL(url(r))

	// The usual order: the controller records the id while OpenAI runs the batch (about
	// 3 s at TimeScale 1), and the receiver's cache sees it before the batch ends.
	onTime := startEmulatorBatch(t, em)
	late := startEmulatorBatch(t, em)
	first := newBatch(ns, "on-time", onTime)
	create(t, e.Client, first)

	// The other batch ends before its id is recorded: the receiver holds the event.
	g.Eventually(func() int { d, _ := deliveryFor(em, late); return d.Delivered }, 30*time.Second, 20*time.Millisecond).
		Should(Equal(2), "both copies answered")
	second := newBatch(ns, "late", "")
	create(t, e.Client, second)
	withID := second.DeepCopy()
	withID.Status.BatchID = late
	setStatus(t, e.Client, second, withID)

	for _, c := range []struct {
		obj *openaiv1alpha1.OpenAIBatch
		id  string
	}{{first, onTime}, {second, late}} {
		g.Eventually(func(g Gomega) {
			d, ok := deliveryFor(em, c.id)
			g.Expect(ok).To(BeTrue())
			got := lastEvent(g, e.Client, c.obj)
			g.Expect(got).NotTo(BeNil())
			g.Expect(got.ID).To(Equal(d.EventID))
			g.Expect(got.Type).To(Equal("batch.completed"))
		}, 30*time.Second, 20*time.Millisecond).Should(Succeed(), "batch %s", c.id)
	}

	m := r.Metrics()
	g.Eventually(func() float64 { return events(m, "batch.completed", OutcomeAccepted) }).Should(Equal(2.0))
	g.Expect(events(m, "batch.completed", OutcomeEarly)).To(Equal(1.0))
	g.Expect(events(m, "batch.completed", OutcomeDuplicate)).To(Equal(2.0), "each delivery was sent twice")
	g.Expect(events(m, "batch.completed", OutcomeWriteError)).To(BeZero())
	for _, d := range em.Stats().Webhooks {
		g.Expect(d.State).To(Equal(emulator.DeliveryDelivered))
		g.Expect(d.Attempts).To(Equal(2))
		g.Expect(d.Delivered).To(Equal(2))
	}
	onTimeDelivery, _ := deliveryFor(em, onTime)
	lateDelivery, _ := deliveryFor(em, late)
	g.Expect(onTimeDelivery.LastStatus).To(Equal(http.StatusOK))
	g.Expect(lateDelivery.LastStatus).To(Equal(http.StatusAccepted))
}
