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
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRecentIDs(t *testing.T) {
	g := NewWithT(t)
	t0 := time.Unix(1000, 0)
	s := newRecentIDs(3, time.Minute)
	for i := range 4 {
		s.add(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
	}
	g.Expect(s.len()).To(Equal(3), "bounded")
	g.Expect(s.contains("0", t0.Add(4*time.Second))).To(BeFalse(), "the oldest made room")
	g.Expect(s.contains("1", t0.Add(4*time.Second))).To(BeTrue())

	s.add("1", t0.Add(30*time.Second)) // refreshed: now the newest
	g.Expect(s.contains("2", t0.Add(62*time.Second))).To(BeFalse(), "expired")
	g.Expect(s.contains("1", t0.Add(62*time.Second))).To(BeTrue(), "refreshed entries live on")
	g.Expect(s.contains("1", t0.Add(90*time.Second))).To(BeFalse())
	g.Expect(s.len()).To(BeZero())
}

func held(webhookID, objectID string, created int64) delivery {
	return delivery{
		webhookID: webhookID,
		event:     event{ID: "evt_" + webhookID, Type: "batch.completed", CreatedAt: time.Unix(created, 0), ObjectID: objectID},
	}
}

func TestEarlyStore(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t.Run("peek orders by created_at and remove forgets", func(t *testing.T) {
		g := NewWithT(t)
		s := newEarlyStore(10, time.Minute)
		for _, d := range []delivery{held("w2", "b", 20), held("w1", "b", 10), held("w3", "c", 5)} {
			added, evicted := s.add(d, t0)
			g.Expect(added).To(BeTrue())
			g.Expect(evicted).To(BeEmpty())
		}
		added, _ := s.add(held("w1", "b", 10), t0)
		g.Expect(added).To(BeFalse(), "same webhook-id")
		got := s.peek(routeKey{kindBatch, "b"})
		g.Expect(got).To(HaveLen(2))
		g.Expect(got[0].webhookID).To(Equal("w1"))
		g.Expect(got[1].webhookID).To(Equal("w2"))
		g.Expect(s.holds("w3")).To(BeTrue())
		g.Expect(s.remove("w1")).To(BeTrue())
		g.Expect(s.remove("w1")).To(BeFalse())
		g.Expect(s.remove("w2")).To(BeTrue())
		g.Expect(s.has(routeKey{kindBatch, "b"})).To(BeFalse())
		g.Expect(s.has(routeKey{kindResponse, "c"})).To(BeFalse(), "keys are per kind")
		g.Expect(s.len()).To(Equal(1))
	})
	t.Run("full store evicts the oldest", func(t *testing.T) {
		g := NewWithT(t)
		s := newEarlyStore(2, time.Minute)
		s.add(held("w1", "a", 1), t0)
		s.add(held("w2", "b", 1), t0.Add(time.Second))
		_, evicted := s.add(held("w3", "c", 1), t0.Add(2*time.Second))
		g.Expect(evicted).To(HaveLen(1))
		g.Expect(evicted[0].webhookID).To(Equal("w1"))
		g.Expect(s.len()).To(Equal(2))
		g.Expect(s.has(routeKey{kindBatch, "a"})).To(BeFalse())
	})
	t.Run("expire removes events held past the ttl", func(t *testing.T) {
		g := NewWithT(t)
		s := newEarlyStore(10, time.Minute)
		s.add(held("w1", "a", 1), t0)
		s.add(held("w2", "a", 2), t0.Add(30*time.Second))
		g.Expect(s.expire(t0.Add(59 * time.Second))).To(BeEmpty())
		out := s.expire(t0.Add(60 * time.Second))
		g.Expect(out).To(HaveLen(1))
		g.Expect(out[0].webhookID).To(Equal("w1"))
		g.Expect(s.peek(routeKey{kindBatch, "a"})).To(HaveLen(1))
		g.Expect(s.expire(t0.Add(2 * time.Minute))).To(HaveLen(1))
		g.Expect(s.len()).To(BeZero())
		g.Expect(s.byKey).To(BeEmpty(), "no leftover keys")
	})
}

// TestEarlyEventsOfOneKindDoNotPushOutAnother checks that the early-event store bounds
// each kind on its own: a flood of response events for objects the operator does not
// manage drops the oldest response events, never a held batch event, and is logged at
// debug level only.
func TestEarlyEventsOfOneKindDoNotPushOutAnother(t *testing.T) {
	g := NewWithT(t)
	var logged strings.Builder
	var mu sync.Mutex
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logged.WriteString(prefix + args + "\n")
	}, funcr.Options{}) // Info only, as in production
	c, _ := newFakeReceiver(t, Options{}, nil)
	r, err := New(Deps{Cache: c.deps.Cache, Client: c.deps.Client, Log: log},
		Options{MaxEarlyEvents: 2, Secrets: StaticSecrets{testSecret(t, 0)}, Registerer: prometheus.NewRegistry()})
	g.Expect(err).NotTo(HaveOccurred())
	sec := testSecret(t, 0)
	now := time.Now()
	g.Expect(signedEvent(sec, "wh_batch", now, eventBody("evt_batch", "batch.completed", now, "batch_early")).serve(r).Code).
		To(Equal(http.StatusAccepted))
	for i := range 5 {
		id := fmt.Sprintf("resp_of_another_app_%d", i)
		g.Expect(signedEvent(sec, "wh_"+id, now, eventBody("evt_"+id, "response.completed", now, id)).serve(r).Code).To(Equal(http.StatusAccepted))
	}
	g.Expect(r.early.has(routeKey{kindBatch, "batch_early"})).To(BeTrue(), "the batch event is still held")
	g.Expect(r.early.len()).To(Equal(3))
	g.Expect(events(r.metrics, "response.completed", OutcomeDropped)).To(Equal(3.0))
	g.Expect(events(r.metrics, "batch.completed", OutcomeDropped)).To(BeZero())
	g.Expect(logged.String()).NotTo(ContainSubstring("resp_of_another_app"), "logged at debug level only")
}
