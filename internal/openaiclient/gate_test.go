package openaiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
)

// fakeOpenAI answers each call with what answer decides, counting calls by path.
type fakeOpenAI struct {
	srv      *httptest.Server
	calls    atomic.Int64
	observed atomic.Int64
	answer   atomic.Value // func(w http.ResponseWriter, r *http.Request)
}

func newFakeOpenAI(t *testing.T) *fakeOpenAI {
	f := &fakeOpenAI{}
	f.respond(func(w http.ResponseWriter, r *http.Request) { ok(w) })
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.answer.Load().(func(http.ResponseWriter, *http.Request))(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) respond(a func(w http.ResponseWriter, r *http.Request)) { f.answer.Store(a) }

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"batch_1","object":"batch","status":"in_progress"}`))
}

func refuse(status int, body string, header map[string]string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// fakeClock is the gate's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestGate() (*Gate, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	g := NewGate(time.Second, time.Minute, 5*time.Minute)
	g.now = clock.now
	return g, clock
}

// client returns an SDK client whose calls go through g as project "ns/creds".
func (f *fakeOpenAI) client(g *Gate) openai.Client {
	return (&Factory{BaseURL: f.srv.URL + "/v1", Observe: f.observe}).New(Credentials{APIKey: "sk-test-key-123456"}, g.Option("ns/creds", "sk-test-key-123456"))
}

// observe counts the calls the factory's Observe hook sees: only those made.
func (f *fakeOpenAI) observe(string, int, time.Duration) { f.observed.Add(1) }

func held(t *testing.T, err error) *HeldError {
	t.Helper()
	var h *HeldError
	if !errors.As(err, &h) {
		t.Fatalf("want a *HeldError, got %v", err)
	}
	return h
}

const rateLimited = `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`

// TestGateLetsOneCallOfFiveThousandThroughAfterARateLimit is the 5,000 objects on one
// key: after a 429, none of them calls OpenAI until its Retry-After has passed, then
// exactly one does, and the others follow once that one got through.
func TestGateLetsOneCallOfFiveThousandThroughAfterARateLimit(t *testing.T) {
	const objects = 5000
	fake := newFakeOpenAI(t)
	g, clock := newTestGate()
	ctx := context.Background()

	fake.respond(refuse(http.StatusTooManyRequests, rateLimited, map[string]string{"Retry-After": "20"}))
	api := fake.client(g)
	if _, err := api.Batches.Get(ctx, "batch_1"); Classify(err).Class != RateLimited {
		t.Fatalf("first call: %v", err)
	}
	fake.respond(func(w http.ResponseWriter, r *http.Request) { ok(w) })

	// Every object tries at once, each with its own client: nobody calls.
	callAll := func(objects int) (heldErrs []*HeldError, succeeded int64) {
		var mu sync.Mutex
		var n atomic.Int64
		var wg sync.WaitGroup
		for range objects {
			wg.Go(func() {
				c := fake.client(g)
				_, err := c.Batches.Get(ctx, "batch_1")
				if err == nil {
					n.Add(1)
					return
				}
				mu.Lock()
				heldErrs = append(heldErrs, held(t, err))
				mu.Unlock()
			})
		}
		wg.Wait()
		return heldErrs, n.Load()
	}
	heldErrs, _ := callAll(objects)
	if got := fake.calls.Load(); got != 1 {
		t.Fatalf("%d calls reached OpenAI during the Retry-After, want only the first", got)
	}
	if got := fake.observed.Load(); got != 1 {
		t.Fatalf("the Observe hook counted %d calls, want only the one made", got)
	}
	lo, hi := time.Hour, time.Duration(0)
	for _, h := range heldErrs {
		lo, hi = min(lo, h.Wait), max(hi, h.Wait)
		if !strings.Contains(h.Error(), "OpenAI answered 429 (rate_limit_exceeded)") {
			t.Fatalf("the held error does not say why: %v", h)
		}
	}
	if lo < 20*time.Second || hi > 30*time.Second+time.Millisecond || hi-lo < time.Second {
		t.Fatalf("waits from %s to %s: want at least the Retry-After (20s), spread over up to half of it again", lo, hi)
	}

	// The wait is over. A probe goes first; while it is in flight nobody else calls.
	clock.add(20 * time.Second)
	release := make(chan struct{})
	var probes atomic.Int64
	fake.respond(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		<-release
		ok(w)
	})
	probeDone := make(chan error)
	go func() {
		c := fake.client(g)
		_, err := c.Batches.Get(ctx, "batch_1")
		probeDone <- err
	}()
	for probes.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	heldErrs, _ = callAll(objects)
	if len(heldErrs) != objects || probes.Load() != 1 {
		t.Fatalf("%d of %d callers held and %d calls in flight while the probe was: want all held, one call", len(heldErrs), objects, probes.Load())
	}
	close(release)
	if err := <-probeDone; err != nil {
		t.Fatalf("probe: %v", err)
	}
	// The key works again: everybody calls (a sample of them, to keep the test short).
	if _, n := callAll(100); n != 100 {
		t.Fatalf("%d of 100 calls went through after the probe succeeded", n)
	}
}

func TestGateBacksOffExponentiallyWithoutRetryAfter(t *testing.T) {
	fake := newFakeOpenAI(t)
	g, clock := newTestGate()
	ctx := context.Background()
	api := fake.client(g)
	fake.respond(refuse(http.StatusUnauthorized, `{"error":{"message":"Incorrect API key provided: sk-te***56.","type":"invalid_request_error","code":"invalid_api_key"}}`, nil))

	var waits []time.Duration
	for range 9 {
		_, err := api.Batches.Get(ctx, "batch_1")
		if c := Classify(err); c.Class != Unauthorized {
			t.Fatalf("want the 401 itself, got %v", err)
		}
		h := g.Held("ns/creds", false)
		if h == nil {
			t.Fatal("not held after a 401")
		}
		waits = append(waits, h.Wait)
		clock.add(h.Wait)
	}
	// 1s, 2s, 4s, ... capped at a minute, each with up to a quarter more of jitter.
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range waits {
		base := want[i] * time.Second
		if w < base || w > base+base/4 {
			t.Fatalf("wait %d is %s, want %s plus up to a quarter (all: %v)", i+1, w, base, waits)
		}
	}
	if h := g.Held("other/creds", false); h != nil {
		t.Fatalf("another project is held: %v", h)
	}
	// A success opens the gate and starts the backoff over.
	fake.respond(func(w http.ResponseWriter, r *http.Request) { ok(w) })
	if _, err := api.Batches.Get(ctx, "batch_1"); err != nil {
		t.Fatal(err)
	}
	if h := g.Held("ns/creds", false); h != nil {
		t.Fatalf("held after a success: %v", h)
	}
}

func TestGateHoldsOnlyCreatesAfterInsufficientQuota(t *testing.T) {
	fake := newFakeOpenAI(t)
	g, clock := newTestGate()
	ctx := context.Background()
	api := fake.client(g)
	fake.respond(refuse(http.StatusTooManyRequests, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`, nil))
	_, err := api.Batches.New(ctx, openai.BatchNewParams{InputFileID: "file-1", Endpoint: "/v1/embeddings", CompletionWindow: "24h"})
	if c := Classify(err); c.Class != QuotaExceeded {
		t.Fatalf("want insufficient_quota, got %v", err)
	}
	h := g.Held("ns/creds", true)
	if h == nil || h.Wait < 5*time.Minute || h.Refusal.Class != QuotaExceeded {
		t.Fatalf("creates held %v, want the quota wait (5m)", h)
	}
	fake.respond(func(w http.ResponseWriter, r *http.Request) { ok(w) })
	if _, err := api.Batches.Get(ctx, "batch_1"); err != nil {
		t.Fatalf("reads must go on while creates wait for quota: %v", err)
	}
	before := fake.calls.Load()
	_, err = api.Batches.New(ctx, openai.BatchNewParams{InputFileID: "file-1", Endpoint: "/v1/embeddings", CompletionWindow: "24h"})
	_ = held(t, err) // it fails the test unless err is a HeldError
	if fake.calls.Load() != before {
		t.Fatal("a held create reached OpenAI")
	}
	clock.add(7 * time.Minute)
	if _, err := api.Batches.New(ctx, openai.BatchNewParams{InputFileID: "file-1", Endpoint: "/v1/embeddings", CompletionWindow: "24h"}); err != nil {
		t.Fatalf("after the wait the create goes through: %v", err)
	}
}

func TestGateHonoursRateLimitResetHeaders(t *testing.T) {
	fake := newFakeOpenAI(t)
	g, _ := newTestGate()
	api := fake.client(g)
	fake.respond(refuse(http.StatusTooManyRequests, `{"error":{"message":"Rate limit reached on tokens per min","type":"tokens","code":"rate_limit_exceeded"}}`,
		map[string]string{"X-Ratelimit-Reset-Tokens": "6m0s", "X-Ratelimit-Remaining-Tokens": "0", "X-Ratelimit-Reset-Requests": "20ms"}))
	_, err := api.Responses.Cancel(context.Background(), "resp_1")
	if Classify(err).Class != RateLimited {
		t.Fatalf("got %v", err)
	}
	if h := g.Held("ns/creds", false); h == nil || h.Wait < 6*time.Minute {
		t.Fatalf("held %v, want the token limit's reset (6m0s)", h)
	}
}

func TestGateFreesTheProbeWhenNoAnswerCame(t *testing.T) {
	fake := newFakeOpenAI(t)
	g, clock := newTestGate()
	ctx := context.Background()
	api := fake.client(g)
	fake.respond(refuse(http.StatusTooManyRequests, rateLimited, map[string]string{"Retry-After": "1"}))
	_, _ = api.Batches.Get(ctx, "batch_1")
	clock.add(2 * time.Second)
	fake.respond(refuse(http.StatusBadGateway, `{}`, nil))
	if _, err := api.Batches.Get(ctx, "batch_1"); Classify(err).Class != Transient {
		t.Fatalf("the probe got %v", err)
	}
	fake.respond(func(w http.ResponseWriter, r *http.Request) { ok(w) })
	if _, err := api.Batches.Get(ctx, "batch_1"); err != nil {
		t.Fatalf("a 502 says nothing about the key: the next call probes again, got %v", err)
	}
	g.Reset("ns/creds")
	var nilGate *Gate
	if nilGate.Held("ns/creds", true) != nil {
		t.Fatal("a nil gate holds")
	}
}

// A call that set out before a refusal and succeeds after it says nothing about the key
// since: it must not open the gate.
func TestGateIgnoresAcceptancesOlderThanTheRefusal(t *testing.T) {
	fake := newFakeOpenAI(t)
	g, clock := newTestGate()
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	var n atomic.Int64
	fake.respond(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			close(started)
			<-release
			ok(w)
			return
		}
		refuse(http.StatusTooManyRequests, rateLimited, map[string]string{"Retry-After": "20"})(w, r)
	})
	slow := make(chan error)
	go func() {
		c := fake.client(g)
		_, err := c.Batches.Get(ctx, "batch_1")
		slow <- err
	}()
	<-started
	clock.add(time.Second)
	c := fake.client(g)
	if _, err := c.Batches.Get(ctx, "batch_2"); Classify(err).Class != RateLimited {
		t.Fatalf("second call: %v", err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if h := g.Held("ns/creds", false); h == nil {
		t.Fatal("a success that set out before the 429 opened the gate")
	}
}

// Calls already on their way when the project's limit trips all come back 429: that is
// one refusal, not eight in a row. The hold is what the first asked for, and the backoff
// grows only with the refusals of calls that set out after it (the probes).
func TestGateCountsRefusalsInFlightAsOne(t *testing.T) {
	fake := newFakeOpenAI(t)
	g, clock := newTestGate()
	ctx := context.Background()
	const inFlight = 8
	var arrived sync.WaitGroup
	arrived.Add(inFlight)
	var answering sync.Once
	fake.respond(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait() // every call is on its way before the first answer
		answering.Do(func() { clock.add(50 * time.Millisecond) })
		refuse(http.StatusTooManyRequests, rateLimited, map[string]string{"Retry-After": "1"})(w, r)
	})
	var wg sync.WaitGroup
	for i := range inFlight {
		wg.Go(func() {
			c := fake.client(g)
			if _, err := c.Batches.Get(ctx, fmt.Sprintf("batch_%d", i)); Classify(err).Class != RateLimited {
				t.Errorf("call %d: want a 429, got %v", i, err)
			}
		})
	}
	wg.Wait()
	h := g.Held("ns/creds", false)
	if h == nil {
		t.Fatal("not held after 429s")
	}
	// Retry-After 1s, and the first backoff step (1s) with up to a quarter of jitter, and
	// up to half again spread over the waiting callers.
	if limit := time.Second + time.Second/4; h.Wait > limit+limit/2+time.Millisecond {
		t.Fatalf("held for %s after one burst of %d refusals in flight, want at most %s", h.Wait, inFlight, limit+limit/2)
	}

	// The probe after the wait is refused too: the second refusal in a row, 2s.
	fake.respond(refuse(http.StatusTooManyRequests, rateLimited, nil))
	clock.add(h.Wait)
	probe := fake.client(g)
	if _, err := probe.Batches.Get(ctx, "batch_probe"); Classify(err).Class != RateLimited {
		t.Fatalf("probe: want a 429, got %v", err)
	}
	h = g.Held("ns/creds", false)
	if h == nil || h.Wait < 2*time.Second || h.Wait > 3*time.Second+3*time.Second/4 {
		t.Fatalf("after the probe's refusal held %v, want 2s plus jitter", h)
	}
}
