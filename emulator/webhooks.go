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

package emulator

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// WebhookUserAgent is the user-agent of webhook deliveries, as OpenAI's.
const WebhookUserAgent = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"

// RetrySchedule is the Standard Webhooks retry schedule (scaled by the time scale):
// after the first attempt fails, the next ones wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
// 14 h, 20 h and 24 h, each with ±10% jitter. After the last one the delivery fails.
var RetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// maxRetryAfter caps a receiver's Retry-After.
const maxRetryAfter = 24 * time.Hour

// WebhookEndpoint describes one configured webhook URL.
type WebhookEndpoint struct {
	// URL receives the deliveries.
	URL string `json:"url"`
	// Disabled is true once the endpoint answered 410 Gone; adding it again re-enables it.
	Disabled bool `json:"disabled"`
	// Pending counts deliveries waiting for an attempt.
	Pending int `json:"pending"`
}

type hooks struct {
	e      *Emulator
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex // guards everything below and every *WebhookDelivery in recs
	rng       *mrand.Rand
	endpoints map[string]*endpoint
	order     []*endpoint
	recs      []*WebhookDelivery
	closed    bool
}

type endpoint struct {
	url    string
	h      *hooks
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu       sync.Mutex
	queue    deliveryHeap
	seq      uint64
	disabled bool
}

type delivery struct {
	rec       *WebhookDelivery
	webhookID string
	body      []byte
	failures  int // failed attempts so far
	dupLeft   int // extra deliveries still to send (duplicate knob)
	due       time.Time
	seq       uint64
}

type deliveryHeap []*delivery

func (q deliveryHeap) Len() int { return len(q) }
func (q deliveryHeap) Less(i, j int) bool {
	if q[i].due.Equal(q[j].due) {
		return q[i].seq < q[j].seq
	}
	return q[i].due.Before(q[j].due)
}
func (q deliveryHeap) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *deliveryHeap) Push(x any)   { *q = append(*q, x.(*delivery)) }
func (q *deliveryHeap) Pop() any {
	old := *q
	n := len(old)
	x := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return x
}

func newHooks(e *Emulator, rng *mrand.Rand, timeout time.Duration) *hooks {
	ctx, cancel := context.WithCancel(context.Background())
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	return &hooks{
		e: e, rng: rng, ctx: ctx, cancel: cancel, endpoints: map[string]*endpoint{},
		client: &http.Client{
			Timeout:   timeout,
			Transport: transport,
			// A 3xx is a failed delivery, never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func validWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook URL %q must be an absolute http or https URL", redactURL(raw))
	}
	return nil
}

// redactURL drops the query and user info, which may carry tokens, for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	return u.String()
}

// add configures an endpoint, or re-enables a disabled one.
func (h *hooks) add(raw string) error {
	if err := validWebhookURL(raw); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fmt.Errorf("emulator is closed")
	}
	if ep := h.endpoints[raw]; ep != nil {
		ep.mu.Lock()
		ep.disabled = false
		ep.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(h.ctx)
	ep := &endpoint{url: raw, h: h, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	h.endpoints[raw] = ep
	h.order = append(h.order, ep)
	h.wg.Add(1)
	go ep.run()
	return nil
}

// remove stops an endpoint's worker; its pending deliveries are marked disabled.
func (h *hooks) remove(raw string) bool {
	h.mu.Lock()
	ep := h.endpoints[raw]
	if ep != nil {
		delete(h.endpoints, raw)
		for i, o := range h.order {
			if o == ep {
				h.order = append(h.order[:i], h.order[i+1:]...)
				break
			}
		}
	}
	h.mu.Unlock()
	if ep == nil {
		return false
	}
	ep.cancel()
	ep.abandon()
	return true
}

// abandon marks every queued delivery disabled and empties the queue.
func (ep *endpoint) abandon() {
	ep.mu.Lock()
	q := ep.queue
	ep.queue = nil
	ep.mu.Unlock()
	ep.h.mu.Lock()
	for _, d := range q {
		if d.rec.State == DeliveryPending {
			d.rec.State = DeliveryDisabled
		}
	}
	ep.h.mu.Unlock()
}

func (h *hooks) list() []WebhookEndpoint {
	h.mu.Lock()
	eps := append([]*endpoint(nil), h.order...)
	h.mu.Unlock()
	out := make([]WebhookEndpoint, 0, len(eps))
	for _, ep := range eps {
		ep.mu.Lock()
		out = append(out, WebhookEndpoint{URL: ep.url, Disabled: ep.disabled, Pending: len(ep.queue)})
		ep.mu.Unlock()
	}
	return out
}

func (h *hooks) records() []WebhookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]WebhookDelivery, len(h.recs))
	for i, r := range h.recs {
		out[i] = *r
	}
	return out
}

func (h *hooks) resetRecords() {
	h.mu.Lock()
	h.recs = nil
	h.mu.Unlock()
}

func (h *hooks) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	h.client.CloseIdleConnections()
}

// emit queues a delivery of each event to every enabled endpoint, applying the fault
// knobs. It never blocks on the network.
func (h *hooks) emit(evs []event) {
	if len(evs) == 0 {
		return
	}
	f := h.e.Faults()
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, ev := range evs {
		eventID, webhookID := h.e.ids.event(), h.e.ids.webhook()
		body := mustJSON(struct {
			ID        string            `json:"id"`
			Object    string            `json:"object"`
			CreatedAt int64             `json:"created_at"`
			Type      string            `json:"type"`
			Data      map[string]string `json:"data"`
		}{eventID, "event", ev.at.Unix(), ev.typ, map[string]string{"id": ev.dataID}})
		for _, ep := range h.order {
			ep.mu.Lock()
			disabled := ep.disabled
			ep.mu.Unlock()
			if disabled {
				continue
			}
			rec := &WebhookDelivery{WebhookID: webhookID, EventID: eventID, Type: ev.typ, DataID: ev.dataID,
				Endpoint: ep.url, State: DeliveryPending, EnqueuedAt: now}
			h.recs = append(h.recs, rec)
			if h.roll(f.WebhookDropRate) {
				rec.State = DeliveryDropped
				h.e.stats.dropped.Add(1)
				h.e.log.Debug("Dropping webhook delivery", "webhookID", webhookID, "type", ev.typ, "dataID", ev.dataID, "endpoint", redactURL(ep.url))
				continue
			}
			d := &delivery{rec: rec, webhookID: webhookID, body: body, due: now}
			if h.roll(f.WebhookDelayRate) && f.WebhookDelay > 0 {
				d.due = d.due.Add(f.WebhookDelay)
				rec.Delayed = true
				h.e.stats.delayed.Add(1)
			}
			if h.roll(f.WebhookDuplicateRate) {
				d.dupLeft = 1
				rec.Duplicated = true
				h.e.stats.duplicated.Add(1)
			}
			if f.WebhookReorder {
				d.due = d.due.Add(time.Duration(h.rng.Int64N(int64(ReorderWindow))))
				rec.Reordered = true
				h.e.stats.reorderedCount.Add(1)
			}
			ep.push(d)
		}
	}
}

// roll draws true with probability p. h.mu must be held.
func (h *hooks) roll(p float64) bool {
	return p > 0 && h.rng.Float64() < p
}

func (ep *endpoint) push(d *delivery) {
	ep.mu.Lock()
	ep.seq++
	d.seq = ep.seq
	heap.Push(&ep.queue, d)
	ep.mu.Unlock()
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

// run delivers the endpoint's queue, one attempt at a time, each at its due time.
func (ep *endpoint) run() {
	defer ep.h.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		ep.mu.Lock()
		var d *delivery
		var wait time.Duration = -1
		if len(ep.queue) > 0 {
			if until := time.Until(ep.queue[0].due); until > 0 {
				wait = until
			} else {
				d = heap.Pop(&ep.queue).(*delivery)
			}
		}
		ep.mu.Unlock()
		if d != nil {
			ep.attempt(d)
			continue
		}
		if wait < 0 {
			select {
			case <-ep.wake:
			case <-ep.ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-ep.wake:
			timer.Stop()
		case <-ep.ctx.Done():
			timer.Stop()
			return
		}
	}
}

// attempt makes one HTTP attempt of d and schedules what follows.
func (ep *endpoint) attempt(d *delivery) {
	h := ep.h
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	req, err := http.NewRequestWithContext(ep.ctx, http.MethodPost, ep.url, bytes.NewReader(d.body))
	if err != nil {
		return // the URL was validated when added
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", WebhookUserAgent)
	h.e.signedHeaders(d.webhookID, ts, d.body).Set(req.Header)

	status := 0
	var retryAfter time.Duration
	resp, err := h.client.Do(req)
	if err == nil {
		status = resp.StatusCode
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}
	if ep.ctx.Err() != nil {
		return // removed or closed mid-attempt
	}

	h.mu.Lock()
	rec := d.rec
	rec.Attempts++
	rec.LastStatus = status
	rec.LastAttemptAt = now
	rec.LastError = ""
	typ, dataID := rec.Type, rec.DataID
	var requeue bool
	var disable bool
	switch {
	case err == nil && status >= 200 && status < 300:
		rec.Delivered++
		rec.State = DeliveryDelivered
		if d.dupLeft > 0 {
			d.dupLeft--
			d.due = time.Now()
			requeue = true
		}
	case status == http.StatusGone:
		rec.State = DeliveryDisabled
		rec.LastError = "endpoint answered 410 Gone: disabled"
		disable = true
	default:
		if err != nil {
			rec.LastError = err.Error()
		} else {
			rec.LastError = fmt.Sprintf("endpoint answered HTTP %d", status)
		}
		d.failures++
		if d.failures > len(RetrySchedule) {
			if rec.State == DeliveryPending {
				rec.State = DeliveryFailed
			}
			break
		}
		wait := h.e.scaled(RetrySchedule[d.failures-1])
		wait = time.Duration(float64(wait) * (0.9 + 0.2*h.rng.Float64()))
		if retryAfter > wait {
			wait = retryAfter
		}
		d.due = time.Now().Add(wait)
		requeue = true
	}
	attempts, lastErr := rec.Attempts, rec.LastError
	h.mu.Unlock()

	log := h.e.log.With("webhookID", d.webhookID, "type", typ, "dataID", dataID, "endpoint", redactURL(ep.url), "attempt", attempts, "status", status)
	switch {
	case lastErr == "":
		log.Debug("Delivered webhook")
	case disable:
		log.Warn("Disabling webhook endpoint after 410 Gone")
	case requeue:
		log.Debug("Webhook delivery failed, retrying", "error", lastErr, "retryAt", d.due)
	default:
		log.Warn("Webhook delivery failed, giving up", "error", lastErr)
	}

	if disable {
		ep.mu.Lock()
		ep.disabled = true
		ep.mu.Unlock()
		ep.abandon()
		return
	}
	if requeue {
		ep.push(d)
	}
}

// signedHeaders returns the Standard Webhooks headers of a delivery: webhook-id,
// webhook-timestamp and webhook-signature ("v1," + base64 HMAC-SHA256).
func (e *Emulator) signedHeaders(webhookID, timestamp string, body []byte) standardwebhooks.Headers {
	return standardwebhooks.Headers{ID: webhookID, Timestamp: timestamp, Signature: e.secret.SignRaw(webhookID, timestamp, body)}
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
