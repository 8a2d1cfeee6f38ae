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
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
)

// Class says what a reconciler should do about an error from the API.
type Class int

const (
	// Transient errors (5xx, 408, 409, timeouts, connection failures) are retried with
	// backoff. For a create call they are ambiguous: the object may exist.
	Transient Class = iota
	// RateLimited errors (429 rate_limit_exceeded, of type requests or tokens) are
	// retried after RetryAfter. The request was not done.
	RateLimited
	// NotFound means the object does not exist, or not for this key's project (404).
	NotFound
	// Terminal errors are the other 4xx answers, which no retry can fix: on a create
	// call, OpenAI refused the request itself (a bad parameter, a bad input file).
	Terminal
	// Unauthorized (401) means OpenAI refused the key: wrong, revoked, lacking a scope,
	// or of another organization or project than the request names. Nothing was done.
	Unauthorized
	// Forbidden (403) means the key may not do this (for example from a region OpenAI
	// does not serve). Nothing was done.
	Forbidden
	// QuotaExceeded (429 insufficient_quota) means the account has no credit left:
	// retrying soon does not help. Nothing was done.
	QuotaExceeded
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case RateLimited:
		return "rate_limited"
	case NotFound:
		return "not_found"
	case Terminal:
		return "terminal"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case QuotaExceeded:
		return "quota_exceeded"
	}
	return "unknown"
}

// Refused reports whether the class means OpenAI refused the caller rather than the
// request: the key, its permissions or its quota. Retrying later, or with another
// key, can succeed; the request itself was not judged.
func (c Class) Refused() bool {
	return c == Unauthorized || c == Forbidden || c == QuotaExceeded
}

// The types of OpenAI's rate limits, in a 429's error type and x-ratelimit-* headers.
const (
	limitRequests = "requests"
	limitTokens   = "tokens"
)

// Classified describes an API error.
type Classified struct {
	Class Class
	// StatusCode is the HTTP status, 0 when no answer arrived.
	StatusCode int
	// Code and Type are OpenAI's error code and type ("invalid_api_key",
	// "insufficient_quota"; "requests", "tokens"), when it sent them.
	Code, Type string
	// RetryAfter is how long OpenAI asked to wait: Retry-After-Ms, Retry-After, or for a
	// 429 without them the x-ratelimit-reset-* of the exhausted limit. Zero when it
	// said nothing.
	RetryAfter time.Duration
	// Message is safe to show users: OpenAI's error code and message with anything that
	// looks like an API key removed.
	Message string
}

// Classify sorts err. secrets are strings to scrub from the message (the API key).
func Classify(err error, secrets ...string) Classified {
	var held *HeldError
	if errors.As(err, &held) {
		return Classified{Class: held.Refusal.Class, StatusCode: held.Refusal.StatusCode, Code: held.Refusal.Code,
			RetryAfter: held.Wait, Message: Scrub(held.Error(), secrets...)}
	}
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		msg := "calling the OpenAI API: " + err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "calling the OpenAI API: timed out"
		}
		return Classified{Class: Transient, Message: Scrub(msg, secrets...)}
	}
	c := Classified{StatusCode: apiErr.StatusCode, Code: apiErr.Code, Type: apiErr.Type, Message: Scrub(apiMessage(apiErr), secrets...)}
	if apiErr.Response != nil {
		c.RetryAfter = retryAfter(apiErr.Response.Header, apiErr.Type)
	}
	c.Class = classOf(apiErr.StatusCode, apiErr.Code, apiErr.Type)
	return c
}

// classOf sorts an answer by its status and OpenAI's error code and type.
func classOf(status int, code, typ string) Class {
	switch {
	case status == http.StatusTooManyRequests && (code == CodeInsufficientQuota || typ == CodeInsufficientQuota):
		return QuotaExceeded
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status == http.StatusUnauthorized:
		return Unauthorized
	case status == http.StatusForbidden:
		return Forbidden
	case status == http.StatusNotFound:
		return NotFound
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status >= 500:
		return Transient
	case status >= 400:
		return Terminal
	}
	return Transient
}

// CodeInsufficientQuota is OpenAI's error code (and type) of a 429 that says the
// account has no credit left.
const CodeInsufficientQuota = "insufficient_quota"

func apiMessage(e *openai.Error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "OpenAI answered %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// maxRetryAfter caps what a server may ask a client to wait.
const maxRetryAfter = 10 * time.Minute

// retryAfter reads how long to wait from an answer's headers: Retry-After-Ms, else
// Retry-After (seconds or an HTTP date), else, for a rate limit of type typ
// ("requests" or "tokens"), x-ratelimit-reset-<typ>; without a type, the reset of
// whichever limit has nothing remaining. OpenAI writes resets as durations ("1s",
// "6m0s", "20ms"). Capped at ten minutes; zero when nothing says.
func retryAfter(h http.Header, typ string) time.Duration {
	var d time.Duration
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		d = time.Duration(ms * float64(time.Millisecond))
	} else if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = time.Until(t)
		}
	} else {
		limits := []string{limitRequests, limitTokens}
		if typ == limitRequests || typ == limitTokens {
			limits = []string{typ}
		}
		for _, limit := range limits {
			if len(limits) > 1 && h.Get("X-Ratelimit-Remaining-"+limit) != "0" {
				continue
			}
			if reset, err := time.ParseDuration(h.Get("X-Ratelimit-Reset-" + limit)); err == nil {
				d = max(d, reset)
			}
		}
	}
	if d < 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// keyPattern matches OpenAI API keys, whole or masked the way OpenAI echoes them
// ("sk-ab***yz").
var keyPattern = regexp.MustCompile(`\bsk-[A-Za-z0-9_\-*]{2,}`)

// Scrub removes secrets and anything shaped like an OpenAI API key from s.
func Scrub(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return keyPattern.ReplaceAllString(s, "[redacted]")
}
