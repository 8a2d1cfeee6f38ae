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
	// Transient errors (5xx, timeouts, connection failures) are retried with backoff.
	// For a create call they are ambiguous: the object may exist.
	Transient Class = iota
	// RateLimited errors (429) are retried after RetryAfter. The request was not done.
	RateLimited
	// NotFound means the object does not exist (404).
	NotFound
	// Terminal errors are 4xx answers that no retry can fix (bad key, invalid request).
	Terminal
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
	}
	return "unknown"
}

// Classified describes an API error.
type Classified struct {
	Class Class
	// StatusCode is the HTTP status, 0 when no answer arrived.
	StatusCode int
	// RetryAfter is the server's Retry-After (or Retry-After-Ms), when it sent one.
	RetryAfter time.Duration
	// Message is safe to show users: OpenAI's error code and message with anything that
	// looks like an API key removed.
	Message string
}

// Classify sorts err. secrets are strings to scrub from the message (the API key).
func Classify(err error, secrets ...string) Classified {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		msg := "calling the OpenAI API: " + err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "calling the OpenAI API: timed out"
		}
		return Classified{Class: Transient, Message: Scrub(msg, secrets...)}
	}
	c := Classified{StatusCode: apiErr.StatusCode, Message: Scrub(apiMessage(apiErr), secrets...)}
	if apiErr.Response != nil {
		c.RetryAfter = retryAfter(apiErr.Response.Header)
	}
	switch code := apiErr.StatusCode; {
	case code == http.StatusTooManyRequests:
		c.Class = RateLimited
	case code == http.StatusNotFound:
		c.Class = NotFound
	case code == http.StatusRequestTimeout || code == http.StatusConflict || code >= 500:
		c.Class = Transient
	case code >= 400:
		c.Class = Terminal
	default:
		c.Class = Transient
	}
	return c
}

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

// retryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP date), capped at
// ten minutes.
func retryAfter(h http.Header) time.Duration {
	const maxWait = 10 * time.Minute
	var d time.Duration
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		d = time.Duration(ms * float64(time.Millisecond))
	} else if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = time.Until(t)
		}
	}
	if d < 0 {
		return 0
	}
	return min(d, maxWait)
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
