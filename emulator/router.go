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
	"sort"
	"strconv"
	"strings"
	"time"
)

// apiHandler serves one API operation; id is the path's object id, if any.
type apiHandler func(w http.ResponseWriter, r *http.Request, id string)

func (e *Emulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/emulator" || strings.HasPrefix(p, "/emulator/"):
		e.serveControl(w, r)
	case strings.HasPrefix(p, "/v1/"):
		e.serveAPI(w, r)
	default:
		writeAPIError(w, invalidURL(r))
	}
}

func invalidURL(r *http.Request) *apiError {
	return &apiError{status: http.StatusNotFound, typ: errTypeInvalidRequest,
		message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)}
}

// statusRecorder remembers the status code written, for the log line.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := e.ids.request()
	w.Header().Set("X-Request-Id", reqID)
	w.Header().Set("Openai-Version", "2020-10-01")
	rec := &statusRecorder{ResponseWriter: w}
	op, h, allowed := route(e, r.Method, r.URL.Path)
	defer func() {
		e.log.Debug("Handled API call", "op", op, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start), "requestID", reqID)
	}()

	key, project, aerr := e.authenticate(r)
	if aerr == nil && h != nil && r.Method != http.MethodGet && e.keyState(key) == KeyReadOnly {
		aerr = missingScopes(writeScope(op))
	}
	if aerr != nil {
		e.stats.unauthorized.Add(1)
		writeAPIError(rec, aerr)
		return
	}
	r = withProject(r, project)
	if h == nil {
		if len(allowed) > 0 {
			rec.Header().Set("Allow", strings.Join(allowed, ", "))
			writeAPIError(rec, &apiError{status: http.StatusMethodNotAllowed, typ: errTypeInvalidRequest,
				message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path)})
			return
		}
		writeAPIError(rec, invalidURL(r))
		return
	}
	e.stats.call(op)
	var tokens float64
	if op == OpResponsesCreate && r.ContentLength > 0 {
		tokens = float64((min(r.ContentLength, maxJSONBody) + 3) / 4) // the emulator's tokens: 4 bytes each
	}
	if limited := e.limits.take(rec.Header(), key, tokens, e.now()); limited != nil {
		e.stats.rateLimited.Add(1)
		writeAPIError(rec, limited)
		return
	}
	if in, ok := e.takeInjection(op); ok {
		e.stats.injected(in.Fault)
		if in.Fault == FaultLostAnswer {
			e.loseAnswer(op, h, r, routeID(r.URL.Path), in.Hold)
			return
		}
		ierr, headers := injectedError(in.Fault, key, in.RetryAfter)
		for k, v := range headers {
			rec.Header()[k] = v
		}
		writeAPIError(rec, ierr)
		return
	}
	switch f, retryAfter, typ := e.rollFault(); f {
	case faultRateLimit:
		e.stats.rateLimited.Add(1)
		secs := int64(math.Ceil(retryAfter.Seconds()))
		rec.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		rec.Header().Set("Retry-After-Ms", strconv.FormatInt(retryAfter.Milliseconds(), 10))
		rec.Header().Set("X-Ratelimit-Remaining-"+typ, "0")
		rec.Header().Set("X-Ratelimit-Reset-"+typ, resetString(retryAfter))
		writeAPIError(rec, &apiError{status: http.StatusTooManyRequests, typ: typ, code: codeRateLimitExceeded,
			message: fmt.Sprintf("Rate limit reached for %s (emulated). Please try again in %s.", typ, retryAfter)})
		return
	case faultInsufficientQuota:
		e.stats.quota.Add(1)
		writeAPIError(rec, insufficientQuota())
		return
	case faultServerError:
		e.stats.serverErrors.Add(1)
		writeAPIError(rec, serverError())
		return
	}
	h(rec, r, routeID(r.URL.Path))
	e.stats.answered(op, rec.status)
}

// authenticate checks the bearer token and returns the key and the project it acts
// for. Its errors mask the key as OpenAI does.
func (e *Emulator) authenticate(r *http.Request) (key, project string, aerr *apiError) {
	auth := r.Header.Get("Authorization")
	scheme, key, _ := strings.Cut(auth, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Bearer") || key == "" {
		return "", "", &apiError{status: http.StatusUnauthorized, typ: errTypeInvalidRequest,
			message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."}
	}
	project, ok := e.projects.projectOfKey(key)
	if !ok || e.keyState(key) == KeyRevoked {
		return "", "", invalidKey(key)
	}
	return key, project, nil
}

// route maps a method and path to an operation. When the path exists but the method
// does not, h is nil and allowed lists the methods the path takes.
//
//nolint:gocyclo // the routing table: one switch over OpenAI's paths reads best whole
func route(e *Emulator, method, path string) (op string, h apiHandler, allowed []string) {
	seg := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v1/"), "/"), "/")
	type m = map[string]struct {
		op string
		h  apiHandler
	}
	var table m
	switch {
	case len(seg) == 1 && seg[0] == "files":
		table = m{http.MethodGet: {OpFilesList, e.listFiles}, http.MethodPost: {OpFilesCreate, e.createFile}}
	case len(seg) == 2 && seg[0] == "files":
		table = m{http.MethodGet: {OpFilesRetrieve, e.getFile}, http.MethodDelete: {OpFilesDelete, e.deleteFile}}
	case len(seg) == 3 && seg[0] == "files" && seg[2] == "content":
		table = m{http.MethodGet: {OpFilesContent, e.fileContent}}
	case len(seg) == 1 && seg[0] == "batches":
		table = m{http.MethodGet: {OpBatchesList, e.listBatches}, http.MethodPost: {OpBatchesCreate, e.createBatch}}
	case len(seg) == 2 && seg[0] == "batches":
		table = m{http.MethodGet: {OpBatchesRetrieve, e.getBatch}}
	case len(seg) == 3 && seg[0] == "batches" && seg[2] == "cancel":
		table = m{http.MethodPost: {OpBatchesCancel, e.cancelBatch}}
	case len(seg) == 1 && seg[0] == "responses":
		table = m{http.MethodPost: {OpResponsesCreate, e.createResponse}}
	case len(seg) == 2 && seg[0] == "responses":
		table = m{http.MethodGet: {OpResponsesRetrieve, e.getResponse}, http.MethodDelete: {OpResponsesDelete, e.deleteResponse}}
	case len(seg) == 3 && seg[0] == "responses" && seg[2] == "cancel":
		table = m{http.MethodPost: {OpResponsesCancel, e.cancelResponse}}
	case len(seg) >= 2 && seg[0] == "fine_tuning" && seg[1] == "jobs":
		table = e.fineTuningRoutes(seg[2:])
	case len(seg) >= 1 && seg[0] == webhookEndpoints:
		table = e.webhookEndpointRoutes(seg[1:])
	case len(seg) == 1 && seg[0] == "webhook_event_types":
		table = m{http.MethodGet: {OpWebhookEventTypesList, e.listWebhookEventTypes}}
	}
	if table == nil {
		return "", nil, nil
	}
	if ent, ok := table[method]; ok {
		return ent.op, ent.h, nil
	}
	for k := range table {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	return "", nil, allowed
}

// routeID returns the object id of /v1/<kind>/<id>[/...] and
// /v1/fine_tuning/jobs/<id>[/...] paths.
func routeID(path string) string {
	seg := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v1/"), "/"), "/")
	if len(seg) >= 3 && seg[0] == "fine_tuning" {
		return seg[2]
	}
	if len(seg) >= 2 {
		return seg[1]
	}
	return ""
}
