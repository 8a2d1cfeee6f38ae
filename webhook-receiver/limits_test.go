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
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// TestHeadersAreCheckedBeforeTheBody checks that a request whose webhook headers are
// missing, malformed or stale, or whose signature header holds no usable entry, is
// refused without reading a byte of its body: an attacker without the secret cannot
// make the receiver buffer anything.
func TestHeadersAreCheckedBeforeTheBody(t *testing.T) {
	sec := testSecret(t, 0)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(strings.Repeat("x", 32<<10))
	cases := map[string]struct {
		hdr      *standardwebhooks.Headers // nil: no webhook headers at all
		wantCode int
		wantOut  string
	}{
		"no webhook headers": {wantCode: 400, wantOut: OutcomeMalformed},
		"no signature":       {hdr: &standardwebhooks.Headers{ID: "wh_1", Timestamp: ts}, wantCode: 400, wantOut: OutcomeMalformed},
		"timestamp not a number": {
			hdr:      &standardwebhooks.Headers{ID: "wh_1", Timestamp: "soon", Signature: sec.SignRaw("wh_1", "soon", body)},
			wantCode: 400,
			wantOut:  OutcomeMalformed,
		},
		"webhook-id too long": {
			hdr:      &standardwebhooks.Headers{ID: strings.Repeat("w", 257), Timestamp: ts, Signature: sec.SignRaw("wh_1", ts, body)},
			wantCode: 400,
			wantOut:  OutcomeMalformed,
		},
		"stale": {
			hdr: &standardwebhooks.Headers{
				ID:        "wh_1",
				Timestamp: strconv.FormatInt(now.Unix()-301, 10),
				Signature: sec.SignRaw("wh_1", ts, body),
			},
			wantCode: 401,
			wantOut:  OutcomeStale,
		},
		"from the future": {
			hdr: &standardwebhooks.Headers{
				ID:        "wh_1",
				Timestamp: strconv.FormatInt(now.Unix()+301, 10),
				Signature: sec.SignRaw("wh_1", ts, body),
			},
			wantCode: 401,
			wantOut:  OutcomeStale,
		},
		"signature of another scheme": {
			hdr:      &standardwebhooks.Headers{ID: "wh_1", Timestamp: ts, Signature: "v1a,abc"},
			wantCode: 401,
			wantOut:  OutcomeInvalidSignature,
		},
		"signature of the wrong shape": {
			hdr:      &standardwebhooks.Headers{ID: "wh_1", Timestamp: ts, Signature: "v1,abc v1,!!!"},
			wantCode: 401,
			wantOut:  OutcomeInvalidSignature,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			r, _ := newFakeReceiver(t, Options{Now: func() time.Time { return now }}, nil)
			w := webhook{noHeaders: tc.hdr == nil, body: body}
			if tc.hdr != nil {
				w.id, w.timestamp, w.signature = tc.hdr.ID, tc.hdr.Timestamp, tc.hdr.Signature
				w.noSig = tc.hdr.Signature == ""
			}
			req := w.request("http://receiver.test" + DefaultPath)
			counted := &countingBody{r: req.Body}
			req.Body = counted
			rec := httptestRecorder()
			r.ServeHTTP(rec, req)
			g.Expect(rec.Code).To(Equal(tc.wantCode), rec.Body.String())
			g.Expect(events(r.metrics, typeUnknown, tc.wantOut)).To(Equal(1.0))
			g.Expect(counted.read.Load()).To(BeZero(), "bytes of the body read")
			g.Expect(rec.Header().Get("Connection")).To(Equal("close"), "the connection is not kept for another request")
		})
	}
}

// TestDefaultBodyCap checks that by default a body larger than 64 KiB is refused (413),
// even when correctly signed, and one of 64 KiB is read.
func TestDefaultBodyCap(t *testing.T) {
	g := NewWithT(t)
	g.Expect(DefaultMaxBodyBytes).To(Equal(64 << 10))
	sec := testSecret(t, 0)
	r, _ := newFakeReceiver(t, Options{}, nil, newBatch("ns", "b", "batch_1"))
	event := eventBody("evt_1", "batch.completed", time.Now(), "batch_1")
	padded := func(n int) []byte { // a valid event padded with spaces to n bytes
		return append(append([]byte{}, event...), []byte(strings.Repeat(" ", n-len(event)))...)
	}
	g.Expect(signedEvent(sec, "wh_big", time.Now(), padded(64<<10+1)).serve(r).Code).To(Equal(http.StatusRequestEntityTooLarge))
	g.Expect(signedEvent(sec, "wh_max", time.Now(), padded(64<<10)).serve(r).Code).To(Equal(http.StatusOK))
}

// startServing runs r's endpoint on a loopback port until the test ends and returns its
// address.
func startServing(t *testing.T, r *Receiver) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the endpoint stopped with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the endpoint did not stop within 30s")
		}
	})
	NewWithT(t).Eventually(r.Addr, 10*time.Second, 10*time.Millisecond).ShouldNot(BeEmpty())
	return r.Addr()
}

// stalledRequest opens a connection to addr and sends a well-formed, fresh but forged
// webhook request that announces a body of declared bytes and sends only sent of them.
// It returns the connection and a reader of the answer.
func stalledRequest(t *testing.T, addr string, declared, sent int) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"webhook-id: wh_forged\r\nwebhook-timestamp: %s\r\nwebhook-signature: v1,%s=\r\n\r\n%s",
		DefaultPath, declared, ts, strings.Repeat("A", 43), strings.Repeat("{", sent))
	if err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// answerOf reads the status line and headers of one HTTP answer.
func answerOf(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp, nil
}

// TestReadsInFlightAreBounded checks the bound on requests reading their body at once:
// beyond it a request is answered 503 with Retry-After, and once a slow reader has been
// reading for over a second, a new request cuts it off (408) and takes its place, so
// that slow senders cannot lock genuine deliveries out.
func TestReadsInFlightAreBounded(t *testing.T) {
	g := NewWithT(t)
	sec := testSecret(t, 0)
	r, _ := newFakeReceiver(t, Options{BindAddress: "127.0.0.1:0", MaxConcurrentReads: 2, MetricsBindAddress: "0", HealthProbeBindAddress: "0"},
		nil, newBatch("ns", "b", "batch_1"))
	// Under load the slow senders may take their places seconds apart: only the cut-off
	// under test, not the body deadline, may end their reads.
	r.bodyTimeout = time.Minute
	addr := startServing(t, r)
	base := "http://" + addr + DefaultPath

	// Two slow senders take both places.
	type stalled struct {
		conn net.Conn
		br   *bufio.Reader
	}
	var slow []stalled
	for range 2 {
		c, br := stalledRequest(t, addr, 1000, 10)
		slow = append(slow, stalled{c, br})
	}
	g.Eventually(r.reads.inUse, 5*time.Second, 5*time.Millisecond).Should(Equal(2))

	// A third request, at once: no place, and nobody has been slow for long yet.
	now := time.Now()
	w := signedEvent(sec, "wh_1", now, eventBody("evt_1", "batch.completed", now, "batch_1"))
	req := w.request(base)
	req.RequestURI = ""
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
	g.Expect(resp.Header.Get("Retry-After")).NotTo(BeEmpty())
	g.Expect(events(r.metrics, typeUnknown, OutcomeOverloaded)).To(Equal(1.0))

	// Once the slow ones have read for over a second, a genuine delivery gets through.
	time.Sleep(shedAfter + 100*time.Millisecond)
	start := time.Now()
	g.Expect(w.send(t, base)).To(Equal(http.StatusOK))
	g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
	g.Expect(events(r.metrics, "batch.completed", OutcomeAccepted)).To(Equal(1.0))

	// The slow sender that took its place first (which of the two, the server's
	// scheduling decides) was cut off with 408 and its connection closed; the other is
	// still waiting for its answer.
	type answer struct {
		i    int
		resp *http.Response
		err  error
	}
	answers := make(chan answer, len(slow))
	for i, s := range slow {
		_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		go func() {
			resp, err := answerOf(s.br, &http.Request{Method: http.MethodPost})
			answers <- answer{i, resp, err}
		}()
	}
	first := <-answers
	g.Expect(first.err).NotTo(HaveOccurred())
	g.Expect(first.resp.StatusCode).To(Equal(http.StatusRequestTimeout))
	g.Expect(first.resp.Close).To(BeTrue())
	other := slow[1-first.i]
	_ = other.conn.SetReadDeadline(time.Now()) // ends the other read: it had no answer
	second := <-answers
	g.Expect(second.err).To(MatchError(os.ErrDeadlineExceeded), "the other slow sender has no answer")
	g.Expect(events(r.metrics, typeUnknown, OutcomeTooSlow)).To(Equal(1.0))
	g.Expect(r.reads.inUse()).To(Equal(1), "the other slow sender still holds its place")
}
