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
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// FaultKind is a fault that Inject makes the next calls of an operation answer.
type FaultKind string

// Fault kinds. The answers are OpenAI's, status, error type and code included.
const (
	// FaultBadRequest answers 400 invalid_request_error: OpenAI refuses the request.
	FaultBadRequest FaultKind = "bad_request"
	// FaultUnauthorized answers 401 invalid_api_key, as for a revoked or wrong key.
	FaultUnauthorized FaultKind = "unauthorized"
	// FaultForbidden answers 403 request_forbidden (OpenAI's answer from a country,
	// region or territory it does not serve).
	FaultForbidden FaultKind = "forbidden"
	// FaultWrongProject answers 401 mismatched_project: the key belongs to another
	// project than the OpenAI-Project header names.
	FaultWrongProject FaultKind = "wrong_project"
	// FaultNotFound answers 404, as for an id OpenAI does not know.
	FaultNotFound FaultKind = "not_found"
	// FaultConflict answers 409.
	FaultConflict FaultKind = "conflict"
	// FaultRateLimitRequests answers 429 rate_limit_exceeded of type requests.
	FaultRateLimitRequests FaultKind = "rate_limit_requests"
	// FaultRateLimitTokens answers 429 rate_limit_exceeded of type tokens.
	FaultRateLimitTokens FaultKind = "rate_limit_tokens"
	// FaultInsufficientQuota answers 429 insufficient_quota, which retrying does not fix
	// until the account has credit again. Like OpenAI's, it carries no Retry-After.
	FaultInsufficientQuota FaultKind = "insufficient_quota"
	// FaultServerError answers 500 server_error.
	FaultServerError FaultKind = "server_error"
	// FaultLostAnswer does the work (the object is created, cancelled, deleted ...),
	// then closes the connection without an answer, after Injection.Hold: the client
	// sees a timeout or a broken connection although OpenAI acted.
	FaultLostAnswer FaultKind = "lost_answer"
)

var faultKinds = []FaultKind{
	FaultBadRequest, FaultUnauthorized, FaultForbidden, FaultWrongProject, FaultNotFound, FaultConflict,
	FaultRateLimitRequests, FaultRateLimitTokens, FaultInsufficientQuota, FaultServerError, FaultLostAnswer,
}

// Injection makes the next Count calls of operation Op answer Fault. Injections are
// used in the order they were added, before the random fault knobs.
type Injection struct {
	// Op is the operation ("batches.create", see the Op constants); "*" matches any.
	Op string `json:"op"`
	// Fault is what those calls answer.
	Fault FaultKind `json:"fault"`
	// Count is how many calls answer it; at least 1 (0 means 1).
	Count int `json:"count,omitempty"`
	// RetryAfter, for 429s, is sent as Retry-After (whole seconds, rounded up) and
	// Retry-After-Ms. Zero sends neither: the client has only the
	// x-ratelimit-reset-* headers (which say RetryAfterFallback then) to go by.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Hold, for lost_answer, is how long the connection stays open, without an answer,
	// before it is closed (or until the client gives up).
	Hold time.Duration `json:"hold,omitempty"`
}

// RetryAfterFallback is what x-ratelimit-reset-* say on an injected 429 without
// RetryAfter.
const RetryAfterFallback = time.Second

type injectionJSON struct {
	Op         string        `json:"op"`
	Fault      FaultKind     `json:"fault"`
	Count      int           `json:"count,omitempty"`
	RetryAfter *jsonDuration `json:"retry_after,omitempty"`
	Hold       *jsonDuration `json:"hold,omitempty"`
}

// MarshalJSON writes durations as Go duration strings.
func (in Injection) MarshalJSON() ([]byte, error) {
	j := injectionJSON{Op: in.Op, Fault: in.Fault, Count: in.Count}
	if in.RetryAfter > 0 {
		d := jsonDuration(in.RetryAfter)
		j.RetryAfter = &d
	}
	if in.Hold > 0 {
		d := jsonDuration(in.Hold)
		j.Hold = &d
	}
	return mustJSON(j), nil
}

// UnmarshalJSON reads durations as Go duration strings or numbers of seconds.
func (in *Injection) UnmarshalJSON(b []byte) error {
	var j injectionJSON
	if err := jsonUnmarshalStrict(b, &j); err != nil {
		return err
	}
	*in = Injection{Op: j.Op, Fault: j.Fault, Count: j.Count}
	if j.RetryAfter != nil {
		in.RetryAfter = time.Duration(*j.RetryAfter)
	}
	if j.Hold != nil {
		in.Hold = time.Duration(*j.Hold)
	}
	return nil
}

// jsonUnmarshalStrict decodes b into v, refusing unknown fields (a misspelt knob).
func jsonUnmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (in Injection) validate() error {
	if in.Op != "*" && !slices.Contains(allOps, in.Op) {
		return fmt.Errorf("unknown operation %q: one of %v, or \"*\"", in.Op, allOps)
	}
	if !slices.Contains(faultKinds, in.Fault) {
		return fmt.Errorf("unknown fault %q: one of %v", in.Fault, faultKinds)
	}
	if in.Count < 0 || in.RetryAfter < 0 || in.Hold < 0 {
		return fmt.Errorf("count, retry_after and hold must not be negative")
	}
	return nil
}

// Inject makes the next in.Count calls of in.Op answer in.Fault.
func (e *Emulator) Inject(in Injection) error {
	if err := in.validate(); err != nil {
		return err
	}
	in.Count = max(in.Count, 1)
	e.faultMu.Lock()
	e.injections = append(e.injections, in)
	e.faultMu.Unlock()
	return nil
}

// Injections returns the injections not used up yet, Count saying what is left.
func (e *Emulator) Injections() []Injection {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	return append([]Injection{}, e.injections...)
}

// ClearInjections drops every pending injection.
func (e *Emulator) ClearInjections() {
	e.faultMu.Lock()
	e.injections = nil
	e.faultMu.Unlock()
}

// takeInjection returns the injection that answers this call of op, if any.
func (e *Emulator) takeInjection(op string) (Injection, bool) {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	for i := range e.injections {
		in := &e.injections[i]
		if in.Op != "*" && in.Op != op {
			continue
		}
		got := *in
		if in.Count--; in.Count <= 0 {
			e.injections = slices.Delete(e.injections, i, i+1)
		}
		return got, true
	}
	return Injection{}, false
}

// injectedError is the answer of an injected fault other than lost_answer, with the
// headers it carries.
func injectedError(f FaultKind, key string, retryAfter time.Duration) (*apiError, http.Header) {
	h := http.Header{}
	rateLimited := func(typ, limit string) *apiError {
		wait := retryAfter
		if wait <= 0 {
			wait = RetryAfterFallback
		} else {
			h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retryAfter.Seconds())), 10))
			h.Set("Retry-After-Ms", strconv.FormatInt(retryAfter.Milliseconds(), 10))
		}
		h.Set("X-Ratelimit-Remaining-"+typ, "0")
		h.Set("X-Ratelimit-Reset-"+typ, resetString(wait))
		return &apiError{status: http.StatusTooManyRequests, typ: typ, code: codeRateLimitExceeded,
			message: fmt.Sprintf(
				"Rate limit reached for default-model in organization org-emulator on %s per min (%s): Limit %s, Used %s, Requested 1. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more.",
				typ,
				map[string]string{"requests": "RPM", "tokens": "TPM"}[typ],
				limit,
				limit,
				resetString(wait),
			)}
	}
	switch f {
	case FaultBadRequest:
		return invalid("", "invalid_value", "Invalid request (injected by the emulator)."), h
	case FaultUnauthorized:
		return invalidKey(key), h
	case FaultForbidden:
		return &apiError{status: http.StatusForbidden, typ: "request_forbidden", code: "unsupported_country_region_territory",
			message: "Country, region, or territory not supported"}, h
	case FaultWrongProject:
		return &apiError{status: http.StatusUnauthorized, typ: errTypeInvalidRequest, code: "mismatched_project",
			message: "OpenAI-Project header should match project for API key"}, h
	case FaultNotFound:
		return notFound("", "Not found (injected by the emulator)."), h
	case FaultConflict:
		return &apiError{status: http.StatusConflict, typ: errTypeInvalidRequest,
			message: "The request conflicts with the object's current state (injected by the emulator)."}, h
	case FaultRateLimitRequests:
		return rateLimited("requests", "10000"), h
	case FaultRateLimitTokens:
		return rateLimited("tokens", "10000000"), h
	case FaultInsufficientQuota:
		return insufficientQuota(), h
	}
	return serverError(), h
}

func insufficientQuota() *apiError {
	return &apiError{status: http.StatusTooManyRequests, typ: "insufficient_quota", code: "insufficient_quota",
		message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."}
}

// resetString writes a duration as OpenAI's x-ratelimit-reset-* headers do: "20ms",
// "1s", "6m0s", "1.5s".
func resetString(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d < time.Second {
		return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
	}
	return d.Round(time.Millisecond).String()
}

// discardWriter takes the answer of a call whose answer is to be lost.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// loseAnswer runs h (the work is done) and then aborts the connection after hold, or
// as soon as the client gave up.
func (e *Emulator) loseAnswer(op string, h apiHandler, r *http.Request, id string, hold time.Duration) {
	rec := &statusRecorder{ResponseWriter: &discardWriter{header: http.Header{}}}
	h(rec, r, id)
	e.stats.answered(op, rec.status)
	if hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.closed:
		}
	}
	// net/http closes the connection without writing anything and without logging.
	panic(http.ErrAbortHandler)
}
