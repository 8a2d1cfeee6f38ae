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
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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

// WebhookEndpoint describes one webhook endpoint, of any project.
type WebhookEndpoint struct {
	// ID is the endpoint's id ("whe_...").
	ID string `json:"id"`
	// Project is the project the endpoint belongs to.
	Project string `json:"project"`
	// Name is the endpoint's name; the endpoints of Options.WebhookURLs and
	// AddWebhookURL have none.
	Name string `json:"name"`
	// URL receives the deliveries.
	URL string `json:"url"`
	// EventTypes are the event types delivered to it; empty means every type (the
	// endpoints configured by URL).
	EventTypes []string `json:"event_types"`
	// ActiveSecrets counts the secrets that sign its deliveries: two while a
	// rotation's overlap runs, else one.
	ActiveSecrets int `json:"active_secrets"`
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
	endpoints map[string]*endpoint // by id
	order     []*endpoint          // oldest first
	recs      []*WebhookDelivery
	closed    bool
}

// endpoint is a webhook endpoint and its delivery worker.
type endpoint struct {
	id      string
	project string
	// byURL marks the endpoints configured by URL (flags, AddWebhookURL, the control
	// API): unnamed, every event type, signed with the emulator's WebhookSecret.
	byURL  bool
	h      *hooks
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu         sync.Mutex // guards everything below
	name       string
	url        string
	eventTypes []string // nil: every type
	secrets    []signingSecret
	created    time.Time
	updated    time.Time
	queue      deliveryHeap
	seq        uint64
}

// signingSecret is one of an endpoint's secrets.
type signingSecret struct {
	secret    standardwebhooks.Secret
	expiresAt time.Time // zero: until the next rotation
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

// newEndpoint creates and starts an endpoint. h.mu must be held.
func (h *hooks) newEndpointLocked(project, name, rawURL string, eventTypes []string, secret standardwebhooks.Secret, byURL bool) (*endpoint, error) {
	if h.closed {
		return nil, errors.New("emulator is closed")
	}
	now := h.e.now()
	ctx, cancel := context.WithCancel(h.ctx)
	ep := &endpoint{
		id: h.e.ids.webhookEndpoint(), project: project, byURL: byURL, h: h, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1),
		name: name, url: rawURL, eventTypes: eventTypes, secrets: []signingSecret{{secret: secret}}, created: now, updated: now,
	}
	h.endpoints[ep.id] = ep
	h.order = append(h.order, ep)
	h.wg.Add(1)
	go ep.run()
	return ep, nil
}

// addURL configures an unnamed endpoint of DefaultProject for every event type, signed
// with the emulator's secret, unless one with that URL exists.
func (h *hooks) addURL(raw string) error {
	if err := validWebhookURL(raw); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ep := range h.order {
		if ep.byURL && ep.currentURL() == raw {
			return nil
		}
	}
	_, err := h.newEndpointLocked(DefaultProject, "", raw, nil, h.e.secret, true)
	return err
}

// removeURL deletes every endpoint that delivers to raw.
func (h *hooks) removeURL(raw string) bool {
	h.mu.Lock()
	var gone []*endpoint
	for _, ep := range h.order {
		if ep.currentURL() == raw {
			gone = append(gone, ep)
		}
	}
	for _, ep := range gone {
		h.unlinkLocked(ep)
	}
	h.mu.Unlock()
	for _, ep := range gone {
		ep.stop()
	}
	return len(gone) > 0
}

// remove deletes the endpoint id of project.
func (h *hooks) remove(project, id string) bool {
	h.mu.Lock()
	ep := h.endpoints[id]
	if ep == nil || ep.project != project {
		h.mu.Unlock()
		return false
	}
	h.unlinkLocked(ep)
	h.mu.Unlock()
	ep.stop()
	return true
}

// unlinkLocked forgets ep. h.mu must be held.
func (h *hooks) unlinkLocked(ep *endpoint) {
	delete(h.endpoints, ep.id)
	for i, o := range h.order {
		if o == ep {
			h.order = append(h.order[:i], h.order[i+1:]...)
			break
		}
	}
}

// stop ends the endpoint's worker and abandons its queued deliveries.
func (ep *endpoint) stop() {
	ep.cancel()
	ep.mu.Lock()
	q := ep.queue
	ep.queue = nil
	ep.mu.Unlock()
	ep.h.mu.Lock()
	for _, d := range q {
		if d.rec.State == DeliveryPending {
			d.rec.State = DeliveryAbandoned
		}
	}
	ep.h.mu.Unlock()
}

// get returns the endpoint id of project, or nil.
func (h *hooks) get(project, id string) *endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ep := h.endpoints[id]; ep != nil && ep.project == project {
		return ep
	}
	return nil
}

// ofProject returns project's endpoints, newest first.
func (h *hooks) ofProject(project string) []*endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*endpoint
	for i := len(h.order) - 1; i >= 0; i-- {
		if h.order[i].project == project {
			out = append(out, h.order[i])
		}
	}
	return out
}

func (ep *endpoint) currentURL() string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.url
}

// subscribed reports whether events of typ go to ep. ep.mu must be held.
func (ep *endpoint) subscribedLocked(typ string) bool {
	return ep.eventTypes == nil || slices.Contains(ep.eventTypes, typ)
}

// activeSecretsLocked returns the secrets that sign a delivery made at now, dropping
// the expired ones. ep.mu must be held.
func (ep *endpoint) activeSecretsLocked(now time.Time) []standardwebhooks.Secret {
	kept := ep.secrets[:0]
	for _, s := range ep.secrets {
		if s.expiresAt.IsZero() || now.Before(s.expiresAt) {
			kept = append(kept, s)
		}
	}
	ep.secrets = kept
	out := make([]standardwebhooks.Secret, 0, len(kept))
	for _, s := range kept {
		out = append(out, s.secret)
	}
	return out
}

// rotate gives ep a new secret. With keep, the current one keeps signing for overlap
// (a secret that already expires keeps its own end); without, only the new one signs.
func (ep *endpoint) rotate(secret standardwebhooks.Secret, keep bool, now time.Time, overlap time.Duration) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var kept []signingSecret
	if keep {
		ep.activeSecretsLocked(now)
		for _, s := range ep.secrets {
			if s.expiresAt.IsZero() {
				s.expiresAt = now.Add(overlap)
			}
			kept = append(kept, s)
		}
	}
	ep.secrets = append(kept, signingSecret{secret: secret})
	ep.updated = now
}

func (h *hooks) list() []WebhookEndpoint {
	h.mu.Lock()
	eps := append([]*endpoint(nil), h.order...)
	h.mu.Unlock()
	now := h.e.now()
	out := make([]WebhookEndpoint, 0, len(eps))
	for _, ep := range eps {
		ep.mu.Lock()
		out = append(out, WebhookEndpoint{
			ID: ep.id, Project: ep.project, Name: ep.name, URL: ep.url, EventTypes: slices.Clone(ep.eventTypes),
			ActiveSecrets: len(ep.activeSecretsLocked(now)), Pending: len(ep.queue),
		})
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

// eventBody is the JSON body of a webhook delivery.
func eventBody(eventID, typ, dataID string, at time.Time) []byte {
	return mustJSON(struct {
		ID        string            `json:"id"`
		Object    string            `json:"object"`
		CreatedAt int64             `json:"created_at"`
		Type      string            `json:"type"`
		Data      map[string]string `json:"data"`
	}{eventID, "event", at.Unix(), typ, map[string]string{"id": dataID}})
}

// emit queues a delivery of each event to every endpoint of the event's project that
// is subscribed to its type, applying the fault knobs. It never blocks on the network.
// The caller must not hold e.mu.
func (h *hooks) emit(evs []event) {
	if len(evs) == 0 {
		return
	}
	projects := make([]string, len(evs))
	for i, ev := range evs {
		projects[i] = h.e.projectOfObject(ev.dataID)
	}
	f := h.e.Faults()
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for i, ev := range evs {
		eventID, webhookID := h.e.ids.event(), h.e.ids.webhook()
		body := eventBody(eventID, ev.typ, ev.dataID, ev.at)
		for _, ep := range h.order {
			ep.mu.Lock()
			wanted, epURL := ep.project == projects[i] && ep.subscribedLocked(ev.typ), ep.url
			ep.mu.Unlock()
			if !wanted {
				continue
			}
			rec := &WebhookDelivery{WebhookID: webhookID, EventID: eventID, Type: ev.typ, DataID: ev.dataID,
				Endpoint: epURL, EndpointID: ep.id, State: DeliveryPending, EnqueuedAt: now}
			h.recs = append(h.recs, rec)
			if h.roll(f.WebhookDropRate) {
				rec.State = DeliveryDropped
				h.e.stats.dropped.Add(1)
				h.e.log.Debug("Dropping webhook delivery", "webhookID", webhookID, "type", ev.typ, "dataID", ev.dataID, "endpoint", redactURL(epURL))
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

// post makes one signed HTTP attempt of a delivery to the endpoint's current URL,
// signed with every active secret. It returns the status (0: no answer), Retry-After,
// the number of signatures and the transport error.
func (ep *endpoint) post(ctx context.Context, webhookID string, body []byte) (status int, retryAfter time.Duration, signatures int, err error) {
	now := time.Now()
	ep.mu.Lock()
	target, secrets := ep.url, ep.activeSecretsLocked(now)
	ep.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, err // the URL was validated when set
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", WebhookUserAgent)
	signedHeaders(webhookID, strconv.FormatInt(now.Unix(), 10), body, secrets...).Set(req.Header)
	resp, err := ep.h.client.Do(req)
	if err != nil {
		return 0, 0, len(secrets), err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), len(secrets), nil
}

// attempt makes one HTTP attempt of d and schedules what follows. Any answer but a 2xx
// (a 410 included: OpenAI retries every failure) is retried on RetrySchedule.
func (ep *endpoint) attempt(d *delivery) {
	h := ep.h
	now := time.Now()
	status, retryAfter, signatures, err := ep.post(ep.ctx, d.webhookID, d.body)
	if ep.ctx.Err() != nil {
		return // removed or closed mid-attempt
	}

	h.mu.Lock()
	rec := d.rec
	rec.Attempts++
	rec.LastStatus = status
	rec.LastAttemptAt = now
	rec.LastError = ""
	rec.Signatures = signatures
	typ, dataID := rec.Type, rec.DataID
	var requeue bool
	switch {
	case err == nil && status >= 200 && status < 300:
		rec.Delivered++
		rec.State = DeliveryDelivered
		if d.dupLeft > 0 {
			d.dupLeft--
			d.due = time.Now()
			requeue = true
		}
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

	log := h.e.log.With("webhookID", d.webhookID, "type", typ, "dataID", dataID, "endpoint", redactURL(ep.currentURL()), "attempt", attempts,
		"status", status)
	switch {
	case lastErr == "":
		log.Debug("Delivered webhook")
	case requeue:
		log.Debug("Webhook delivery failed, retrying", "error", lastErr, "retryAt", d.due)
	default:
		log.Warn("Webhook delivery failed, giving up", "error", lastErr)
	}
	if requeue {
		ep.push(d)
	}
}

// test sends one signed sample event of typ to ep now, never retried, and returns the
// HTTP status it answered (0 when it did not answer).
func (ep *endpoint) test(typ string) int {
	h := ep.h
	now := h.e.now()
	eventID, webhookID := h.e.ids.event(), h.e.ids.webhook()
	dataID := h.e.ids.sampleObject(typ)
	rec := &WebhookDelivery{WebhookID: webhookID, EventID: eventID, Type: typ, DataID: dataID, Endpoint: ep.currentURL(),
		EndpointID: ep.id, Test: true, State: DeliveryPending, EnqueuedAt: now}
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	status, _, signatures, err := ep.post(ep.ctx, webhookID, eventBody(eventID, typ, dataID, now))
	h.mu.Lock()
	rec.Attempts, rec.LastStatus, rec.LastAttemptAt, rec.Signatures = 1, status, now, signatures
	switch {
	case err == nil && status >= 200 && status < 300:
		rec.Delivered, rec.State = 1, DeliveryDelivered
	case err != nil:
		rec.State, rec.LastError = DeliveryFailed, err.Error()
	default:
		rec.State, rec.LastError = DeliveryFailed, fmt.Sprintf("endpoint answered HTTP %d", status)
	}
	h.mu.Unlock()
	h.e.log.Debug("Sent a test webhook", "webhookID", webhookID, "type", typ, "endpoint", redactURL(rec.Endpoint), "status", status)
	return status
}

// signedHeaders returns the Standard Webhooks headers of a delivery: webhook-id,
// webhook-timestamp and webhook-signature, one "v1," + base64 HMAC-SHA256 per secret,
// separated by spaces.
func signedHeaders(webhookID, timestamp string, body []byte, secrets ...standardwebhooks.Secret) standardwebhooks.Headers {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sigs = append(sigs, s.SignRaw(webhookID, timestamp, body))
	}
	return standardwebhooks.Headers{ID: webhookID, Timestamp: timestamp, Signature: strings.Join(sigs, " ")}
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
