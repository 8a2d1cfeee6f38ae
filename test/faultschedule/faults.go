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
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fault is what happens to one OpenAI call instead of its normal answer.
type Fault string

// The faults a call can get. Answers have OpenAI's exact error shape,
// {"error":{"message","type","param","code"}}, as the emulator answers (docs/EMULATOR.md).
const (
	NoFault Fault = ""
	// Fault400 is OpenAI refusing the request itself (invalid_request_error).
	Fault400 Fault = "400"
	// Fault401 is a bad key (invalid_api_key).
	Fault401 Fault = "401"
	// Fault403 is a key without the permission the call needs.
	Fault403 Fault = "403"
	// Fault404 says the object does not exist.
	Fault404 Fault = "404"
	// Fault409 is a conflict.
	Fault409 Fault = "409"
	// Fault429 is rate_limit_exceeded with Retry-After (and Retry-After-Ms).
	Fault429 Fault = "429"
	// Fault429NoRetryAfter is rate_limit_exceeded without any retry header.
	Fault429NoRetryAfter Fault = "429-no-retry-after"
	// Fault429Quota is insufficient_quota, which retrying does not fix soon.
	Fault429Quota Fault = "429-insufficient-quota"
	// Fault500 is a server_error.
	Fault500 Fault = "500"
	// FaultTimeoutBefore: the call times out before it reaches OpenAI.
	FaultTimeoutBefore Fault = "timeout-before"
	// FaultTimeoutAfter: OpenAI does the work, and the answer is lost (a timeout).
	FaultTimeoutAfter Fault = "timeout-after"
)

// AllFaults lists every fault, in the order reports give them.
var AllFaults = []Fault{Fault400, Fault401, Fault403, Fault404, Fault409, Fault429, Fault429NoRetryAfter,
	Fault429Quota, Fault500, FaultTimeoutBefore, FaultTimeoutAfter}

// faultRetryAfter is the Retry-After of a Fault429.
const faultRetryAfter = time.Second

// FaultFor decides the fault of the attempt-th call (from 0) of operation op about the
// named resource: a hash of (seed, resource, op, attempt), so the decision does not
// depend on when the call comes or what else runs.
func (s *Schedule) FaultFor(resource, op string, attempt int) Fault {
	if s.FaultRate == 0 || attempt >= MaxFaultedAttempts {
		return NoFault
	}
	h := hash64(fmt.Sprintf("%d\x00%s\x00%s\x00%d", s.Seed, resource, op, attempt))
	if unit(h) >= s.FaultRate {
		return NoFault
	}
	f := AllFaults[splitmix(h)%uint64(len(AllFaults))]
	if believed(op, f) {
		return NoFault
	}
	return f
}

// believed reports whether answer f to op is one the operator must take at its word
// because OpenAI uses it to say the work is over: 404 to a delete (a webhook
// endpoint's too), a download or a cancel (the object is gone), 400 or 409 to a cancel (it has already ended; a
// fine-tuning job's, too). Injected
// where the object exists and runs, such an answer would only show that the harness can
// lie, so it is not injected there.
func believed(op string, f Fault) bool {
	switch op {
	case opFilesDelete, opFilesContent, "responses.delete", "webhook_endpoints.delete":
		return f == Fault404
	case "batches.cancel", "responses.cancel", "fine_tuning.jobs.cancel":
		return f == Fault404 || f == Fault400 || f == Fault409
	}
	return false
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return splitmix(h.Sum64())
}

// splitmix is SplitMix64's finaliser: it spreads the bits of x.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps h to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// openAIError is OpenAI's error body.
type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// errorAnswer builds OpenAI's answer for fault f (not the timeouts) to req.
func errorAnswer(req *http.Request, f Fault, retryAfter time.Duration) *http.Response {
	status, typ, code, msg := 0, "invalid_request_error", "", ""
	h := http.Header{}
	switch f {
	case Fault400:
		status, code, msg = http.StatusBadRequest, "invalid_value", "Invalid value for this request (injected by the fault schedule)."
	case Fault401:
		status, code = http.StatusUnauthorized, "invalid_api_key"
		msg = "Incorrect API key provided: sk-fs***xx. You can find your API key at https://platform.openai.com/account/api-keys."
	case Fault403:
		status, code = http.StatusForbidden, "insufficient_permissions"
		msg = "You have insufficient permissions for this operation. Missing scopes: api.batch.write."
	case Fault404:
		status, msg = http.StatusNotFound, "No such object (injected by the fault schedule)."
	case Fault409:
		status, msg = http.StatusConflict, "The object is being modified by another request (injected by the fault schedule)."
	case Fault429, Fault429NoRetryAfter:
		status, typ, code = http.StatusTooManyRequests, "requests", "rate_limit_exceeded"
		msg = "Rate limit reached for requests (injected by the fault schedule)."
		if f == Fault429 {
			h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retryAfter.Seconds())), 10))
			h.Set("Retry-After-Ms", strconv.FormatInt(retryAfter.Milliseconds(), 10))
		}
	case Fault429Quota:
		status, typ, code = http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota"
		msg = "You exceeded your current quota, please check your plan and billing details."
	case Fault500:
		status, typ = http.StatusInternalServerError, "server_error"
		msg = "The server had an error while processing your request. Sorry about that!"
	default:
		panic("errorAnswer: no answer for fault " + string(f))
	}
	var body openAIError
	body.Error.Message, body.Error.Type = msg, typ
	if code != "" {
		body.Error.Code = &code
	}
	data, _ := json.Marshal(body)
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", "req_faultschedule")
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(data)), ContentLength: int64(len(data)), Request: req,
	}
}

// timeoutError is what a client sees when its call timed out: a net.Error that times
// out, and is context.DeadlineExceeded.
type timeoutError struct{ after bool }

func (e timeoutError) Error() string {
	if e.after {
		return "read tcp: i/o timeout (the answer was lost)"
	}
	return "dial tcp: i/o timeout"
}
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Unwrap() error   { return context.DeadlineExceeded }
