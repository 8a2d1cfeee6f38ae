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
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// TestLongDataIDIsRefused checks that a signed event whose data.id is longer than
// 256 bytes is refused (400) before it reaches the early-event store or the logs.
func TestLongDataIDIsRefused(t *testing.T) {
	g := NewWithT(t)
	r, _ := newFakeReceiver(t, Options{}, nil)
	now := time.Now()
	long := "batch_" + strings.Repeat("x", 251)
	g.Expect(signedEvent(testSecret(t, 0), "wh_1", now, eventBody("evt_1", "batch.completed", now, long)).serve(r).Code).
		To(Equal(http.StatusBadRequest))
	g.Expect(events(r.metrics, typeUnknown, OutcomeMalformed)).To(Equal(1.0))
	g.Expect(r.early.len()).To(BeZero())
}

// TestOpenAIIDsHaveALengthLimit checks that the API server refuses a status.batchID or
// status.responseID longer than 256 characters, the longest id the receiver routes.
func TestOpenAIIDsHaveALengthLimit(t *testing.T) {
	e := apiServer(t)
	ns := newNamespace(t, e.Client)
	cases := map[string]struct {
		obj   client.Object
		setID func(client.Object, string)
	}{
		"status.batchID": {
			obj:   newBatch(ns, "b", ""),
			setID: func(o client.Object, id string) { o.(*openaiv1alpha1.OpenAIBatch).Status.BatchID = id },
		},
		"status.responseID": {obj: newResponse(ns, "r", ""), setID: func(o client.Object, id string) {
			o.(*openaiv1alpha1.OpenAIResponse).Status.ResponseID = id
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			g.Expect(e.Client.Create(ctx, tc.obj)).To(Succeed())
			base := tc.obj.DeepCopyObject().(client.Object)
			tc.setID(tc.obj, strings.Repeat("x", 257))
			err := e.Client.Status().Patch(ctx, tc.obj, client.MergeFrom(base))
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "257 characters: %v", err)
			g.Expect(err.Error()).To(ContainSubstring(name))
			tc.setID(tc.obj, strings.Repeat("x", 256))
			g.Expect(e.Client.Status().Patch(ctx, tc.obj, client.MergeFrom(base))).To(Succeed(), "256 characters")
		})
	}
}

// TestFarFutureCreatedAtCannotPinTheRecord checks that an event dated 9999-12-31 does
// not make every later event "superseded": its created_at is clamped to the verified
// webhook-timestamp, and a record that already carries a far-future time (written
// before this rule) is replaced by the next event.
func TestFarFutureCreatedAtCannotPinTheRecord(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	farFuture := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	last := func(g Gomega, c client.Client) *openaiv1alpha1.WebhookEvent {
		var b openaiv1alpha1.OpenAIBatch
		g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "b"}, &b)).To(Succeed())
		return b.Status.LastWebhookEvent
	}
	t.Run("an event dated 9999 is clamped", func(t *testing.T) {
		g := NewWithT(t)
		sec := testSecret(t, 0)
		r, c := newFakeReceiver(t, Options{Now: func() time.Time { return now }}, nil, newBatch("ns", "b", "batch_1"))
		g.Expect(signedEvent(sec, "wh_future", now, eventBody("evt_future", "batch.failed", farFuture, "batch_1")).serve(r).Code).
			To(Equal(http.StatusOK))
		got := last(g, c)
		g.Expect(got.ID).To(Equal("evt_future"))
		g.Expect(got.CreatedAt.Time.Equal(now)).To(BeTrue(), "createdAt %s, want the webhook-timestamp %s", got.CreatedAt, now)

		// A genuine event created a second later is recorded, not superseded.
		later := now.Add(time.Second)
		g.Expect(signedEvent(sec, "wh_next", now, eventBody("evt_next", "batch.completed", later, "batch_1")).serve(r).Code).To(Equal(http.StatusOK))
		g.Expect(last(g, c).ID).To(Equal("evt_next"))
		g.Expect(events(r.metrics, "batch.completed", OutcomeAccepted)).To(Equal(1.0))
	})
	t.Run("a record already dated 9999 is replaced", func(t *testing.T) {
		g := NewWithT(t)
		pinned := newBatch("ns", "b", "batch_1")
		pinned.Status.LastWebhookEvent = &openaiv1alpha1.WebhookEvent{ID: "evt_old", Type: "batch.failed",
			CreatedAt: metav1.NewTime(farFuture), ReceivedAt: metav1.NewMicroTime(now.Add(-time.Hour))}
		r, c := newFakeReceiver(t, Options{Now: func() time.Time { return now }}, nil, pinned)
		g.Expect(signedEvent(testSecret(t, 0), "wh_next", now, eventBody("evt_next", "batch.completed", now, "batch_1")).serve(r).Code).
			To(Equal(http.StatusOK))
		g.Expect(last(g, c).ID).To(Equal("evt_next"))
		g.Expect(events(r.metrics, "batch.completed", OutcomeAccepted)).To(Equal(1.0))
	})
	t.Run("within the tolerance, created_at is kept", func(t *testing.T) {
		g := NewWithT(t)
		r, c := newFakeReceiver(t, Options{Now: func() time.Time { return now }}, nil, newBatch("ns", "b", "batch_1"))
		ahead := now.Add(4 * time.Minute)
		g.Expect(signedEvent(testSecret(t, 0), "wh_1", now, eventBody("evt_1", "batch.completed", ahead, "batch_1")).serve(r).Code).
			To(Equal(http.StatusOK))
		g.Expect(last(g, c).CreatedAt.Time.Equal(ahead)).To(BeTrue())
	})
}
