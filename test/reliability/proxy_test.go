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
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// apiProxy sits between the manager and the emulator. Armed with an operation, it lets
// the next such call reach OpenAI, and when OpenAI has answered it runs a trap (killing
// the manager) before the answer can reach the caller: the call took effect on OpenAI,
// and the caller never learns it.
type apiProxy struct {
	srv    *httptest.Server
	target atomic.Pointer[string]

	mu   sync.Mutex
	op   string
	trap func()
	done chan struct{}
}

// startProxy serves a proxy on 127.0.0.1 until the test ends. Set its target with
// setTarget before it is used.
func startProxy(t *testing.T) *apiProxy {
	p := &apiProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's OpenAI base URL.
func (p *apiProxy) URL() string { return p.srv.URL + "/v1" }

// setTarget points the proxy at an OpenAI base URL (http://host:port/v1).
func (p *apiProxy) setTarget(base string) {
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/v1")
	p.target.Store(&base)
}

// arm makes the next call of operation op (for example "batches.create") run trap
// after OpenAI answered it and before the answer is passed on. The returned channel is
// closed once the trap ran.
func (p *apiProxy) arm(op string, trap func()) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.op, p.trap, p.done = op, trap, make(chan struct{})
	return p.done
}

func (p *apiProxy) serve(w http.ResponseWriter, r *http.Request) {
	base := p.target.Load()
	if base == nil {
		http.Error(w, "no target yet", http.StatusServiceUnavailable)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, *base+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.ContentLength = r.ContentLength
	resp, err := proxyTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}

	p.mu.Lock()
	var trap func()
	var done chan struct{}
	if p.trap != nil && resp.StatusCode < 300 && openaiclient.Operation(r.Method, r.URL.Path) == p.op {
		trap, done = p.trap, p.done
		p.trap = nil
	}
	p.mu.Unlock()
	if trap != nil {
		trap()
		close(done)
		http.Error(w, "the caller is gone", http.StatusBadGateway)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

var proxyTransport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: time.Minute}
