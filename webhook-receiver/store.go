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
	"container/list"
	"slices"
	"sync"
	"time"
)

// recentIDs is a bounded set of recently recorded webhook-ids with a time to live.
// When full, the oldest entry makes room.
type recentIDs struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	byID  map[string]*list.Element
	order *list.List // of recentID, oldest first
}

type recentID struct {
	id      string
	expires time.Time
}

func newRecentIDs(maxEntries int, ttl time.Duration) *recentIDs {
	return &recentIDs{max: maxEntries, ttl: ttl, byID: map[string]*list.Element{}, order: list.New()}
}

// contains reports whether id was added less than ttl before now.
func (s *recentIDs) contains(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	_, ok := s.byID[id]
	return ok
}

// add records id at now.
func (s *recentIDs) add(id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	if e, ok := s.byID[id]; ok {
		e.Value = recentID{id: id, expires: now.Add(s.ttl)}
		s.order.MoveToBack(e)
		return
	}
	for s.order.Len() >= s.max && s.order.Len() > 0 {
		s.removeLocked(s.order.Front())
	}
	s.byID[id] = s.order.PushBack(recentID{id: id, expires: now.Add(s.ttl)})
}

func (s *recentIDs) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

func (s *recentIDs) expireLocked(now time.Time) {
	for e := s.order.Front(); e != nil && !now.Before(e.Value.(recentID).expires); e = s.order.Front() {
		s.removeLocked(e)
	}
}

func (s *recentIDs) removeLocked(e *list.Element) {
	delete(s.byID, e.Value.(recentID).id)
	s.order.Remove(e)
}

// routeKey identifies the resources an event is for: a kind and an OpenAI object id.
type routeKey struct {
	kind     targetKind
	objectID string
}

// delivery is a verified event and what is known of its receipt.
type delivery struct {
	webhookID  string
	event      event
	receivedAt time.Time
}

func (d delivery) key() routeKey {
	return routeKey{kind: kindOf(d.event.Type), objectID: d.event.ObjectID}
}

// heldEvent is a delivery waiting for a resource to carry its object id.
type heldEvent struct {
	delivery
	expires time.Time
}

// earlyStore holds events whose object id no resource carries yet, in bounded memory
// for a bounded time. Each kind of resource has its own bound, so that events for
// objects of one kind that the operator does not manage (the responses of other
// applications sharing the OpenAI project, say) never push out those of another: when
// a kind is full, its oldest event makes room.
type earlyStore struct {
	mu          sync.Mutex
	max         int // per kind
	ttl         time.Duration
	byKey       map[routeKey]map[string]*list.Element // webhook-id -> element
	byWebhookID map[string]*list.Element
	order       map[targetKind]*list.List // of *heldEvent, oldest first
}

func newEarlyStore(maxPerKind int, ttl time.Duration) *earlyStore {
	return &earlyStore{
		max: maxPerKind, ttl: ttl,
		byKey:       map[routeKey]map[string]*list.Element{},
		byWebhookID: map[string]*list.Element{},
		order:       map[targetKind]*list.List{},
	}
}

// add holds d from now. It reports false if an event with the same webhook-id is
// already held, and returns the events of d's kind evicted to make room.
func (s *earlyStore) add(d delivery, now time.Time) (added bool, evicted []heldEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byWebhookID[d.webhookID]; ok {
		return false, nil
	}
	k := d.key()
	order := s.order[k.kind]
	if order == nil {
		order = list.New()
		s.order[k.kind] = order
	}
	for order.Len() >= s.max && order.Len() > 0 {
		evicted = append(evicted, *s.removeLocked(order.Front()))
	}
	e := order.PushBack(&heldEvent{delivery: d, expires: now.Add(s.ttl)})
	s.byWebhookID[d.webhookID] = e
	if s.byKey[k] == nil {
		s.byKey[k] = map[string]*list.Element{}
	}
	s.byKey[k][d.webhookID] = e
	return true, evicted
}

// has reports whether any event is held for k.
func (s *earlyStore) has(k routeKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey[k]) > 0
}

// holds reports whether an event with this webhook-id is held.
func (s *earlyStore) holds(webhookID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byWebhookID[webhookID]
	return ok
}

// peek returns the events held for k, oldest created first.
func (s *earlyStore) peek(k routeKey) []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]delivery, 0, len(s.byKey[k]))
	for _, e := range s.byKey[k] {
		out = append(out, e.Value.(*heldEvent).delivery)
	}
	sortDeliveries(out)
	return out
}

// remove forgets the event with this webhook-id. It reports whether it was held.
func (s *earlyStore) remove(webhookID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byWebhookID[webhookID]
	if ok {
		s.removeLocked(e)
	}
	return ok
}

// expire removes and returns the events held longer than the ttl.
func (s *earlyStore) expire(now time.Time) []heldEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []heldEvent
	for _, order := range s.order {
		for e := order.Front(); e != nil && !now.Before(e.Value.(*heldEvent).expires); e = order.Front() {
			out = append(out, *s.removeLocked(e))
		}
	}
	return out
}

func (s *earlyStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, order := range s.order {
		n += order.Len()
	}
	return n
}

func (s *earlyStore) removeLocked(e *list.Element) *heldEvent {
	h := e.Value.(*heldEvent)
	k := h.key()
	s.order[k.kind].Remove(e)
	delete(s.byWebhookID, h.webhookID)
	delete(s.byKey[k], h.webhookID)
	if len(s.byKey[k]) == 0 {
		delete(s.byKey, k)
	}
	return h
}

// sortDeliveries orders deliveries by the event's created_at, then receipt.
func sortDeliveries(ds []delivery) {
	slices.SortFunc(ds, func(a, b delivery) int {
		if c := a.event.CreatedAt.Compare(b.event.CreatedAt); c != 0 {
			return c
		}
		return a.receivedAt.Compare(b.receivedAt)
	})
}
