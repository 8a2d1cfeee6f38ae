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
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// TestHostileAndMalformedRequests checks the status code and the one metric count of
// each kind of request the receiver must refuse or acknowledge without recording.
func TestHostileAndMalformedRequests(t *testing.T) {
	sec := testSecret(t, 0)
	other := testSecret(t, 1)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	good := eventBody("evt_1", "batch.completed", now, "batch_known")
	signedWith := func(body string) webhook { return signedEvent(sec, "wh_1", now, []byte(body)) }
	at := func(d time.Duration) webhook { return signedEvent(sec, "wh_1", now.Add(d), good) }

	cases := map[string]struct {
		req       webhook
		maxBody   int64
		wantCode  int
		wantType  string // label values of the one count expected; empty: no count
		wantOut   string
		wantAllow bool
	}{
		"GET": {
			req:       webhook{method: http.MethodGet, noHeaders: true},
			wantCode:  405,
			wantType:  typeUnknown,
			wantOut:   OutcomeMethodNotAllowed,
			wantAllow: true,
		},
		"PUT, even signed": {
			req:       func() webhook { w := signedEvent(sec, "wh_1", now, good); w.method = http.MethodPut; return w }(),
			wantCode:  405,
			wantType:  typeUnknown,
			wantOut:   OutcomeMethodNotAllowed,
			wantAllow: true,
		},
		"root path": {req: webhook{path: "/", noHeaders: true}, wantCode: 404},
		"path with trailing slash": {
			req:      func() webhook { w := signedEvent(sec, "wh_1", now, good); w.path = DefaultPath + "/"; return w }(),
			wantCode: 404,
		},
		"path prefix":        {req: webhook{path: "/openai", noHeaders: true}, wantCode: 404},
		"no webhook headers": {req: webhook{body: good, noHeaders: true}, wantCode: 400, wantType: typeUnknown, wantOut: OutcomeMalformed},
		"no signature": {
			req:      webhook{id: "wh_1", timestamp: ts, noSig: true, body: good},
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"no webhook-id": {
			req:      webhook{timestamp: ts, secrets: []standardwebhooks.Secret{sec}, body: good},
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"timestamp not a number": {
			req:      webhook{id: "wh_1", timestamp: "now", secrets: []standardwebhooks.Secret{sec}, body: good},
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"wrong secret": {
			req:      signedEvent(other, "wh_1", now, good),
			wantCode: 401,
			wantType: typeUnknown,
			wantOut:  OutcomeInvalidSignature,
		},
		"tampered body": {req: func() webhook {
			w := signedWith(string(good))
			w.signature = sec.SignRaw("wh_1", ts, good)
			w.body = eventBody("evt_1", "batch.completed", now, "batch_other")
			return w
		}(), wantCode: 401, wantType: typeUnknown, wantOut: OutcomeInvalidSignature},
		"v1a scheme": {
			req:      webhook{id: "wh_1", timestamp: ts, signature: "v1a," + strings.TrimPrefix(sec.SignRaw("wh_1", ts, good), "v1,"), body: good},
			wantCode: 401,
			wantType: typeUnknown,
			wantOut:  OutcomeInvalidSignature,
		},
		"garbage signature": {
			req:      webhook{id: "wh_1", timestamp: ts, signature: "v1,%%%% v1,", body: good},
			wantCode: 401,
			wantType: typeUnknown,
			wantOut:  OutcomeInvalidSignature,
		},
		"301 s old":   {req: at(-301 * time.Second), wantCode: 401, wantType: typeUnknown, wantOut: OutcomeStale},
		"301 s ahead": {req: at(301 * time.Second), wantCode: 401, wantType: typeUnknown, wantOut: OutcomeStale},
		"timestamp in milliseconds": {
			req:      webhook{id: "wh_1", timestamp: ts + "000", secrets: []standardwebhooks.Secret{sec}, body: good},
			wantCode: 401,
			wantType: typeUnknown,
			wantOut:  OutcomeStale,
		},
		"body over the limit": {
			req:      signedWith(string(good)),
			maxBody:  int64(len(good) - 1),
			wantCode: 413,
			wantType: typeUnknown,
			wantOut:  OutcomeTooLarge,
		},
		"body at the limit": {
			req:      signedWith(string(good)),
			maxBody:  int64(len(good)),
			wantCode: 200,
			wantType: "batch.completed",
			wantOut:  OutcomeAccepted,
		},
		"signed, not JSON": {
			req:      signedWith(`evt_1 batch.completed`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed JSON array": {req: signedWith(`[{"id":"evt_1"}]`), wantCode: 400, wantType: typeUnknown, wantOut: OutcomeMalformed},
		"signed, truncated JSON": {
			req:      signedWith(string(good[:len(good)-2])),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed, no event id": {
			req:      signedWith(`{"type":"batch.completed","created_at":1,"data":{"id":"batch_known"}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed, no type": {
			req:      signedWith(`{"id":"evt_1","created_at":1,"data":{"id":"batch_known"}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed batch event, no data.id": {
			req:      signedWith(`{"id":"evt_1","type":"batch.completed","created_at":1,"data":{}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed, data not an object": {
			req:      signedWith(`{"id":"evt_1","type":"response.completed","created_at":1,"data":"resp_1"}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed, negative created_at": {
			req:      signedWith(`{"id":"evt_1","type":"batch.completed","created_at":-5,"data":{"id":"batch_known"}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed, created_at past 9999": {
			req:      signedWith(`{"id":"evt_1","type":"batch.completed","created_at":1e12,"data":{"id":"batch_known"}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"signed, event id too long": {
			req:      signedWith(`{"id":"` + strings.Repeat("e", 257) + `","type":"batch.completed","created_at":1,"data":{"id":"batch_known"}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"known fine-tuning job": {
			req:      signedWith(string(eventBody("evt_1", "fine_tuning.job.succeeded", now, "ftjob-known"))),
			wantCode: 200,
			wantType: "fine_tuning.job.succeeded",
			wantOut:  OutcomeAccepted,
		},
		"unknown fine-tuning job is held": {
			req:      signedWith(string(eventBody("evt_1", "fine_tuning.job.failed", now, "ftjob-unseen"))),
			wantCode: 202,
			wantType: "fine_tuning.job.failed",
			wantOut:  OutcomeEarly,
		},
		"fine-tuning event, no data.id": {
			req:      signedWith(`{"id":"evt_1","type":"fine_tuning.job.cancelled","created_at":1,"data":{}}`),
			wantCode: 400,
			wantType: typeUnknown,
			wantOut:  OutcomeMalformed,
		},
		"eval event": {
			req:      signedWith(string(eventBody("evt_1", "eval.run.canceled", now, "evalrun_1"))),
			wantCode: 200,
			wantType: "eval.run.canceled",
			wantOut:  OutcomeUnmanaged,
		},
		"realtime event without data.id": {
			req: signedWith(
				`{"id":"evt_1","object":"event","created_at":1,"type":"realtime.call.incoming","data":{"call_id":"rtc_1","sip_headers":[]}}`,
			),
			wantCode: 200,
			wantType: "realtime.call.incoming",
			wantOut:  OutcomeUnmanaged,
		},
		"unknown event type": {
			req:      signedWith(string(eventBody("evt_1", "quantum.job.entangled", now, "q_1"))),
			wantCode: 200,
			wantType: typeOther,
			wantOut:  OutcomeUnmanaged,
		},
		"unknown batch.* type routes": {
			req:      signedWith(string(eventBody("evt_1", "batch.in_progress", now, "batch_known"))),
			wantCode: 200,
			wantType: typeOther,
			wantOut:  OutcomeAccepted,
		},
		"created_at missing: header time": {
			req:      signedWith(`{"id":"evt_1","type":"batch.completed","data":{"id":"batch_known"}}`),
			wantCode: 200,
			wantType: "batch.completed",
			wantOut:  OutcomeAccepted,
		},
		"known batch": {req: signedWith(string(good)), wantCode: 200, wantType: "batch.completed", wantOut: OutcomeAccepted},
		"unknown batch id is held": {
			req:      signedWith(string(eventBody("evt_1", "batch.completed", now, "batch_unseen"))),
			wantCode: 202,
			wantType: "batch.completed",
			wantOut:  OutcomeEarly,
		},
		"two signatures, second matches": {
			req:      webhook{id: "wh_1", timestamp: ts, secrets: []standardwebhooks.Secret{other, sec}, body: good},
			wantCode: 200,
			wantType: "batch.completed",
			wantOut:  OutcomeAccepted,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			clock := func() time.Time { return now }
			r, _ := newFakeReceiver(
				t,
				Options{MaxBodyBytes: tc.maxBody, Now: clock},
				nil,
				newBatch("ns", "b", "batch_known"),
				newFineTuningJob("ns", "ft", "ftjob-known"),
			)
			rec := tc.req.serve(r)
			g.Expect(rec.Code).To(Equal(tc.wantCode), "body: %s", rec.Body.String())
			if tc.wantAllow {
				g.Expect(rec.Header().Get("Allow")).To(Equal(http.MethodPost))
			}
			if tc.wantOut == "" {
				g.Expect(eventsTotal(t, r.metrics)).To(BeZero())
			} else {
				g.Expect(events(r.metrics, tc.wantType, tc.wantOut)).To(Equal(1.0))
				g.Expect(eventsTotal(t, r.metrics)).To(Equal(1.0), "exactly one count")
			}
			g.Expect(histogramCount(t, r.metrics.RequestDuration, strconv.Itoa(tc.wantCode))).To(Equal(uint64(1)))
		})
	}
}

// TestBodyOverLimitWithoutContentLength checks that the cap holds while reading a body
// of unknown length.
func TestBodyOverLimitWithoutContentLength(t *testing.T) {
	g := NewWithT(t)
	r, _ := newFakeReceiver(t, Options{MaxBodyBytes: 64}, nil)
	w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), []byte(strings.Repeat("x", 65)))
	req := w.request("http://receiver.test" + DefaultPath)
	req.ContentLength = -1 // chunked
	rec := httptestRecorder()
	r.ServeHTTP(rec, req)
	g.Expect(rec.Code).To(Equal(http.StatusRequestEntityTooLarge))
	g.Expect(events(r.metrics, typeUnknown, OutcomeTooLarge)).To(Equal(1.0))
}

// TestOpenAITestVectors checks both signing test vectors of OPENAI.md end to end.
func TestOpenAITestVectors(t *testing.T) {
	t.Run("OpenAI SDK vector is recorded", func(t *testing.T) {
		g := NewWithT(t)
		sec, err := standardwebhooks.ParseSecret("whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=")
		g.Expect(err).NotTo(HaveOccurred())
		r, c := newFakeReceiver(t, Options{Secrets: StaticSecrets{sec}, Now: func() time.Time { return time.Unix(1750861210, 0) }},
			nil, newResponse("ns", "hello", "resp_123"))
		w := webhook{
			id: "wh_685c059ae39c8190af8c71ed1022a24d", timestamp: "1750861210",
			signature: "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=",
			body: []byte(
				`{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}`,
			),
		}
		rec := w.serve(r)
		g.Expect(rec.Code).To(Equal(http.StatusOK), rec.Body.String())
		g.Expect(events(r.metrics, "response.completed", OutcomeAccepted)).To(Equal(1.0))

		var got openaiv1alpha1.OpenAIResponse
		g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "hello"}, &got)).To(Succeed())
		g.Expect(got.Status.LastWebhookEvent).NotTo(BeNil())
		g.Expect(got.Status.LastWebhookEvent.ID).To(Equal("evt_685c059ae3a481909bdc86819b066fb6"))
		g.Expect(got.Status.LastWebhookEvent.Type).To(Equal("response.completed"))
		g.Expect(got.Status.LastWebhookEvent.CreatedAt.Unix()).To(Equal(int64(1750861210)))
		g.Expect(got.Status.LastWebhookEvent.ReceivedAt.Unix()).To(Equal(int64(1750861210)))
		g.Expect(got.Status.Phase).To(Equal(openaiv1alpha1.ResponsePhaseInProgress), "other status fields stay")
	})
	t.Run("Standard Webhooks vector verifies, and is not an event", func(t *testing.T) {
		g := NewWithT(t)
		sec, err := standardwebhooks.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		g.Expect(err).NotTo(HaveOccurred())
		w := webhook{
			id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330",
			signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
			body:      []byte(`{"test": 2432232314}`),
		}
		clock := func() time.Time { return time.Unix(1614265330, 0) }
		r, _ := newFakeReceiver(t, Options{Secrets: StaticSecrets{sec}, Now: clock}, nil)
		g.Expect(w.serve(r).Code).To(Equal(http.StatusBadRequest), "verified, then refused as not an event")
		g.Expect(events(r.metrics, typeUnknown, OutcomeMalformed)).To(Equal(1.0))

		r, _ = newFakeReceiver(t, Options{Secrets: StaticSecrets{testSecret(t, 0)}, Now: clock}, nil)
		g.Expect(w.serve(r).Code).To(Equal(http.StatusUnauthorized), "the same request with another secret")
	})
}

// TestDuplicatesAndReplays checks that a repeated webhook-id, a re-sent event and a
// replay change nothing after the first record.
func TestDuplicatesAndReplays(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sec := testSecret(t, 0)
	r, c := newFakeReceiver(t, Options{}, nil, newBatch("ns", "b", "batch_1"))
	now := time.Now()
	body := eventBody("evt_1", "batch.completed", now, "batch_1")
	key := client.ObjectKey{Namespace: "ns", Name: "b"}

	g.Expect(signedEvent(sec, "wh_1", now, body).serve(r).Code).To(Equal(http.StatusOK))
	var first openaiv1alpha1.OpenAIBatch
	g.Expect(c.Get(ctx, key, &first)).To(Succeed())
	g.Expect(first.Status.LastWebhookEvent.ID).To(Equal("evt_1"))

	// OpenAI's retry of the same delivery, signed again a minute later.
	g.Expect(signedEvent(sec, "wh_1", now.Add(time.Minute), body).serve(r).Code).To(Equal(http.StatusOK))
	// The same event under another webhook-id: the resource already records it.
	g.Expect(signedEvent(sec, "wh_2", now, body).serve(r).Code).To(Equal(http.StatusOK))
	// A captured request replayed after the tolerance.
	old := signedEvent(sec, "wh_3", now.Add(-10*time.Minute), eventBody("evt_3", "batch.failed", now, "batch_1"))
	g.Expect(old.serve(r).Code).To(Equal(http.StatusUnauthorized))

	var after openaiv1alpha1.OpenAIBatch
	g.Expect(c.Get(ctx, key, &after)).To(Succeed())
	g.Expect(after.ResourceVersion).To(Equal(first.ResourceVersion), "no write after the first")
	g.Expect(events(r.metrics, "batch.completed", OutcomeAccepted)).To(Equal(1.0))
	g.Expect(events(r.metrics, "batch.completed", OutcomeDuplicate)).To(Equal(2.0))
	g.Expect(events(r.metrics, typeUnknown, OutcomeStale)).To(Equal(1.0))
}

// TestOlderEventDoesNotOverwriteNewer checks that an out-of-order event is acknowledged
// without moving the record backwards, and that a newer one replaces it.
func TestOlderEventDoesNotOverwriteNewer(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sec := testSecret(t, 0)
	r, c := newFakeReceiver(t, Options{}, nil, newBatch("ns", "b", "batch_1"))
	now := time.Now()
	key := client.ObjectKey{Namespace: "ns", Name: "b"}
	last := func() *openaiv1alpha1.WebhookEvent {
		var b openaiv1alpha1.OpenAIBatch
		g.Expect(c.Get(ctx, key, &b)).To(Succeed())
		return b.Status.LastWebhookEvent
	}

	g.Expect(signedEvent(sec, "wh_new", now, eventBody("evt_new", "batch.completed", now, "batch_1")).serve(r).Code).To(Equal(http.StatusOK))
	g.Expect(signedEvent(sec, "wh_old", now, eventBody("evt_old", "batch.failed", now.Add(-time.Minute), "batch_1")).serve(r).Code).
		To(Equal(http.StatusOK))
	g.Expect(last().ID).To(Equal("evt_new"))
	g.Expect(events(r.metrics, "batch.failed", OutcomeSuperseded)).To(Equal(1.0))

	g.Expect(signedEvent(sec, "wh_newer", now, eventBody("evt_newer", "batch.expired", now.Add(time.Minute), "batch_1")).serve(r).Code).
		To(Equal(http.StatusOK))
	g.Expect(last().ID).To(Equal("evt_newer"))
	g.Expect(last().Type).To(Equal("batch.expired"))
}

// TestWriteFailureAnswers503 checks that a failed status write is answered 503, is not
// remembered as recorded, and lands when OpenAI retries.
func TestWriteFailureAnswers503(t *testing.T) {
	sentinel := errors.New("etcdserver: request timed out")
	cases := map[string]error{
		"server error": apierrors.NewInternalError(sentinel),
		"forbidden":    apierrors.NewForbidden(schema.GroupResource{Group: "openai.operator.dev", Resource: "openaibatches/status"}, "b", sentinel),
		"timeout":      apierrors.NewTimeoutError("patch", 1),
		"conflicts":    apierrors.NewConflict(schema.GroupResource{Group: "openai.operator.dev", Resource: "openaibatches"}, "b", sentinel),
	}
	for name, failure := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			failing := true
			funcs := &interceptor.Funcs{
				SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch,
					opts ...client.SubResourcePatchOption) error {
					if failing {
						return failure
					}
					return c.SubResource(sub).Patch(ctx, obj, p, opts...)
				},
			}
			r, c := newFakeReceiver(t, Options{}, funcs, newBatch("ns", "b", "batch_1"))
			w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), eventBody("evt_1", "batch.completed", time.Now(), "batch_1"))

			g.Expect(w.serve(r).Code).To(Equal(http.StatusServiceUnavailable))
			g.Expect(events(r.metrics, "batch.completed", OutcomeWriteError)).To(Equal(1.0))
			var b openaiv1alpha1.OpenAIBatch
			g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "b"}, &b)).To(Succeed())
			g.Expect(b.Status.LastWebhookEvent).To(BeNil())

			failing = false
			g.Expect(w.serve(r).Code).To(Equal(http.StatusOK), "OpenAI's retry lands")
			g.Expect(events(r.metrics, "batch.completed", OutcomeAccepted)).To(Equal(1.0))
		})
	}
}

// TestUnavailableAnswers503 checks the receiver refuses work it cannot do yet.
func TestUnavailableAnswers503(t *testing.T) {
	t.Run("cache not synced", func(t *testing.T) {
		g := NewWithT(t)
		r, _ := newFakeReceiver(t, Options{}, nil, newBatch("ns", "b", "batch_1"))
		r.synced.Store(false) // as before WaitForCacheSync returns
		w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), eventBody("evt_1", "batch.completed", time.Now(), "batch_1"))
		g.Expect(w.serve(r).Code).To(Equal(http.StatusServiceUnavailable))
		g.Expect(events(r.metrics, typeUnknown, OutcomeUnavailable)).To(Equal(1.0))
		g.Expect(r.ReadyCheck(nil)).To(MatchError(ContainSubstring("cache")))
	})
	t.Run("no signing secret", func(t *testing.T) {
		g := NewWithT(t)
		r, _ := newFakeReceiver(t, Options{Secrets: StaticSecrets{}}, nil)
		w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), eventBody("evt_1", "batch.completed", time.Now(), "batch_1"))
		g.Expect(w.serve(r).Code).To(Equal(http.StatusServiceUnavailable))
		g.Expect(events(r.metrics, typeUnknown, OutcomeNoSecret)).To(Equal(1.0))
	})
	t.Run("cache read fails", func(t *testing.T) {
		g := NewWithT(t)
		funcs := &interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("index missing")
		}}
		r, _ := newFakeReceiver(t, Options{}, funcs)
		w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), eventBody("evt_1", "batch.completed", time.Now(), "batch_1"))
		g.Expect(w.serve(r).Code).To(Equal(http.StatusServiceUnavailable))
		g.Expect(events(r.metrics, "batch.completed", OutcomeUnavailable)).To(Equal(1.0))
	})
}

// TestEarlyEventStoreIsBounded checks that held events beyond the limit evict the
// oldest, which is counted as dropped, and that a held webhook-id is not held twice.
func TestEarlyEventStoreIsBounded(t *testing.T) {
	g := NewWithT(t)
	sec := testSecret(t, 0)
	r, _ := newFakeReceiver(t, Options{MaxEarlyEvents: 2}, nil)
	now := time.Now()
	for i, id := range []string{"batch_a", "batch_b", "batch_c"} {
		w := signedEvent(sec, "wh_"+id, now, eventBody("evt_"+id, "batch.completed", now.Add(time.Duration(i)*time.Second), id))
		g.Expect(w.serve(r).Code).To(Equal(http.StatusAccepted))
	}
	again := signedEvent(sec, "wh_batch_c", now, eventBody("evt_batch_c", "batch.completed", now, "batch_c"))
	g.Expect(again.serve(r).Code).To(Equal(http.StatusAccepted))

	g.Expect(events(r.metrics, "batch.completed", OutcomeEarly)).To(Equal(3.0))
	g.Expect(events(r.metrics, "batch.completed", OutcomeDropped)).To(Equal(1.0))
	g.Expect(events(r.metrics, "batch.completed", OutcomeDuplicate)).To(Equal(1.0))
	g.Expect(testutilGauge(r.metrics.EarlyEvents)).To(Equal(2.0))
	g.Expect(r.early.has(routeKey{kindBatch, "batch_a"})).To(BeFalse(), "the oldest was dropped")
	g.Expect(r.early.has(routeKey{kindBatch, "batch_c"})).To(BeTrue())
}
