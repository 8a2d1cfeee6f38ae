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

package openaiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/openai/openai-go/v3/option"
)

// Gate spaces out the calls of each OpenAI project (one API key) once OpenAI has
// refused some of them: rate limits (429), an exhausted quota (429 insufficient_quota),
// a refused key (401, 403). Every client of a project shares its gate, so that a
// refusal holds them all rather than each finding out for itself: 5,000 objects on one
// key make one call when the wait is over, not 5,000.
//
// A project has two lanes: one for every call and one for create calls (uploads,
// batches and responses created; those that spend). A refusal of a create call holds
// the create lane only (a key without write permission, or without quota, can still
// read); any other refusal, and a requests-per-minute 429 whatever the call, holds
// every call. A held lane answers callers with a *HeldError, without calling OpenAI,
// until its wait is over: at least what OpenAI asked (Retry-After, Retry-After-Ms,
// x-ratelimit-reset-*), else Min doubling with every refusal in a row up to Max, with
// jitter; Quota after insufficient_quota. Refusals of calls that set out before the
// lane's last refusal (the calls in flight when a limit trips) are the same refusal:
// they can lengthen the wait OpenAI asks for, not double the backoff. Then one call goes
// through (a probe) while the others keep waiting; an answer that shows the key works
// opens the lane.
//
// The zero Gate is not usable; set Min, Max and Quota. A nil *Gate holds nothing.
type Gate struct {
	// Min and Max bound the exponential backoff after refusals that did not say how
	// long to wait.
	Min, Max time.Duration
	// Quota is the wait after a 429 insufficient_quota: long, as only a payment ends it.
	Quota time.Duration

	mu       sync.Mutex
	projects map[string]*[2]lane // project -> {every call, create calls}
	rng      *mrand.Rand
	now      func() time.Time
}

const (
	laneAll = iota
	laneCreate
)

// lane is the state of one kind of call of one project.
type lane struct {
	failures   int       // refusals in a row
	refusedAt  time.Time // when the last refusal was observed
	until      time.Time // no call before
	probeSince time.Time // a call let through after the wait is in flight since then
	refusal    Refusal
}

// Refusal is what OpenAI answered when it last refused a project's call.
type Refusal struct {
	Class      Class
	StatusCode int
	// Code and Type are OpenAI's error code and type ("invalid_api_key",
	// "insufficient_quota"; "requests", "tokens").
	Code, Type string
	// Message is OpenAI's answer, scrubbed of the key.
	Message string
	// Operation is the call that was refused ("batches.create").
	Operation string
}

// HeldError is what a client returns, without calling OpenAI, while its project's
// gate holds the call.
type HeldError struct {
	// Wait is how long the caller should wait before trying again (jitter included).
	Wait time.Duration
	// Refusal is why the project is held.
	Refusal Refusal
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("not calling OpenAI for %s more: %s", e.Wait.Round(time.Millisecond), e.Refusal.Message)
}

// probeTimeout frees the probe slot of a call that never came back.
const probeTimeout = 2 * time.Minute

// NewGate returns a gate with the given backoff bounds and quota wait.
func NewGate(minWait, maxWait, quota time.Duration) *Gate {
	return &Gate{Min: minWait, Max: max(maxWait, minWait), Quota: quota}
}

func (g *Gate) init() {
	if g.projects == nil {
		g.projects = map[string]*[2]lane{}
		g.rng = mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	}
	if g.now == nil {
		g.now = time.Now
	}
}

// jitter returns a random duration in [0, d).
func (g *Gate) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(g.rng.Int64N(int64(d)))
}

// Option returns the client option that puts a client's calls behind the gate of
// project (the credentials Secret, "namespace/name"). secrets are scrubbed from the
// messages it keeps (the API key).
func (g *Gate) Option(project string, secrets ...string) option.RequestOption {
	return option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		if g == nil {
			return next(req)
		}
		op := Operation(req.Method, req.URL.Path)
		create := isCreate(op)
		admitted, held := g.admit(project, create)
		if held != nil {
			return nil, held
		}
		resp, err := next(req)
		g.observe(project, op, create, admitted, resp, err, secrets)
		return resp, err
	})
}

// isCreate reports whether op creates something on OpenAI (spends, or uploads).
func isCreate(op string) bool {
	return op == "files.create" || op == "batches.create" || op == "responses.create"
}

// Held returns why and how long a create call (create) or any call of project would
// be held now, or nil. It does not take the probe slot.
func (g *Gate) Held(project string, create bool) *HeldError {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	now := g.now()
	for _, l := range g.lanesLocked(project, create) {
		if l.failures > 0 && now.Before(l.until) {
			return &HeldError{Wait: l.until.Sub(now), Refusal: l.refusal}
		}
	}
	return nil
}

func (g *Gate) lanesLocked(project string, create bool) []*lane {
	p := g.projects[project]
	if p == nil {
		p = &[2]lane{}
		g.projects[project] = p
	}
	if create {
		return []*lane{&p[laneAll], &p[laneCreate]}
	}
	return []*lane{&p[laneAll]}
}

// admit lets a call through (and says when), or returns why it must wait.
func (g *Gate) admit(project string, create bool) (time.Time, *HeldError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	now := g.now()
	lanes := g.lanesLocked(project, create)
	for _, l := range lanes {
		switch {
		case l.failures == 0:
		case now.Before(l.until):
			// Spread the returns of the waiting callers over half the wait again.
			wait := l.until.Sub(now)
			return now, &HeldError{Wait: wait + g.jitter(wait/2) + time.Millisecond, Refusal: l.refusal}
		case !l.probeSince.IsZero() && now.Sub(l.probeSince) < probeTimeout:
			// The wait is over and one call is finding out whether OpenAI agrees.
			return now, &HeldError{Wait: g.Min + g.jitter(g.Min), Refusal: l.refusal}
		}
	}
	for _, l := range lanes {
		if l.failures > 0 {
			l.probeSince = now
		}
	}
	return now, nil
}

// observe updates the project's lanes with the outcome of a call admitted at admitted.
// An acceptance opens only the lanes it could speak for: a call that set out before
// the lane's last refusal says nothing about the key since.
func (g *Gate) observe(project, op string, create bool, admitted time.Time, resp *http.Response, err error, secrets []string) {
	var refusal *Refusal
	var wait time.Duration
	if err == nil && resp != nil {
		refusal, wait = refusalOf(op, resp, secrets)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	lanes := g.lanesLocked(project, create)
	switch {
	case err != nil || resp == nil || resp.StatusCode >= 500:
		// No verdict on the key: free the probe slot, keep the wait.
		for _, l := range lanes {
			l.probeSince = time.Time{}
		}
	case refusal == nil:
		// OpenAI accepted the key for this kind of call.
		for _, l := range lanes {
			if !admitted.Before(l.refusedAt) {
				*l = lane{}
			}
		}
	default:
		l := lanes[laneAll]
		if create && (refusal.Class != RateLimited || refusal.Type == limitTokens) {
			l = lanes[laneCreate]
		}
		for _, other := range lanes {
			other.probeSince = time.Time{}
		}
		if l.failures > 0 && admitted.Before(l.refusedAt) && refusal.Class == l.refusal.Class {
			// The call set out before the lane's last refusal of the same kind: the same
			// episode (every call in flight when a limit trips comes back 429), not another
			// refusal in a row. It may ask for a longer wait; it does not double the backoff.
			l.until = later(l.until, g.now().Add(wait))
			return
		}
		l.failures++
		l.refusedAt = g.now()
		backoff := min(g.Min<<min(l.failures-1, 30), g.Max)
		if refusal.Class == QuotaExceeded {
			backoff = g.Quota
		}
		backoff += g.jitter(backoff / 4)
		l.until = g.now().Add(max(wait, backoff))
		l.refusal = *refusal
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// refusalOf reads a refused call's answer: 401, 403 and 429. Its body is read and put
// back for the SDK.
func refusalOf(op string, resp *http.Response, secrets []string) (*Refusal, time.Duration) {
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
	default:
		return nil, 0
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if resp.Body != nil {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		_ = json.Unmarshal(raw, &body)
	}
	e := body.Error
	msg := fmt.Sprintf("OpenAI answered %d", resp.StatusCode)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return &Refusal{Class: classOf(resp.StatusCode, e.Code, e.Type), StatusCode: resp.StatusCode, Code: e.Code, Type: e.Type,
		Message: Scrub(msg, secrets...), Operation: op}, retryAfter(resp.Header, e.Type)
}

// Reset forgets what the gate knows of project: its key changed.
func (g *Gate) Reset(project string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	delete(g.projects, project)
	g.mu.Unlock()
}
