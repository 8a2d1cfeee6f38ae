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
	"encoding/json"
	"fmt"
	"net/http"
)

// The error types (error.type) OpenAI answers with.
const (
	errTypeInvalidRequest = "invalid_request_error"
	errTypeServer         = "server_error"
)

// codeRateLimitExceeded is the error code of a 429 for a rate limit (not for quota).
const codeRateLimitExceeded = "rate_limit_exceeded"

// apiError is an error answered in OpenAI's shape:
// {"error":{"message","type","param","code"}}. Empty param and code are null.
type apiError struct {
	status  int
	message string
	typ     string
	param   string
	code    string
}

func (e *apiError) Error() string { return e.message }

func (e *apiError) body() []byte {
	type inner struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	in := inner{Message: e.message, Type: e.typ}
	if e.param != "" {
		in.Param = &e.param
	}
	if e.code != "" {
		in.Code = &e.code
	}
	b, _ := json.Marshal(struct {
		Error inner `json:"error"`
	}{in})
	return b
}

// invalid returns a 400 invalid_request_error.
func invalid(param, code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...), typ: errTypeInvalidRequest, param: param, code: code}
}

// missing returns OpenAI's error for a missing required parameter.
func missing(param string) *apiError {
	return invalid(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
}

// notFound returns a 404 invalid_request_error.
func notFound(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, message: fmt.Sprintf(format, args...), typ: errTypeInvalidRequest, param: param}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeAPIError(w, serverError())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func serverError() *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: errTypeServer,
		message: "The server had an error while processing your request. Sorry about that!"}
}

// maskKey hides an API key the way OpenAI's 401 message does: the first five and last
// two characters survive, short keys are hidden entirely.
func maskKey(k string) string {
	if len(k) <= 10 {
		return "***"
	}
	return k[:5] + "***" + k[len(k)-2:]
}
