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
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Default rate limits of a key, per minute (those of a high usage tier).
const (
	DefaultRequestsPerMinute = 10000
	DefaultTokensPerMinute   = 10000000
)

// rateLimits keeps, per API key, OpenAI's two budgets: requests and tokens per minute.
// Each is a bucket that refills continuously, so x-ratelimit-reset-* is the time until
// it is full again. Every answer carries the x-ratelimit-* headers; with enforce, a
// call that finds a budget empty is answered 429 (without Retry-After, as OpenAI's
// rate limit answers often come: the reset headers say when to come back).
type rateLimits struct {
	rpm, tpm float64
	enforce  bool

	mu      sync.Mutex
	buckets map[string]*keyBuckets
}

type keyBuckets struct {
	requests, tokens float64 // what is left
	at               time.Time
}

func newRateLimits(rpm, tpm int, enforce bool) *rateLimits {
	if rpm <= 0 {
		rpm = DefaultRequestsPerMinute
	}
	if tpm <= 0 {
		tpm = DefaultTokensPerMinute
	}
	return &rateLimits{rpm: float64(rpm), tpm: float64(tpm), enforce: enforce, buckets: map[string]*keyBuckets{}}
}

// take spends one request and tokens of key's budgets at now and writes the
// x-ratelimit-* headers. A non-nil answer is the 429 of an exhausted budget (only when
// enforcing; nothing is spent then).
func (l *rateLimits) take(h http.Header, key string, tokens float64, now time.Time) *apiError {
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		b = &keyBuckets{requests: l.rpm, tokens: l.tpm, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at).Minutes(); elapsed > 0 {
		b.requests = min(l.rpm, b.requests+elapsed*l.rpm)
		b.tokens = min(l.tpm, b.tokens+elapsed*l.tpm)
		b.at = now
	}
	var refused *apiError
	switch {
	case l.enforce && b.requests < 1:
		refused = l.exceeded("requests", "RPM", l.rpm, 1-b.requests, l.rpm)
	case l.enforce && tokens > 0 && b.tokens < tokens:
		refused = l.exceeded("tokens", "TPM", l.tpm, tokens-b.tokens, l.tpm)
	default:
		b.requests--
		b.tokens = max(b.tokens-tokens, 0)
	}
	reqs, toks := b.requests, b.tokens
	l.mu.Unlock()

	h.Set("X-Ratelimit-Limit-Requests", strconv.FormatFloat(l.rpm, 'f', 0, 64))
	h.Set("X-Ratelimit-Limit-Tokens", strconv.FormatFloat(l.tpm, 'f', 0, 64))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatFloat(math.Floor(max(reqs, 0)), 'f', 0, 64))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.FormatFloat(math.Floor(max(toks, 0)), 'f', 0, 64))
	h.Set("X-Ratelimit-Reset-Requests", resetString(refill(l.rpm-reqs, l.rpm)))
	h.Set("X-Ratelimit-Reset-Tokens", resetString(refill(l.tpm-toks, l.tpm)))
	return refused
}

// refill is how long a bucket that refills perMinute takes to gain missing.
func refill(missing, perMinute float64) time.Duration {
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / perMinute * float64(time.Minute))
}

func (l *rateLimits) exceeded(typ, unit string, limit, missing, perMinute float64) *apiError {
	return &apiError{status: http.StatusTooManyRequests, typ: typ, code: codeRateLimitExceeded,
		message: fmt.Sprintf(
			"Rate limit reached for default-model in organization org-emulator on %s per min (%s): Limit %.0f, Used %.0f, Requested 1. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more.",
			typ,
			unit,
			limit,
			limit,
			resetString(refill(missing, perMinute)),
		)}
}
