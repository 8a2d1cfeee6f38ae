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
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// hostileRequest is one planned request and what the receiver must answer.
type hostileRequest struct {
	category    string
	method      string
	path        string
	header      http.Header
	body        []byte
	chunked     bool  // send without a Content-Length
	declared    int64 // when > 0: announce this Content-Length and send only after 100 Continue
	stall       int64 // when > 0: announce this Content-Length, send body, then stall
	wantCode    int
	wantOutcome string // the outcome label it is counted under; "" when not counted
	target      int    // the resource a valid event is for, else -1
	eventID     string
}

// Request categories of the hostile mix.
const (
	catValid     = "valid event"
	catDuplicate = "duplicate delivery"
	catBadSig    = "bad signature"
	catStale     = "stale or future timestamp"
	catOversize  = "over-size body"
	catGarbage   = "garbage"
	catUnmanaged = "verified, unmanaged type"
	catUnknownID = "verified, unknown object id"
	catMethod    = "wrong method"
	catPath      = "wrong path"
	catLarge     = "large body without a valid signature"
	catSlow      = "slow body"
)

// TestHostileLoadOnTheReceiver attacks the receiver process in two phases.
//
// First, memory: 150 connections hold 1 MiB POSTs (without webhook headers, with forged
// ones and an announced length, with forged ones and a chunked body), and 100 more send
// a body slowly and stall, more than there are places to read bodies. Meanwhile a
// genuine event must be answered 2xx within 5 s, and the attack must cost the receiver
// less than 40 MiB of resident memory.
//
// Then, a stream of requests that mixes valid events with 1% duplicates, 5% bad
// signatures, 1% stale or future timestamps, over-size bodies, large bodies without a
// valid signature, slow bodies and garbage. Every request must get exactly its expected
// status code (so no false accept), the receiver's outcome counters must match the plan
// exactly, and the API server must see exactly one status write per valid event
// (counted by a watch on the resources, with the manager stopped so that the receiver
// is the only writer). The process must not restart or panic, and its peak RSS is
// reported and bounded.
//
//nolint:gocyclo // the scenario's phases, top to bottom as the doc comment tells them
func TestHostileLoadOnTheReceiver(t *testing.T) {
	t.Parallel()
	rec := record(t)
	const ns = "hostile"
	h := up(t, envOptions{timeScale: 1, namespaces: []string{ns}})
	h.proc("manager").Stop() // the receiver must be the only writer
	c := h.ControlPlane.Client
	r := rng(t)
	secret, err := standardwebhooks.ParseSecret(h.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	recv := h.proc("webhook-receiver")
	pid := recv.Pid()

	// Targets: resources whose status carries an OpenAI id, as the controller leaves them.
	k := size.hostileTargets
	targets := make([]client.Object, k)
	for i := range k {
		targets[i] = hostileTarget(ns, i)
	}
	createAll(t, c, targets)
	for _, o := range targets {
		setHostileStatus(t, c, o)
	}

	// Warm up: one event per target, answered 200 (or 202 until the receiver's cache
	// sees the id, then applied); wait until every target records it.
	created := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i := range k {
		body := eventBody(fmt.Sprintf("evt_warm_%d", i), targetEventType(i), created, targetID(i))
		req := signed(secret, fmt.Sprintf("wh_warm_%d", i), time.Now(), body)
		if code, err := send(hostileClient, h.ReceiverURL, req); err != nil || code >= 300 {
			t.Fatalf("warm-up event %d: %d %v", i, code, err)
		}
	}
	waitRecorded(t, c, ns, func(i int) string { return fmt.Sprintf("evt_warm_%d", i) }, k)

	held := holdBodies(t, h.ReceiverURL, pid, secret, created)
	waitRecorded(t, c, ns, func(i int) string {
		if i == 0 {
			return heldGenuineEvent
		}
		return fmt.Sprintf("evt_warm_%d", i)
	}, k)

	tr := track(t, h.ControlPlane.Config, ns)
	before := scrape(t, h.ReceiverMetricsURL())
	plan, workers := planHostile(r, secret, size.hostileRequests, k, created)

	// Send: each worker sends its share in order (a target's events and their
	// duplicates always come from the same worker, in order).
	type outcome struct {
		req     *hostileRequest
		code    int
		err     error
		elapsed time.Duration
	}
	results := make([][]outcome, len(workers))
	start := time.Now()
	var wg sync.WaitGroup
	for w, reqs := range workers {
		wg.Go(func() {
			for _, i := range reqs {
				q := &plan[i]
				t0 := time.Now()
				code, err := send(hostileClient, h.ReceiverURL, q)
				results[w] = append(results[w], outcome{req: q, code: code, err: err, elapsed: time.Since(t0)})
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Every request got exactly its expected code.
	wantOutcomes := map[string]float64{}
	wantWrites := 0
	perCategory := map[string]int{}
	var falseAccepts, wrongCodes int
	var latencies []time.Duration
	lastEvent := map[int]string{}
	for _, rs := range results {
		for _, o := range rs {
			q := o.req
			perCategory[q.category]++
			if q.wantOutcome != "" {
				wantOutcomes[q.wantOutcome]++
			}
			if q.category == catValid {
				wantWrites++
				lastEvent[q.target] = q.eventID
			}
			latencies = append(latencies, o.elapsed)
			if o.err == nil && o.code < 300 && q.wantCode >= 300 {
				falseAccepts++
			}
			if o.err != nil || o.code != q.wantCode {
				wrongCodes++
				if wrongCodes <= 10 {
					t.Errorf("%s %s (%s): got %d %v, want %d", q.method, q.path, q.category, o.code, o.err, q.wantCode)
				}
			}
		}
	}
	if falseAccepts > 0 {
		t.Errorf("%d requests that should have been refused were answered 2xx", falseAccepts)
	}
	if wrongCodes > 10 {
		t.Errorf("... %d requests in all got an unexpected answer", wrongCodes)
	}

	// The receiver counted exactly the planned outcomes.
	after := scrape(t, h.ReceiverMetricsURL())
	for _, o := range []string{receiver.OutcomeAccepted, receiver.OutcomeDuplicate, receiver.OutcomeInvalidSignature,
		receiver.OutcomeStale, receiver.OutcomeTooLarge, receiver.OutcomeMalformed, receiver.OutcomeUnmanaged,
		receiver.OutcomeEarly, receiver.OutcomeMethodNotAllowed, receiver.OutcomeWriteError, receiver.OutcomeUnavailable,
		receiver.OutcomeSuperseded, receiver.OutcomeDropped, receiver.OutcomeTooSlow, receiver.OutcomeOverloaded,
		receiver.OutcomeNoSecret} {
		got := after.sum("openai_webhook_events_total", "outcome", o) - before.sum("openai_webhook_events_total", "outcome", o)
		if got != wantOutcomes[o] {
			t.Errorf("outcome %s counted %v times, want %v", o, got, wantOutcomes[o])
		}
	}

	// The API server saw exactly one status write per valid event, and no more.
	writes := func() int {
		n := 0
		for _, h := range tr.snapshot() {
			n += h.writes
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for writes() < wantWrites && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if writes() != wantWrites {
			break
		}
	}
	if got := writes(); got != wantWrites {
		t.Errorf("the API server saw %d status writes, want %d (one per valid event)", got, wantWrites)
	}
	waitRecorded(t, c, ns, func(i int) string {
		if id, ok := lastEvent[i]; ok {
			return id
		}
		if i == 0 {
			return heldGenuineEvent
		}
		return fmt.Sprintf("evt_warm_%d", i)
	}, k)

	// Still the same process, alive, no panic; memory bounded.
	if !recv.Running() || recv.Pid() != pid {
		t.Errorf("the receiver process did not survive (running %v)", recv.Running())
	}
	if log := recv.Log(); strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
		t.Errorf("the receiver log shows a panic:\n%s", lastLines(log, 40))
	}
	peak, err := peakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if peak > maxReceiverRSSMiB {
		t.Errorf("the receiver's peak RSS is %.1f MiB, above the %d MiB bound", peak, maxReceiverRSSMiB)
	}

	slices.Sort(latencies)
	held.report(rec)
	rec.setup("requests", len(plan))
	for _, cat := range []string{
		catValid, catDuplicate, catBadSig, catStale, catOversize, catLarge, catSlow, catGarbage, catUnmanaged, catUnknownID, catMethod, catPath,
	} {
		rec.setup(cat, perCategory[cat])
	}
	rec.setup("targets (OpenAIBatch and OpenAIResponse)", k)
	rec.setup("concurrent senders", len(workers))
	rec.add("requests with an unexpected status code", wrongCodes)
	rec.add("false accepts (2xx to a request that must be refused)", falseAccepts)
	rec.add("status writes seen by the API server (expected)", fmt.Sprintf("%d (%d)", writes(), wantWrites))
	rec.add("duration", elapsed)
	rec.add("throughput", fmt.Sprintf("%.0f requests/s", float64(len(plan))/elapsed.Seconds()))
	rec.add(
		"latency p50 / p99 / max",
		fmt.Sprintf("%s / %s / %s", pct(latencies, 50), pct(latencies, 99), latencies[len(latencies)-1].Round(time.Millisecond)),
	)
	rec.add("peak RSS of the receiver over both phases (VmHWM)", fmt.Sprintf("%.1f MiB (bound %d MiB)", peak, maxReceiverRSSMiB))
}

// maxReceiverRSSMiB bounds the receiver's peak RSS over the whole scenario (its body
// cap is 64 KiB, the bodies read at once are bounded, its dedup and early-event stores
// are bounded).
const maxReceiverRSSMiB = 128

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100].Round(100 * time.Microsecond)
}

// hostileClient sends the hostile requests: bounded, and waiting for 100 Continue before
// it sends a body announced as too large.
var hostileClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		MaxIdleConnsPerHost:   16,
		ExpectContinueTimeout: 10 * time.Second,
		DisableCompression:    true,
	},
}

func targetID(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("batch_hostile_%04d", i)
	}
	return fmt.Sprintf("resp_hostile_%04d", i)
}

func targetEventType(i int) string {
	if i%2 == 0 {
		return "batch.completed"
	}
	return "response.completed"
}

func hostileTarget(ns string, i int) client.Object {
	name := fmt.Sprintf("target-%04d", i)
	if i%2 == 0 {
		return newBatch(ns, name, 1)
	}
	return newResponse(ns, name)
}

// setHostileStatus writes the OpenAI id into status, as the controller would have.
func setHostileStatus(t *testing.T, c client.Client, o client.Object) {
	t.Helper()
	var i int
	_, _ = fmt.Sscanf(o.GetName(), "target-%d", &i)
	var patch client.Patch
	switch obj := o.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		base := obj.DeepCopy()
		obj.Status.Phase, obj.Status.BatchID = openaiv1alpha1.BatchPhaseInProgress, targetID(i)
		patch = client.MergeFrom(base)
	case *openaiv1alpha1.OpenAIResponse:
		base := obj.DeepCopy()
		obj.Status.Phase, obj.Status.ResponseID = openaiv1alpha1.ResponsePhaseInProgress, targetID(i)
		patch = client.MergeFrom(base)
	}
	if err := c.Status().Patch(context.Background(), o, patch); err != nil {
		t.Fatalf("writing the status of %s: %v", o.GetName(), err)
	}
}

// waitRecorded waits until target i of ns records the event want(i), for every i < k.
func waitRecorded(t *testing.T, c client.Client, ns string, want func(int) string, k int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		missing := 0
		var example string
		var batches openaiv1alpha1.OpenAIBatchList
		var responses openaiv1alpha1.OpenAIResponseList
		err1 := c.List(context.Background(), &batches, client.InNamespace(ns))
		err2 := c.List(context.Background(), &responses, client.InNamespace(ns))
		got := map[string]*openaiv1alpha1.WebhookEvent{}
		for _, b := range batches.Items {
			got[b.Name] = b.Status.LastWebhookEvent
		}
		for _, r := range responses.Items {
			got[r.Name] = r.Status.LastWebhookEvent
		}
		for i := range k {
			name := fmt.Sprintf("target-%04d", i)
			if ev := got[name]; ev == nil || ev.ID != want(i) {
				missing++
				example = fmt.Sprintf("%s records %v, want %s", name, ev, want(i))
			}
		}
		if err1 == nil && err2 == nil && missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d targets do not record their last event after a minute (%v %v): %s", missing, err1, err2, example)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eventBody is an OpenAI event.
func eventBody(id, typ string, created time.Time, objectID string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","created_at":%d,"type":%q,"data":{"id":%q}}`, id, created.Unix(), typ, objectID)
}

// signed is a POST of body signed with secret at ts.
func signed(secret standardwebhooks.Secret, webhookID string, ts time.Time, body []byte) *hostileRequest {
	q := &hostileRequest{method: http.MethodPost, body: body, header: http.Header{}, target: -1}
	q.header.Set("Content-Type", "application/json")
	standardwebhooks.Headers{ID: webhookID, Timestamp: strconv.FormatInt(ts.Unix(), 10), Signature: secret.Sign(webhookID, ts, body)}.Set(q.header)
	return q
}

// send sends q to url (or url's host with q.path) and returns the status code.
func send(hc *http.Client, url string, q *hostileRequest) (int, error) {
	if q.path != "" {
		url = url[:strings.Index(url[len("http://"):], "/")+len("http://")] + q.path
	}
	var body io.Reader = bytes.NewReader(q.body)
	if q.chunked {
		body = io.MultiReader(bytes.NewReader(q.body)) // hides the length: chunked
	}
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, err
	}
	for k, v := range q.header {
		req.Header[k] = v
	}
	var release chan struct{}
	switch {
	case q.chunked:
		req.ContentLength = -1
	case q.stall > 0:
		release = make(chan struct{})
		req.ContentLength = q.stall
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(q.body), stalled(release)))
	case q.declared > 0:
		req.ContentLength = q.declared
		req.Body = io.NopCloser(io.LimitReader(zeros{}, q.declared))
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := hc.Do(req)
	if release != nil {
		close(release)
	}
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// stalled is a reader that blocks until release is closed, then ends.
type stalled chan struct{}

func (s stalled) Read([]byte) (int, error) {
	<-s
	return 0, io.EOF
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// planHostile builds n requests and deals them to workers: a target's valid events
// and their duplicates always go to the worker that owns the target, in order.
func planHostile(r *mrand.Rand, secret standardwebhooks.Secret, n, k int, created time.Time) ([]hostileRequest, [][]int) {
	const workers = 8
	other := standardwebhooks.NewSecret(randomBytes(32))
	now := time.Now()
	// One over-size body, shared: 1 byte over the receiver's default cap.
	big := bytes.Repeat([]byte("a"), receiver.DefaultMaxBodyBytes+1)
	plan := make([]hostileRequest, 0, n)
	owner := make([]int, 0, n)
	var valid []int // indexes of valid events in plan
	seq := 0
	for i := range n {
		x := r.Float64()
		var q *hostileRequest
		var w int
		switch {
		case x < 0.01 && len(valid) > 0: // 1% duplicates: an earlier valid delivery, again
			orig := valid[r.IntN(len(valid))]
			dup := plan[orig]
			dup.category, dup.wantCode, dup.wantOutcome = catDuplicate, http.StatusOK, receiver.OutcomeDuplicate
			q, w = &dup, owner[orig]
		case x < 0.06: // 5% bad signatures, of several kinds, with fresh timestamps
			q = badSignature(r, secret, other, i, created, now)
		case x < 0.07: // 1% stale or future timestamps, correctly signed
			skew := time.Duration(301+r.IntN(7200)) * time.Second
			if r.IntN(4) == 0 {
				skew = -skew
			}
			id := fmt.Sprintf("wh_stale_%d", i)
			q = signed(secret, id, now.Add(-skew), eventBody("evt_stale_"+strconv.Itoa(i), "batch.completed", created, targetID(r.IntN(k))))
			q.category, q.wantCode, q.wantOutcome = catStale, http.StatusUnauthorized, receiver.OutcomeStale
		case x < 0.075: // 0.5% over-size bodies, correctly signed
			id := fmt.Sprintf("wh_big_%d", i)
			q = signed(secret, id, now, big)
			if r.IntN(2) == 0 {
				q.chunked = true
			} else {
				q.body, q.declared = nil, 8<<20
			}
			q.category, q.wantCode, q.wantOutcome = catOversize, http.StatusRequestEntityTooLarge, receiver.OutcomeTooLarge
		case x < 0.08: // 0.5% large bodies without a valid signature
			q = largeUnsigned(r, other, i, now)
		case x < 0.082: // 0.2% slow bodies: forged headers, then the body stalls
			q = signed(other, fmt.Sprintf("wh_slow_%d", i), now, []byte(`{"id":`))
			q.stall = 100
			q.category, q.wantCode, q.wantOutcome = catSlow, http.StatusRequestTimeout, receiver.OutcomeTooSlow
		case x < 0.095: // 1.3% garbage
			q = garbage(r, secret, i, now)
		case x < 0.1: // 0.5% verified events of a type the operator does not manage
			q = signed(secret, fmt.Sprintf("wh_eval_%d", i), now, eventBody("evt_eval_"+strconv.Itoa(i), "eval.run.succeeded", created, "evalrun_1"))
			q.category, q.wantCode, q.wantOutcome = catUnmanaged, http.StatusOK, receiver.OutcomeUnmanaged
		case x < 0.105: // 0.5% verified events for an object no resource carries
			q = signed(
				secret,
				fmt.Sprintf("wh_unknown_%d", i),
				now,
				eventBody("evt_unknown_"+strconv.Itoa(i), "batch.completed", created, fmt.Sprintf("batch_unknown_%d", i)),
			)
			q.category, q.wantCode, q.wantOutcome = catUnknownID, http.StatusAccepted, receiver.OutcomeEarly
		case x < 0.1075: // wrong method
			q = signed(secret, fmt.Sprintf("wh_get_%d", i), now, nil)
			q.method = http.MethodGet
			q.category, q.wantCode, q.wantOutcome = catMethod, http.StatusMethodNotAllowed, receiver.OutcomeMethodNotAllowed
		case x < 0.11: // wrong path
			q = signed(secret, fmt.Sprintf("wh_path_%d", i), now, eventBody("evt_path_"+strconv.Itoa(i), "batch.completed", created, targetID(0)))
			q.path = "/openai/webhook/../admin"
			q.category, q.wantCode = catPath, http.StatusNotFound
		default: // valid events
			target := r.IntN(k)
			seq++
			eid := fmt.Sprintf("evt_%d", seq)
			q = signed(secret, fmt.Sprintf("wh_%d", seq), now, eventBody(eid, targetEventType(target), created, targetID(target)))
			q.category, q.wantCode, q.wantOutcome = catValid, http.StatusOK, receiver.OutcomeAccepted
			q.target, q.eventID = target, eid
			w = target % workers
			valid = append(valid, len(plan))
		}
		if q.category != catValid && q.category != catDuplicate {
			w = i % workers
		}
		plan = append(plan, *q)
		owner = append(owner, w)
	}
	deal := make([][]int, workers)
	for i, w := range owner {
		deal[w] = append(deal[w], i)
	}
	return plan, deal
}

// badSignature is a fresh, well-formed request whose signature must not verify.
func badSignature(r *mrand.Rand, secret, other standardwebhooks.Secret, i int, created, now time.Time) *hostileRequest {
	id := fmt.Sprintf("wh_bad_%d", i)
	body := eventBody("evt_bad_"+strconv.Itoa(i), "batch.completed", created, targetID(0))
	var q *hostileRequest
	switch r.IntN(5) {
	case 0: // signed with another secret
		q = signed(other, id, now, body)
	case 1: // a valid signature over another body
		q = signed(secret, id, now, body)
		q.body = bytes.Replace(body, []byte("batch.completed"), []byte("batch.cancelled"), 1)
	case 2: // a valid signature for another webhook-id (replay under a new id)
		q = signed(secret, id+"_orig", now, body)
		q.header.Set(standardwebhooks.HeaderID, id)
	case 3: // a signature of another scheme only
		q = signed(secret, id, now, body)
		q.header.Set(standardwebhooks.HeaderSignature, "v1a,"+strings.TrimPrefix(q.header.Get(standardwebhooks.HeaderSignature), "v1,"))
	default: // a truncated signature
		q = signed(secret, id, now, body)
		s := q.header.Get(standardwebhooks.HeaderSignature)
		q.header.Set(standardwebhooks.HeaderSignature, s[:len(s)-4])
	}
	q.category, q.wantCode, q.wantOutcome = catBadSig, http.StatusUnauthorized, receiver.OutcomeInvalidSignature
	return q
}

// largeUnsigned is a 1 MiB request without a valid signature: without webhook
// headers (400), or with well-formed, fresh, forged ones and an announced length or a
// chunked body (413, never verified).
func largeUnsigned(r *mrand.Rand, forger standardwebhooks.Secret, i int, now time.Time) *hostileRequest {
	body := bytes.Repeat([]byte("a"), 1<<20)
	q := signed(forger, fmt.Sprintf("wh_large_%d", i), now, body)
	q.category, q.wantCode, q.wantOutcome = catLarge, http.StatusRequestEntityTooLarge, receiver.OutcomeTooLarge
	switch r.IntN(3) {
	case 0:
		q.header = http.Header{}
		q.body, q.declared = nil, 1<<20
		q.wantCode, q.wantOutcome = http.StatusBadRequest, receiver.OutcomeMalformed
	case 1:
		q.body, q.declared = nil, 1<<20
	default:
		q.chunked = true
	}
	return q
}

// garbage is a request that is not a webhook event at all.
func garbage(r *mrand.Rand, secret standardwebhooks.Secret, i int, now time.Time) *hostileRequest {
	junk := randomBytes(1 + r.IntN(2048))
	q := &hostileRequest{method: http.MethodPost, header: http.Header{}, body: junk, target: -1, category: catGarbage,
		wantCode: http.StatusBadRequest, wantOutcome: receiver.OutcomeMalformed}
	switch r.IntN(5) {
	case 0: // no webhook headers
	case 1: // headers of the wrong shape
		q.header.Set(standardwebhooks.HeaderID, "x")
		q.header.Set(standardwebhooks.HeaderTimestamp, "yesterday")
		q.header.Set(standardwebhooks.HeaderSignature, "v1,"+strings.Repeat("A", 44))
	case 2: // correctly signed bytes that are not JSON
		q = signed(secret, fmt.Sprintf("wh_junk_%d", i), now, junk)
	case 3: // correctly signed JSON that is not an event
		q = signed(secret, fmt.Sprintf("wh_json_%d", i), now, []byte(`[{"id":"evt_1","type":"batch.completed"}]`))
	default: // a correctly signed event without data.id
		q = signed(
			secret,
			fmt.Sprintf("wh_nodata_%d", i),
			now,
			fmt.Appendf(nil, `{"id":"evt_nodata_%d","type":"batch.completed","created_at":%d,"data":{}}`, i, now.Unix()),
		)
	}
	q.category, q.wantCode, q.wantOutcome = catGarbage, http.StatusBadRequest, receiver.OutcomeMalformed
	return q
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// heldGenuineEvent is the event the first phase delivers to target 0 under attack.
const heldGenuineEvent = "evt_genuine_under_attack"

// Targets of the first phase.
const (
	heldPOSTs       = 150     // connections holding a 1 MiB POST
	heldSlowSenders = 100     // connections sending a body slowly, then stalling
	heldBodyBytes   = 1 << 20 // what each held POST announces or streams
	heldMemoryMiB   = 40      // what the attack may cost the receiver, resident
	heldAnswerLimit = 5 * time.Second
)

// heldAttack is what the first phase measured.
type heldAttack struct {
	baseRSS, peakRSS float64 // MiB: before the attack, and the highest sample during it
	genuineCode      int
	genuineLatency   time.Duration
	answers          map[string]map[int]int // attacker shape -> status code (0: none) -> count
}

// holdBodies attacks the receiver at url (process pid) with heldPOSTs connections
// holding 1 MiB POSTs and heldSlowSenders slow senders, delivers a genuine event to
// target 0 meanwhile, and checks that the event is answered 2xx within 5 s and that the
// attack costs the receiver less than heldMemoryMiB. It returns once every attacking
// connection has ended.
func holdBodies(t *testing.T, url string, pid int, secret standardwebhooks.Secret, created time.Time) *heldAttack {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	addr, path, _ := strings.Cut(addr, "/")
	path = "/" + path
	res := &heldAttack{answers: map[string]map[int]int{}}
	var err error
	if res.baseRSS, err = currentRSS(pid); err != nil {
		t.Fatal(err)
	}

	// Sample the receiver's resident memory through the attack.
	stopSampling := make(chan struct{})
	var sampling sync.WaitGroup
	var peakMu sync.Mutex
	res.peakRSS = res.baseRSS
	sampling.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if rss, err := currentRSS(pid); err == nil {
					peakMu.Lock()
					res.peakRSS = max(res.peakRSS, rss)
					peakMu.Unlock()
				}
			}
		}
	})

	forged := func() string {
		return fmt.Sprintf(
			"webhook-id: wh_forged\r\nwebhook-timestamp: %d\r\nwebhook-signature: v1,%s=\r\n",
			time.Now().Unix(),
			strings.Repeat("A", 43),
		)
	}
	shapes := []struct {
		name   string
		header func() string
		// body writes the body to conn; it stops at the first error (the receiver
		// answered and closed) and then holds the connection.
		body func(conn net.Conn)
	}{
		{"1 MiB POST without webhook headers", func() string {
			return fmt.Sprintf("Content-Length: %d\r\n", heldBodyBytes)
		}, func(conn net.Conn) { writeHeld(conn, heldBodyBytes-1, false) }},
		{"1 MiB POST, forged headers, announced length", func() string {
			return forged() + fmt.Sprintf("Content-Length: %d\r\n", heldBodyBytes)
		}, func(conn net.Conn) { writeHeld(conn, heldBodyBytes-1, false) }},
		{"1 MiB POST, forged headers, chunked", func() string {
			return forged() + "Transfer-Encoding: chunked\r\n"
		}, func(conn net.Conn) { writeHeld(conn, heldBodyBytes-1, true) }},
		{"slow sender, forged headers", func() string {
			return forged() + "Content-Length: 61440\r\n"
		}, func(conn net.Conn) { writeHeld(conn, 30720, false) }},
	}
	counts := []int{heldPOSTs / 3, heldPOSTs / 3, heldPOSTs - 2*(heldPOSTs/3), heldSlowSenders}

	var mu sync.Mutex
	var attackers sync.WaitGroup
	started := make(chan struct{}, heldPOSTs+heldSlowSenders)
	for i, shape := range shapes {
		for range counts[i] {
			attackers.Go(func() {
				code := holdOne(addr, path, shape.header(), shape.body, started)
				mu.Lock()
				defer mu.Unlock()
				if res.answers[shape.name] == nil {
					res.answers[shape.name] = map[int]int{}
				}
				res.answers[shape.name][code]++
			})
		}
	}
	for range heldPOSTs + heldSlowSenders {
		select {
		case <-started:
		case <-time.After(time.Minute):
			t.Fatal("the attacking connections did not start within a minute")
		}
	}
	// The slow senders have now been reading long enough to be cut off for a genuine
	// delivery if every place is taken.
	time.Sleep(1200 * time.Millisecond)
	body := eventBody(heldGenuineEvent, targetEventType(0), created, targetID(0))
	t0 := time.Now()
	code, err := send(hostileClient, url, signed(secret, "wh_genuine_under_attack", time.Now(), body))
	res.genuineLatency, res.genuineCode = time.Since(t0), code
	if err != nil {
		t.Errorf("the genuine event sent under attack: %v", err)
	}

	attackers.Wait()
	close(stopSampling)
	sampling.Wait()
	if res.genuineCode < 200 || res.genuineCode >= 300 || res.genuineLatency > heldAnswerLimit {
		t.Errorf(
			"a genuine event sent under attack was answered %d after %s; want 2xx within %s",
			res.genuineCode,
			res.genuineLatency,
			heldAnswerLimit,
		)
	}
	if cost := res.peakRSS - res.baseRSS; cost >= heldMemoryMiB {
		t.Errorf("the attack cost the receiver %.1f MiB of resident memory (%.1f -> %.1f MiB); the target is under %d MiB",
			cost, res.baseRSS, res.peakRSS, heldMemoryMiB)
	}
	return res
}

// holdOne opens a connection, sends a POST to path with the extra header lines and
// the body body writes, holds the connection until the receiver answers or closes it
// (at most 30 s), and returns the status code (0 if none was read).
func holdOne(addr, path, header string, body func(net.Conn), started chan<- struct{}) int {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		started <- struct{}{}
		return 0
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n%s\r\n", path, header)
	answer := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodPost})
		if err != nil {
			answer <- 0
			return
		}
		_ = resp.Body.Close()
		answer <- resp.StatusCode
	}()
	if err == nil {
		body(conn)
	}
	started <- struct{}{}
	return <-answer
}

// writeHeld writes n bytes of body to conn (as chunks when chunked), stopping at the
// first error, and never ends the body: the connection is held.
func writeHeld(conn net.Conn, n int, chunked bool) {
	buf := bytes.Repeat([]byte("{"), 16<<10)
	for n > 0 {
		part := buf[:min(n, len(buf))]
		var err error
		if chunked {
			_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(part), part)
		} else {
			_, err = conn.Write(part)
		}
		if err != nil {
			return
		}
		n -= len(part)
	}
}

// report records the first phase's figures.
func (a *heldAttack) report(rec *results) {
	rec.setup("phase 1: connections holding 1 MiB POSTs / slow senders", fmt.Sprintf("%d / %d", heldPOSTs, heldSlowSenders))
	names := make([]string, 0, len(a.answers))
	for name := range a.answers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var parts []string
		codes := make([]int, 0, len(a.answers[name]))
		for code := range a.answers[name] {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		for _, code := range codes {
			label := strconv.Itoa(code)
			if code == 0 {
				label = "no answer read"
			}
			parts = append(parts, fmt.Sprintf("%s x%d", label, a.answers[name][code]))
		}
		rec.add("  "+name, strings.Join(parts, ", "))
	}
	rec.add(
		"phase 1: genuine event under attack",
		fmt.Sprintf("%d after %s (target: 2xx within %s)", a.genuineCode, a.genuineLatency.Round(time.Millisecond), heldAnswerLimit),
	)
	rec.add("phase 1: receiver RSS before / peak during the attack", fmt.Sprintf("%.1f / %.1f MiB: cost %.1f MiB (target: under %d MiB)",
		a.baseRSS, a.peakRSS, a.peakRSS-a.baseRSS, heldMemoryMiB))
}

// currentRSS returns the resident memory of process pid in MiB (VmRSS).
func currentRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
