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
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/openai-operator/openai-operator/emulator"
)

// deliveriesTo returns the stats records of one endpoint.
func deliveriesTo(srv *emulator.Server, endpoint string) []emulator.WebhookDelivery {
	var out []emulator.WebhookDelivery
	for _, d := range srv.Stats().Webhooks {
		if d.Endpoint == endpoint {
			out = append(out, d)
		}
	}
	return out
}

func TestWebhookEventForEveryTerminalTransition(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// 24 h scales to 864 ms, so a batch can expire within the test.
	srv := start(t, emulator.Options{TimeScale: 0.00001})
	a, b := newReceiver(t, srv.WebhookSecret()), newReceiver(t, srv.WebhookSecret())
	srv.AddWebhookURL(a.URL())
	srv.AddWebhookURL(b.URL())
	c := client(srv)
	const url = "/v1/chat/completions"

	var want []string
	completed := createBatch(ctx, g, c, url, jsonl(req("a", url, chatBody("m", "x"))))
	failed := createBatch(ctx, g, c, url, "not json\n")
	toCancel := createBatch(ctx, g, c, url, jsonl(req("a", url, chatBody(emulator.ModelHang, "x"))))
	_, err := c.Batches.Cancel(ctx, toCancel.ID)
	g.Expect(err).NotTo(HaveOccurred())
	expired := createBatch(ctx, g, c, url, jsonl(req("a", url, chatBody(emulator.ModelHang, "x"))))
	want = append(want, "batch.completed "+completed.ID, "batch.failed "+failed.ID, "batch.cancelled "+toCancel.ID, "batch.expired "+expired.ID)

	for typ, p := range map[string]responses.ResponseNewParams{
		"response.completed": background("gpt-5", "x"),
		"response.failed":    background(emulator.ModelFail, "x"),
		"response.incomplete": func() responses.ResponseNewParams {
			p := background("gpt-5", string(make([]byte, 200)))
			p.MaxOutputTokens = openai.Int(16)
			return p
		}(),
	} {
		r, err := c.Responses.New(ctx, p)
		g.Expect(err).NotTo(HaveOccurred())
		want = append(want, typ+" "+r.ID)
	}
	hanging, err := c.Responses.New(ctx, background(emulator.ModelHang, "x"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Responses.Cancel(ctx, hanging.ID)
	g.Expect(err).NotTo(HaveOccurred())
	want = append(want, "response.cancelled "+hanging.ID)

	for _, rc := range []*receiver{a, b} {
		g.Eventually(rc.events).WithTimeout(waitFor).WithPolling(5 * time.Millisecond).Should(ConsistOf(want))
		for _, d := range rc.deliveries() {
			g.Expect(d.verifyErr).NotTo(HaveOccurred())
			g.Expect(d.header.Get("User-Agent")).To(Equal(emulator.WebhookUserAgent))
			g.Expect(d.header.Get("Content-Type")).To(Equal("application/json"))
			g.Expect(d.webhookID).To(HavePrefix("wh_"))
			var body map[string]json.RawMessage
			g.Expect(json.Unmarshal(d.body, &body)).To(Succeed())
			g.Expect(body).To(HaveLen(5), "id, object, created_at, type and data only")
			g.Expect(string(body["object"])).To(Equal(`"event"`))
			g.Expect(string(body["id"])).To(HavePrefix(`"evt_`))
			g.Expect(string(body["data"])).To(MatchRegexp(`^\{"id":"(batch|resp)_[0-9a-f]+"\}$`))
		}
	}
	g.Eventually(func() []string {
		var states []string
		for _, d := range srv.Stats().Webhooks {
			states = append(states, d.State)
		}
		return states
	}).Should(HaveEach(emulator.DeliveryDelivered))
	g.Expect(srv.Stats().Webhooks).To(HaveLen(2 * len(want)))
}

func TestWebhookRetriesKeepTheWebhookID(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	rc := newReceiver(t, srv.WebhookSecret())
	rc.respond(func(_ http.ResponseWriter, _ *http.Request, n int) int {
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	srv.AddWebhookURL(rc.URL())
	c := client(srv)
	r, err := c.Responses.New(ctx, background("gpt-5", "x"))
	g.Expect(err).NotTo(HaveOccurred())

	g.Eventually(func() []emulator.WebhookDelivery { return deliveriesTo(srv, rc.URL()) }).WithTimeout(waitFor).
		Should(ConsistOf(And(
			HaveField("State", emulator.DeliveryDelivered), HaveField("Attempts", 3), HaveField("Delivered", 1),
			HaveField("LastStatus", http.StatusNoContent), HaveField("DataID", r.ID), HaveField("Type", "response.completed"),
		)))
	got := rc.deliveries()
	g.Expect(got).To(HaveLen(3))
	for _, d := range got {
		g.Expect(d.webhookID).To(Equal(got[0].webhookID))
		g.Expect(d.body).To(Equal(got[0].body), "the same event on every attempt")
		g.Expect(d.verifyErr).NotTo(HaveOccurred(), "every attempt is signed afresh")
	}
}

func TestWebhookFailuresThatAreRetried(t *testing.T) {
	tests := map[string]struct {
		opts emulator.Options
		// first answers the first attempt.
		first func(w http.ResponseWriter, r *http.Request) int
		// minGap is the least time between the first and the second attempt.
		minGap time.Duration
	}{
		"Retry-After is honoured": {
			first: func(w http.ResponseWriter, _ *http.Request) int {
				w.Header().Set("Retry-After", "1")
				return http.StatusTooManyRequests
			},
			minGap: time.Second,
		},
		"3xx is not followed": {
			first: func(w http.ResponseWriter, _ *http.Request) int {
				w.Header().Set("Location", "/elsewhere")
				return http.StatusTemporaryRedirect
			},
		},
		"timeout": {
			opts: emulator.Options{WebhookTimeout: 100 * time.Millisecond},
			first: func(_ http.ResponseWriter, r *http.Request) int {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return http.StatusOK
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			srv := start(t, tc.opts)
			rc := newReceiver(t, srv.WebhookSecret())
			var elsewhere atomic.Int32
			rc.respond(func(w http.ResponseWriter, r *http.Request, n int) int {
				if r.URL.Path == "/elsewhere" {
					elsewhere.Add(1)
					return http.StatusOK
				}
				if n == 1 {
					return tc.first(w, r)
				}
				return http.StatusOK
			})
			srv.AddWebhookURL(rc.URL())
			c := client(srv)
			_, err := c.Responses.New(context.Background(), background("gpt-5", "x"))
			g.Expect(err).NotTo(HaveOccurred())

			g.Eventually(func() []emulator.WebhookDelivery { return deliveriesTo(srv, rc.URL()) }).WithTimeout(waitFor).
				Should(ConsistOf(And(HaveField("State", emulator.DeliveryDelivered), HaveField("Attempts", 2))))
			got := rc.deliveries()
			g.Expect(got).To(HaveLen(2))
			g.Expect(got[1].webhookID).To(Equal(got[0].webhookID))
			g.Expect(got[1].at.Sub(got[0].at)).To(BeNumerically(">=", tc.minGap))
			g.Expect(elsewhere.Load()).To(BeZero())
		})
	}
}

func TestWebhookGivesUpAfterTheRetrySchedule(t *testing.T) {
	g := NewWithT(t)
	// The whole schedule (about 76 h) scales to about half a second.
	srv := start(t, emulator.Options{TimeScale: 0.000002})
	rc := newReceiver(t, srv.WebhookSecret())
	rc.respond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusBadGateway })
	srv.AddWebhookURL(rc.URL())
	c := client(srv)
	_, err := c.Responses.New(context.Background(), background("gpt-5", "x"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() []emulator.WebhookDelivery { return deliveriesTo(srv, rc.URL()) }).WithTimeout(waitFor).
		Should(ConsistOf(And(
			HaveField("State", emulator.DeliveryFailed), HaveField("Attempts", 1+len(emulator.RetrySchedule)),
			HaveField("LastStatus", http.StatusBadGateway), HaveField("LastError", ContainSubstring("502")),
		)))
	g.Expect(rc.deliveries()).To(HaveLen(1 + len(emulator.RetrySchedule)))
}

// OpenAI retries every failed delivery for up to 72 hours; a 410 Gone does not disable
// the endpoint (the Standard Webhooks convention OpenAI does not follow).
func TestWebhookGoneIsRetriedLikeAnyFailure(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	rc := newReceiver(t, srv.WebhookSecret())
	rc.respond(func(_ http.ResponseWriter, _ *http.Request, n int) int {
		if n == 1 {
			return http.StatusGone
		}
		return http.StatusOK
	})
	srv.AddWebhookURL(rc.URL())
	c := client(srv)
	first, err := c.Responses.New(ctx, background("gpt-5", "x"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() []emulator.WebhookDelivery { return deliveriesTo(srv, rc.URL()) }).WithTimeout(waitFor).
		Should(ConsistOf(And(HaveField("State", emulator.DeliveryDelivered), HaveField("Attempts", 2), HaveField("DataID", first.ID))))

	// The endpoint is still there and gets the next event at the first attempt.
	g.Expect(srv.WebhookEndpoints()).To(ConsistOf(HaveField("URL", rc.URL())))
	second, err := c.Responses.New(ctx, background("gpt-5", "y"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(rc.events).WithTimeout(waitFor).Should(ContainElement("response.completed " + second.ID))
}

func TestWebhookEndpointsChangeAtRunTime(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	a, b := newReceiver(t, srv.WebhookSecret()), newReceiver(t, srv.WebhookSecret())
	srv.AddWebhookURL(a.URL())
	c := client(srv)

	first, err := c.Responses.New(ctx, background("gpt-5", "x"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(a.events).WithTimeout(waitFor).Should(Equal([]string{"response.completed " + first.ID}))

	srv.AddWebhookURL(b.URL())
	srv.RemoveWebhookURL(a.URL())
	second, err := c.Responses.New(ctx, background("gpt-5", "y"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(b.events).WithTimeout(waitFor).Should(Equal([]string{"response.completed " + second.ID}))
	g.Expect(a.events()).To(Equal([]string{"response.completed " + first.ID}))
	g.Expect(deliveriesTo(srv, a.URL())).To(HaveLen(1))
}

func TestWebhookFaultKnobs(t *testing.T) {
	const n = 20
	tests := map[string]struct {
		faults emulator.Faults
		check  func(g Gomega, srv *emulator.Server, rc *receiver)
	}{
		"drop": {
			faults: emulator.Faults{WebhookDropRate: 1},
			check: func(g Gomega, srv *emulator.Server, rc *receiver) {
				g.Eventually(func() []emulator.WebhookDelivery { return srv.Stats().Webhooks }).WithTimeout(waitFor).
					Should(And(HaveLen(n), HaveEach(HaveField("State", emulator.DeliveryDropped))))
				g.Expect(srv.Stats().Faults.WebhooksDropped).To(Equal(int64(n)))
				g.Expect(srv.WebhookEndpoints()).To(ConsistOf(HaveField("Pending", 0)))
				g.Expect(rc.deliveries()).To(BeEmpty(), "dropped deliveries are never queued")
			},
		},
		"duplicate": {
			faults: emulator.Faults{WebhookDuplicateRate: 1},
			check: func(g Gomega, srv *emulator.Server, rc *receiver) {
				g.Eventually(rc.deliveries).WithTimeout(waitFor).Should(HaveLen(2 * n))
				perID := map[string]int{}
				for _, d := range rc.deliveries() {
					g.Expect(d.verifyErr).NotTo(HaveOccurred())
					perID[d.webhookID]++
				}
				g.Expect(perID).To(HaveLen(n))
				g.Expect(perID).To(HaveEach(2))
				g.Eventually(func() []emulator.WebhookDelivery { return srv.Stats().Webhooks }).
					Should(HaveEach(And(HaveField("Delivered", 2), HaveField("Duplicated", true))))
				g.Expect(srv.Stats().Faults.WebhooksDuplicated).To(Equal(int64(n)))
			},
		},
		"delay": {
			faults: emulator.Faults{WebhookDelayRate: 1, WebhookDelay: 300 * time.Millisecond},
			check: func(g Gomega, srv *emulator.Server, rc *receiver) {
				g.Eventually(rc.deliveries).WithTimeout(waitFor).Should(HaveLen(n))
				enqueued := map[string]time.Time{}
				for _, d := range srv.Stats().Webhooks {
					enqueued[d.WebhookID] = d.EnqueuedAt
					g.Expect(d.Delayed).To(BeTrue())
				}
				for _, d := range rc.deliveries() {
					g.Expect(d.at.Sub(enqueued[d.webhookID])).To(BeNumerically(">=", 300*time.Millisecond))
				}
			},
		},
		"reorder": {
			faults: emulator.Faults{WebhookReorder: true},
			check: func(g Gomega, srv *emulator.Server, rc *receiver) {
				g.Eventually(rc.deliveries).WithTimeout(waitFor).Should(HaveLen(n))
				var queued, arrived []string
				for _, d := range srv.Stats().Webhooks {
					queued = append(queued, d.WebhookID)
				}
				for _, d := range rc.deliveries() {
					arrived = append(arrived, d.webhookID)
				}
				g.Expect(arrived).To(ConsistOf(queued))
				g.Expect(arrived).NotTo(Equal(queued), "%d deliveries within the window arrive shuffled", n)
				g.Expect(srv.Stats().Faults.WebhooksReordered).To(Equal(int64(n)))
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			srv := start(t, emulator.Options{Faults: tc.faults})
			rc := newReceiver(t, srv.WebhookSecret())
			srv.AddWebhookURL(rc.URL())
			c := client(srv)
			// Create the responses in quick succession so that they end together.
			var ids []string
			for range n {
				r, err := c.Responses.New(ctx, background("gpt-5", "x"))
				g.Expect(err).NotTo(HaveOccurred())
				ids = append(ids, r.ID)
			}
			g.Eventually(func() []string {
				var done []string
				for _, d := range srv.Stats().Webhooks {
					done = append(done, d.DataID)
				}
				slices.Sort(done)
				return slices.Compact(done)
			}).WithTimeout(waitFor).Should(ConsistOf(ids))
			tc.check(g, srv, rc)
		})
	}
}
