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

package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/webhooks"

	"github.com/openai-operator/openai-operator/emulator"
)

// signedBy reports whether openai-go's verifier accepts d with secret alone.
func signedBy(d delivery, secret string) bool {
	c := openai.NewClient(option.WithAPIKey("unused"), option.WithWebhookSecret(secret))
	return c.Webhooks.VerifySignature(d.body, d.header) == nil
}

// signatures counts the "v1," entries of d's webhook-signature header.
func signatures(d delivery) int {
	return len(strings.Fields(d.header.Get("webhook-signature")))
}

func TestWebhookEndpointLifecycleThroughTheSDK(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)

	created, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{
		Name: "team-a (uid-1)", URL: "https://hooks.example.com/openai/webhook", EventTypes: []string{"batch.completed", "response.completed"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(created.ID).To(HavePrefix("whe_"))
	g.Expect(string(created.Object)).To(Equal("webhook_endpoint"))
	g.Expect(created.Name).To(Equal("team-a (uid-1)"))
	g.Expect(created.URL).To(Equal("https://hooks.example.com/openai/webhook"))
	g.Expect(created.EventTypes).To(Equal([]string{"batch.completed", "response.completed"}))
	g.Expect(created.SigningSecret).To(HavePrefix("whsec_"))
	g.Expect(created.SigningSecretHint).To(MatchRegexp(`^whsec_\S{4}\.\.\.\S{4}$`))
	g.Expect(created.SigningSecret).NotTo(ContainSubstring(created.SigningSecretHint))
	g.Expect(created.CreatedAt).To(BeNumerically(">", 0))
	g.Expect(created.UpdatedAt).To(Equal(created.CreatedAt))

	got, err := c.Webhooks.Get(ctx, created.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.ID).To(Equal(created.ID))
	g.Expect(got.SigningSecretHint).To(Equal(created.SigningSecretHint))
	g.Expect(got.RawJSON()).NotTo(ContainSubstring(created.SigningSecret), "the secret is shown only once")
	g.Expect(got.RawJSON()).NotTo(ContainSubstring(`"signing_secret"`))

	second, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "second", URL: "http://127.0.0.1:1/x", EventTypes: []string{"batch.failed"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(second.SigningSecret).NotTo(Equal(created.SigningSecret), "every endpoint has its own secret")
	var ids []string
	pager := c.Webhooks.ListAutoPaging(ctx, webhooks.WebhookListParams{Limit: openai.Int(1)})
	for pager.Next() {
		ids = append(ids, pager.Current().ID)
	}
	g.Expect(pager.Err()).NotTo(HaveOccurred())
	g.Expect(ids).To(Equal([]string{second.ID, created.ID}), "newest first, one per page")

	same, err := c.Webhooks.Update(ctx, created.ID, webhooks.WebhookUpdateParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(same.UpdatedAt).To(Equal(created.UpdatedAt), "an update that changes nothing keeps updated_at")
	time.Sleep(1100 * time.Millisecond) // updated_at has whole seconds
	updated, err := c.Webhooks.Update(ctx, created.ID, webhooks.WebhookUpdateParams{
		URL: openai.String("https://hooks.example.com/v2"), EventTypes: []string{"response.failed"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(updated.URL).To(Equal("https://hooks.example.com/v2"))
	g.Expect(updated.EventTypes).To(Equal([]string{"response.failed"}))
	g.Expect(updated.Name).To(Equal("team-a (uid-1)"))
	g.Expect(updated.UpdatedAt).To(BeNumerically(">", created.UpdatedAt))

	deleted, err := c.Webhooks.Delete(ctx, created.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(deleted.ID).To(Equal(created.ID))
	g.Expect(deleted.Deleted).To(BeTrue())
	g.Expect(string(deleted.Object)).To(Equal("webhook_endpoint.deleted"))
	_, err = c.Webhooks.Get(ctx, created.ID)
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))

	for op, n := range map[string]int64{
		emulator.OpWebhookEndpointsCreate: 2, emulator.OpWebhookEndpointsRetrieve: 2, emulator.OpWebhookEndpointsList: 2,
		emulator.OpWebhookEndpointsUpdate: 2, emulator.OpWebhookEndpointsDelete: 1,
	} {
		g.Expect(srv.Calls(op)).To(Equal(n), op)
	}
}

func TestWebhookEndpointRequestsRefused(t *testing.T) {
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))
	ctx := context.Background()
	ep, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "x", URL: "http://127.0.0.1:1/x", EventTypes: []string{"batch.completed"}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	tests := map[string]struct {
		call   func() error
		status int
		param  string
	}{
		"create without url": {func() error {
			_, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "x", EventTypes: []string{"batch.completed"}})
			return err
		}, http.StatusBadRequest, "url"},
		"create with a relative url": {func() error {
			_, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "x", URL: "/hooks", EventTypes: []string{"batch.completed"}})
			return err
		}, http.StatusBadRequest, "url"},
		"create without event types": {func() error {
			_, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "x", URL: "https://h.example.com"})
			return err
		}, http.StatusBadRequest, "event_types"},
		"create with an unknown event type": {func() error {
			_, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "x", URL: "https://h.example.com", EventTypes: []string{"batch.completed",
				"batch.exploded"}})
			return err
		}, http.StatusBadRequest, "event_types[1]"},
		"update with an empty event type list": {func() error {
			_, err := c.Webhooks.Update(ctx, ep.ID, webhooks.WebhookUpdateParams{}, option.WithJSONSet("event_types", []string{}))
			return err
		}, http.StatusBadRequest, "event_types"},
		"test without an event type": {func() error {
			_, err := c.Webhooks.Test(ctx, ep.ID, webhooks.WebhookTestParams{})
			return err
		}, http.StatusBadRequest, "event_type"},
		"get an unknown id": {func() error {
			_, err := c.Webhooks.Get(ctx, "whe_unknown")
			return err
		}, http.StatusNotFound, ""},
		"rotate an unknown id": {func() error {
			_, err := c.Webhooks.RotateSecret(ctx, "whe_unknown", webhooks.WebhookRotateSecretParams{})
			return err
		}, http.StatusNotFound, ""},
		"test an unknown id": {func() error {
			_, err := c.Webhooks.Test(ctx, "whe_unknown", webhooks.WebhookTestParams{EventType: webhooks.WebhookTestParamsEventTypeBatchCompleted})
			return err
		}, http.StatusNotFound, ""},
		"delete an unknown id": {func() error {
			_, err := c.Webhooks.Delete(ctx, "whe_unknown")
			return err
		}, http.StatusNotFound, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			aerr := apiError(g, tc.call())
			g.Expect(aerr.StatusCode).To(Equal(tc.status))
			g.Expect(aerr.Param).To(Equal(tc.param))
			g.Expect(aerr.Message).NotTo(BeEmpty())
		})
	}
}

func TestWebhookEventTypesListsEveryType(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{})
	c := client(srv)
	types, err := c.Webhooks.EventTypes.List(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(types.Data).To(Equal(emulator.WebhookEventTypes))
	g.Expect(types.Data).To(ContainElements("batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
		"response.completed", "response.failed", "response.cancelled", "response.incomplete", "eval.run.canceled"))
	g.Expect(srv.Calls(emulator.OpWebhookEventTypesList)).To(Equal(int64(1)))
}

// Each project sees only its endpoints, and an event goes to the endpoints of the
// project whose key created the object, subscribed to the event's type.
func TestWebhookEndpointsBelongToProjects(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{Projects: map[string][]string{"proj_a": {"sk-a"}, "proj_b": {"sk-b"}}})
	a, b := client(srv, option.WithAPIKey("sk-a")), client(srv, option.WithAPIKey("sk-b"))
	rcA, rcB, rcOnlyResponses := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), newReceiver(t,
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	epA, err := a.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "a", URL: rcA.URL(), EventTypes: []string{"batch.completed"}})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = a.Webhooks.New(
		ctx,
		webhooks.WebhookNewParams{Name: "a-responses", URL: rcOnlyResponses.URL(), EventTypes: []string{"response.completed"}},
	)
	g.Expect(err).NotTo(HaveOccurred())
	epB, err := b.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "b", URL: rcB.URL(), EventTypes: []string{"batch.completed"}})
	g.Expect(err).NotTo(HaveOccurred())

	_, err = b.Webhooks.Get(ctx, epA.ID)
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound), "another project's endpoint does not exist for b")
	page, err := b.Webhooks.List(ctx, webhooks.WebhookListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Data).To(ConsistOf(HaveField("ID", epB.ID)))

	const url = "/v1/chat/completions"
	batch := createBatch(ctx, g, a, url, jsonl(req("x", url, chatBody("m", "x"))))
	waitBatch(ctx, g, a, batch.ID, openai.BatchStatusCompleted)
	g.Eventually(rcA.deliveries).WithTimeout(waitFor).Should(HaveLen(1))
	d := rcA.deliveries()[0]
	g.Expect(signedBy(d, epA.SigningSecret)).To(BeTrue(), "signed with the endpoint's own secret")
	g.Expect(signedBy(d, epB.SigningSecret)).To(BeFalse())
	g.Expect(string(d.body)).To(ContainSubstring(batch.ID))
	g.Consistently(func() int { return len(rcB.deliveries()) + len(rcOnlyResponses.deliveries()) }).
		WithTimeout(300*time.Millisecond).Should(BeZero(), "no event for another project, nor for a type the endpoint did not subscribe to")
	g.Expect(srv.Projects()).To(ContainElements(
		emulator.Project{ID: "proj_a", APIKeys: 1, WebhookEndpoints: 2},
		emulator.Project{ID: "proj_b", APIKeys: 1, WebhookEndpoints: 1},
	))
}

// After a rotation that keeps the old secret, deliveries carry two "v1," signatures,
// each valid on its own, until the overlap ends; then only the new secret signs.
func TestWebhookRotationSignsWithBothSecretsDuringTheOverlap(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const overlap = 1500 * time.Millisecond
	srv := start(t, emulator.Options{RotationOverlap: overlap})
	c := client(srv)
	rc := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	ep, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "r", URL: rc.URL(), EventTypes: []string{"batch.completed"}})
	g.Expect(err).NotTo(HaveOccurred())
	old := ep.SigningSecret
	test := func() delivery {
		n := len(rc.deliveries())
		res, err := c.Webhooks.Test(ctx, ep.ID, webhooks.WebhookTestParams{EventType: webhooks.WebhookTestParamsEventTypeBatchCompleted})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.StatusCode).To(Equal(int64(http.StatusOK)))
		g.Expect(rc.deliveries()).To(HaveLen(n + 1))
		return rc.deliveries()[n]
	}

	rotated, err := c.Webhooks.RotateSecret(ctx, ep.ID, webhooks.WebhookRotateSecretParams{KeepOldSecretActiveFor24Hours: openai.Bool(true)})
	g.Expect(err).NotTo(HaveOccurred())
	rotatedAt := time.Now()
	g.Expect(rotated.SigningSecret).To(HavePrefix("whsec_"))
	g.Expect(rotated.SigningSecret).NotTo(Equal(old))
	g.Expect(rotated.SigningSecretHint).NotTo(Equal(ep.SigningSecretHint))
	d := test()
	g.Expect(time.Since(rotatedAt)).To(BeNumerically("<", overlap), "the machine was too slow to test the overlap")
	g.Expect(signatures(d)).To(Equal(2))
	g.Expect(signedBy(d, old)).To(BeTrue(), "the old secret alone verifies during the overlap")
	g.Expect(signedBy(d, rotated.SigningSecret)).To(BeTrue(), "the new secret alone verifies")
	g.Expect(srv.WebhookEndpoints()).To(ConsistOf(HaveField("ActiveSecrets", 2)))

	time.Sleep(time.Until(rotatedAt.Add(overlap)))
	d = test()
	g.Expect(signatures(d)).To(Equal(1))
	g.Expect(signedBy(d, old)).To(BeFalse(), "the old secret no longer signs after the overlap")
	g.Expect(signedBy(d, rotated.SigningSecret)).To(BeTrue())

	again, err := c.Webhooks.RotateSecret(ctx, ep.ID, webhooks.WebhookRotateSecretParams{})
	g.Expect(err).NotTo(HaveOccurred())
	d = test()
	g.Expect(signatures(d)).To(Equal(1), "without keep_old_secret_active_for_24_hours the old secret stops at once")
	g.Expect(signedBy(d, rotated.SigningSecret)).To(BeFalse())
	g.Expect(signedBy(d, again.SigningSecret)).To(BeTrue())
	g.Expect(srv.Calls(emulator.OpWebhookEndpointsRotateSecret)).To(Equal(int64(2)))
}

// Test sends one real, signed delivery of the asked type and reports the endpoint's
// answer; it is never retried.
func TestWebhookTestReportsTheEndpointsAnswer(t *testing.T) {
	tests := map[string]struct {
		answer int // 0: the endpoint is down
		want   int64
	}{
		"accepted":          {answer: http.StatusAccepted, want: http.StatusAccepted},
		"bad signature":     {answer: http.StatusUnauthorized, want: http.StatusUnauthorized},
		"not routed":        {answer: http.StatusNotFound, want: http.StatusNotFound},
		"no answer at all":  {answer: 0, want: 0},
		"receiver overload": {answer: http.StatusServiceUnavailable, want: http.StatusServiceUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			srv := start(t, emulator.Options{})
			c := client(srv)
			rc := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
			rc.respond(func(http.ResponseWriter, *http.Request, int) int { return tc.answer })
			if tc.answer == 0 {
				rc.srv.Close()
			}
			ep, err := c.Webhooks.New(ctx, webhooks.WebhookNewParams{Name: "t", URL: rc.URL(), EventTypes: []string{"batch.completed"}})
			g.Expect(err).NotTo(HaveOccurred())
			res, err := c.Webhooks.Test(ctx, ep.ID, webhooks.WebhookTestParams{EventType: webhooks.WebhookTestParamsEventTypeResponseCompleted})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.StatusCode).To(Equal(tc.want))
			g.Expect(res.Success).To(BeTrue())
			g.Expect(res.EventType).To(Equal("response.completed"), "any known type can be tested, subscribed or not")
			g.Expect(res.WebhookEndpointID).To(Equal(ep.ID))
			g.Expect(string(res.Object)).To(Equal("webhook_endpoint.test"))

			rec := srv.Stats().Webhooks
			g.Expect(rec).To(ConsistOf(And(HaveField("Test", true), HaveField("Attempts", 1), HaveField("EndpointID", ep.ID),
				HaveField("LastStatus", int(tc.want)), HaveField("Type", "response.completed"))))
			if tc.answer == 0 {
				return
			}
			g.Expect(rc.deliveries()).To(HaveLen(1))
			d := rc.deliveries()[0]
			g.Expect(signedBy(d, ep.SigningSecret)).To(BeTrue())
			g.Expect(d.header.Get("User-Agent")).To(Equal(emulator.WebhookUserAgent))
			var body struct {
				Object string            `json:"object"`
				Type   string            `json:"type"`
				Data   map[string]string `json:"data"`
			}
			g.Expect(json.Unmarshal(d.body, &body)).To(Succeed())
			g.Expect(body.Object).To(Equal("event"))
			g.Expect(body.Type).To(Equal("response.completed"))
			g.Expect(body.Data["id"]).To(HavePrefix("resp_"))
			g.Consistently(rc.deliveries).WithTimeout(200*time.Millisecond).Should(HaveLen(1), "a test is never retried")
		})
	}
}

func TestControlAPIAddsProjectsAndKeys(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{})
	post := func(body string) int {
		resp, err := http.Post(srv.ControlURL()+"projects", "application/json", bytes.NewBufferString(body))
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	c := client(srv, option.WithAPIKey("sk-new"), option.WithMaxRetries(0))
	_, err := c.Webhooks.EventTypes.List(context.Background())
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusUnauthorized))

	g.Expect(post(`{"id":"proj_new","api_keys":["sk-new"]}`)).To(Equal(http.StatusOK))
	_, err = c.Webhooks.EventTypes.List(context.Background())
	g.Expect(err).NotTo(HaveOccurred(), "a key added at run time acts for its project")
	_, err = c.Webhooks.New(context.Background(), webhooks.WebhookNewParams{Name: "n", URL: "https://h.example.com",
		EventTypes: []string{"batch.completed"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.WebhookEndpoints()).To(ConsistOf(HaveField("Project", "proj_new")))

	g.Expect(post(`{"id":"proj_other","api_keys":["sk-new"]}`)).To(Equal(http.StatusBadRequest), "a key belongs to one project")
	g.Expect(post(`{"id":"bad id","api_keys":["sk-x"]}`)).To(Equal(http.StatusBadRequest))
	g.Expect(srv.Projects()).To(ContainElement(emulator.Project{ID: "proj_new", APIKeys: 1, WebhookEndpoints: 1}))
}
