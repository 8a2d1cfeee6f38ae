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

package faultschedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

func TestDrawReplaysFromTheSeedAlone(t *testing.T) {
	g := NewWithT(t)
	size := Sizes["ci"]
	for seed := uint64(1); seed <= 200; seed++ {
		a, b := Draw(seed, size, Kinds), Draw(seed, size, Kinds)
		g.Expect(a).To(Equal(b), "seed %d", seed)
		g.Expect(a.String()).To(Equal(b.String()))
	}
	g.Expect(Draw(1, size, Kinds).String()).NotTo(Equal(Draw(2, size, Kinds).String()))
}

func TestDrawStaysWithinItsSize(t *testing.T) {
	g := NewWithT(t)
	for name, size := range Sizes {
		kinds := map[string]int{}
		actions := map[string]int{}
		for seed := uint64(1); seed <= 500; seed++ {
			s := Draw(seed, size, Kinds)
			g.Expect(s.Resources).NotTo(BeEmpty(), name)
			g.Expect(len(s.Resources)).To(BeNumerically("<=", size.Resources), name)
			crashes := 0
			for _, a := range s.Actions {
				actions[a.Kind]++
				g.Expect(a.At).To(BeNumerically("<=", size.Phase), "%s seed %d: %s", name, seed, a)
				if a.Kind == ActCrash || a.Kind == ActCrashAfterAnswer {
					crashes++
				}
				if a.Target != "" {
					_, ok := s.Plan(a.Target)
					g.Expect(ok).To(BeTrue(), "seed %d: %s names no planned resource", seed, a)
				}
			}
			g.Expect(crashes).To(BeNumerically("<=", size.Crashes))
			for _, p := range s.Resources {
				kinds[p.Kind]++
			}
		}
		// Every kind and every action turns up in 500 seeds.
		for _, k := range Kinds {
			g.Expect(kinds[k.Kind()]).To(BeNumerically(">", 0), "%s: no %s", name, k.Kind())
		}
		for _, a := range []string{ActCrash, ActCrashAfterAnswer, ActCancel, ActDelete, ActFlipCancelOnDelete,
			ActSecretDelete, ActSecretRestore, ActSecretRotate, ActRevokeOldKey, ActEditInput, ActRestoreInput} {
			g.Expect(actions[a]).To(BeNumerically(">", 0), "%s: no %s in 500 seeds", name, a)
		}
	}
}

func TestFaultForDrawsEveryFaultEvenly(t *testing.T) {
	g := NewWithT(t)
	counts := map[Fault]int{}
	n := 0
	for seed := uint64(1); seed <= 300; seed++ {
		s := Schedule{Seed: seed, FaultRate: 0.3}
		for _, res := range []string{"b0", "b1", "r0"} {
			for attempt := range MaxFaultedAttempts + 2 {
				f := s.FaultFor(res, "batches.retrieve", attempt)
				if attempt >= MaxFaultedAttempts {
					g.Expect(f).To(Equal(NoFault), "attempts past MaxFaultedAttempts are never faulted")
					continue
				}
				n++
				counts[f]++
			}
		}
	}
	g.Expect(float64(n-counts[NoFault]) / float64(n)).To(BeNumerically("~", 0.3, 0.05))
	want := float64(n-counts[NoFault]) / float64(len(AllFaults))
	for _, f := range AllFaults {
		g.Expect(float64(counts[f])).To(BeNumerically("~", want, want/2), "fault %s", f)
	}
}

func TestFaultForNeverLiesThatWorkIsOver(t *testing.T) {
	g := NewWithT(t)
	for seed := uint64(1); seed <= 2000; seed++ {
		s := Schedule{Seed: seed, FaultRate: 1}
		for attempt := range MaxFaultedAttempts {
			for _, op := range []string{"files.delete", "files.content"} {
				g.Expect(s.FaultFor("b0", op, attempt)).NotTo(Equal(Fault404))
			}
			g.Expect(s.FaultFor("b0", "batches.cancel", attempt)).NotTo(BeElementOf(Fault400, Fault404, Fault409))
		}
	}
}

// fakeOpenAI answers every call 200 with a new object id, and counts the calls.
type fakeOpenAI struct{ calls atomic.Int64 }

func (f *fakeOpenAI) RoundTrip(req *http.Request) (*http.Response, error) {
	n := f.calls.Add(1)
	body := fmt.Sprintf(`{"id":"obj_%d","object":"x"}`, n)
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// reconcileContext is the context of a reconcile of the named resource, as
// controller-runtime makes it with a logBook logger.
func reconcileContext(book *logBook, name string) context.Context {
	return logr.NewContext(context.Background(), book.logger("manager").WithValues("controller", "x", "name", name, "reconcileID", "1"))
}

func TestWireFaultsDoNotDependOnInterleaving(t *testing.T) {
	g := NewWithT(t)
	s := Schedule{Seed: 42, FaultRate: 0.5}
	ops := []struct{ method, path string }{{"GET", "/v1/batches/batch_1"}, {"POST", "/v1/batches"}, {"GET", "/v1/files"}}
	run := func(concurrent bool) map[string][]string {
		book := newLogBook(10)
		w := newWire(&s, &fakeOpenAI{}, book)
		w.startPhase()
		alive := &atomic.Bool{}
		alive.Store(true)
		rt := w.forProcess(alive)
		seen := map[string][]string{}
		var mu sync.Mutex
		call := func(res string) {
			for i := range 12 {
				o := ops[i%len(ops)]
				req, _ := http.NewRequestWithContext(reconcileContext(book, res), o.method, "http://openai.test"+o.path, bytes.NewReader([]byte("{}")))
				resp, err := rt.RoundTrip(req)
				outcome := "ok"
				switch {
				case err != nil:
					outcome = "error " + err.Error()
				case resp.StatusCode != 200:
					outcome = resp.Status
				}
				mu.Lock()
				seen[res] = append(seen[res], o.path+" "+outcome)
				mu.Unlock()
			}
		}
		if concurrent {
			var wg sync.WaitGroup
			for _, res := range []string{"r2", "r1", "r0"} {
				wg.Go(func() { call(res) })
			}
			wg.Wait()
		} else {
			for _, res := range []string{"r0", "r1", "r2"} {
				call(res)
			}
		}
		return seen
	}
	one, other := run(false), run(true)
	g.Expect(other).To(Equal(one))
	faulted := 0
	for _, outcomes := range one {
		for _, o := range outcomes {
			if !strings.HasSuffix(o, " ok") {
				faulted++
			}
		}
	}
	g.Expect(faulted).To(BeNumerically(">", 0), "the schedule injected no fault at all")
}

func TestWireCrashesAfterTheArmedAnswer(t *testing.T) {
	g := NewWithT(t)
	s := Schedule{Seed: 1}
	book := newLogBook(10)
	openAI := &fakeOpenAI{}
	w := newWire(&s, openAI, book)
	var crashed atomic.Int32
	w.crash = func(*atomic.Bool, time.Duration) { crashed.Add(1) }
	w.startPhase()
	w.arm("responses.create", "r0", 0)
	alive := &atomic.Bool{}
	alive.Store(true)
	rt := w.forProcess(alive)
	post := func(res string) (*http.Response, error) {
		body := fmt.Sprintf(`{"metadata":{"openai.operator.dev/resource":"ns/%s/uid"}}`, res)
		req, _ := http.NewRequest(http.MethodPost, "http://openai.test/v1/responses", strings.NewReader(body))
		return rt.RoundTrip(req)
	}
	// Another resource's create does not fire the trap; r0's does, after OpenAI did it.
	_, err := post("r1")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = post("r0")
	g.Expect(err).To(MatchError(errProcessGone))
	g.Expect(crashed.Load()).To(Equal(int32(1)))
	g.Expect(alive.Load()).To(BeFalse())
	g.Expect(openAI.calls.Load()).To(Equal(int64(2)))
	g.Expect(w.ResponsesCreated()).To(Equal(map[string][]string{"r0": {"obj_2"}, "r1": {"obj_1"}}))
	// The process is gone: nothing more reaches OpenAI.
	_, err = post("r0")
	g.Expect(err).To(MatchError(errProcessGone))
	g.Expect(openAI.calls.Load()).To(Equal(int64(2)))
}

func TestWireRefusesRevokedKeysAndWindows(t *testing.T) {
	g := NewWithT(t)
	s := Schedule{Seed: 1, Windows: []Window{{Kind: WindowQuota, Start: 0, End: time.Hour}}}
	w := newWire(&s, &fakeOpenAI{}, newLogBook(10))
	alive := &atomic.Bool{}
	alive.Store(true)
	api := openai.NewClient(option.WithBaseURL("http://openai.test/v1/"), option.WithAPIKey("sk-old"),
		option.WithHTTPClient(&http.Client{Transport: w.forProcess(alive)}), option.WithMaxRetries(0))
	w.startPhase()
	_, err := api.Batches.Get(context.Background(), "batch_1")
	c := openaiclient.Classify(err)
	g.Expect(c.StatusCode).To(Equal(http.StatusTooManyRequests))
	g.Expect(c.Message).To(ContainSubstring("insufficient_quota"))
	w.stopFaults()
	_, err = api.Batches.Get(context.Background(), "batch_1")
	g.Expect(err).NotTo(HaveOccurred(), "faults stopped, the window closes")
	w.revoke("sk-old")
	_, err = api.Batches.Get(context.Background(), "batch_1")
	g.Expect(openaiclient.Classify(err).StatusCode).To(Equal(http.StatusUnauthorized), "a revoked key stays revoked after the faults stop")
	g.Expect(w.Refused()).To(HaveKeyWithValue("revoked-key", HaveField("Calls", 1)))
	g.Expect(w.Refused()).To(HaveKeyWithValue(WindowQuota, HaveField("Calls", 1)))
}

// TestErrorAnswersReachTheSDKAsOpenAIs sends each injected answer through the official
// SDK and the operator's classifier: the status, type, code and retry headers arrive as
// OpenAI's would.
func TestErrorAnswersReachTheSDKAsOpenAIs(t *testing.T) {
	cases := map[Fault]struct {
		status     int
		code, typ  string
		retryAfter time.Duration
		class      openaiclient.Class
	}{
		Fault400:             {400, "invalid_value", "invalid_request_error", 0, openaiclient.Terminal},
		Fault401:             {401, "invalid_api_key", "invalid_request_error", 0, openaiclient.Unauthorized},
		Fault403:             {403, "insufficient_permissions", "invalid_request_error", 0, openaiclient.Forbidden},
		Fault404:             {404, "", "invalid_request_error", 0, openaiclient.NotFound},
		Fault409:             {409, "", "invalid_request_error", 0, openaiclient.Transient},
		Fault429:             {429, "rate_limit_exceeded", "requests", 1500 * time.Millisecond, openaiclient.RateLimited},
		Fault429NoRetryAfter: {429, "rate_limit_exceeded", "requests", 0, openaiclient.RateLimited},
		Fault429Quota:        {429, "insufficient_quota", "insufficient_quota", 0, openaiclient.QuotaExceeded},
		Fault500:             {500, "", "server_error", 0, openaiclient.Transient},
	}
	for f, tc := range cases {
		t.Run(string(f), func(t *testing.T) {
			g := NewWithT(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				resp := errorAnswer(r, f, tc.retryAfter)
				for k, v := range resp.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(resp.StatusCode)
				_, _ = io.Copy(w, resp.Body)
			}))
			defer srv.Close()
			api := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
			_, err := api.Batches.Get(context.Background(), "batch_1")
			var apiErr *openai.Error
			g.Expect(errors.As(err, &apiErr)).To(BeTrue())
			g.Expect(apiErr.StatusCode).To(Equal(tc.status))
			g.Expect(apiErr.Code).To(Equal(tc.code))
			g.Expect(apiErr.Type).To(Equal(tc.typ))
			c := openaiclient.Classify(err)
			g.Expect(c.Class).To(Equal(tc.class))
			g.Expect(c.RetryAfter).To(Equal(tc.retryAfter))
		})
	}
	t.Run("timeouts", func(t *testing.T) {
		g := NewWithT(t)
		for _, after := range []bool{false, true} {
			c := openaiclient.Classify(fmt.Errorf("wrapped: %w", timeoutError{after: after}))
			g.Expect(c.Class).To(Equal(openaiclient.Transient))
			g.Expect(c.Message).To(ContainSubstring("timed out"))
		}
	})
}
