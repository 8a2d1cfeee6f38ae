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
	"io"
	"net/http"
	"time"
	"unicode/utf8"
)

// Response timetable at time scale 1.
const (
	// ResponseQueuedFor is how long a background response stays queued.
	ResponseQueuedFor = 500 * time.Millisecond
	// ResponseInProgressFor is how long it then stays in_progress.
	ResponseInProgressFor = 1500 * time.Millisecond
)

// Prompt caching: input of at least promptCacheMin tokens is written to the cache in
// blocks of promptCacheBlock tokens (reported as usage.input_tokens_details.cache_write_tokens).
const (
	promptCacheMin   = 1024
	promptCacheBlock = 128
)

const (
	maxJSONBody        = 32 << 20
	minMaxOutputTokens = 16
	maxMetadataPairs   = 16
	maxMetadataKey     = 64
	maxMetadataValue   = 512
)

// Response statuses.
const (
	respQueued     = "queued"
	respInProgress = "in_progress"
	respCompleted  = "completed"
	respFailed     = "failed"
	respIncomplete = "incomplete"
	respCancelled  = "cancelled"
)

// event is a terminal transition to announce by webhook.
type event struct {
	typ    string // "batch.completed", ...
	dataID string
	at     time.Time
}

type response struct {
	id         string
	project    string // of the key that created it: its events go to that project's endpoints
	created    time.Time
	background bool
	store      bool
	model      string
	req        map[string]json.RawMessage
	metadata   map[string]string

	// The plan, fixed at creation.
	startAt, endAt time.Time
	hang           bool
	outcome        responseOutcome
	msgID          string

	status      string
	completedAt time.Time
}

type responseOutcome struct {
	status           string // completed, failed or incomplete
	text             string
	inTok, outTok    int64
	cacheWrite       int64 // input tokens written to the prompt cache
	err              *apiError
	incompleteReason string
}

// responseRequest is a parsed POST /v1/responses body.
type responseRequest struct {
	raw             map[string]json.RawMessage
	model           string
	background      bool
	store           bool
	metadata        map[string]string
	inputText       string
	instructions    string
	maxOutputTokens int64 // 0: none
}

func parseResponseRequest(body []byte) (*responseRequest, *apiError) {
	m, ok := rawObject(body)
	if !ok {
		return nil, invalid("", "", "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.")
	}
	req := &responseRequest{raw: m}
	var aerr *apiError
	var has bool
	if req.model, has, aerr = str(m, "model"); aerr != nil {
		return nil, aerr
	} else if !has || req.model == "" {
		return nil, missing("model")
	}
	if req.background, aerr = boolField(m, "background", false); aerr != nil {
		return nil, aerr
	}
	if req.store, aerr = boolField(m, "store", true); aerr != nil {
		return nil, aerr
	}
	if stream, aerr := boolField(m, "stream", false); aerr != nil {
		return nil, aerr
	} else if stream {
		return nil, invalid("stream", "unsupported_value", "Streaming is not supported by the emulator; poll or use background mode.")
	}
	if req.background && !req.store {
		return nil, invalid("store", "invalid_value", "Background responses must be stored: 'store' cannot be false when 'background' is true.")
	}
	if raw, ok := m["input"]; ok && !isNull(raw) {
		req.inputText = textOf(raw)
	}
	if raw, ok := m["instructions"]; ok && !isNull(raw) {
		req.instructions = textOf(raw)
	}
	if n, has, aerr := intField(m, "max_output_tokens"); aerr != nil {
		return nil, aerr
	} else if has {
		if n < minMaxOutputTokens {
			return nil, invalid("max_output_tokens", "integer_below_min_value", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= %d, but got %d instead.", minMaxOutputTokens, n)
		}
		req.maxOutputTokens = n
	}
	if req.metadata, aerr = parseMetadata(m["metadata"]); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// parseMetadata checks OpenAI's metadata limits: at most 16 string pairs, keys of at
// most 64 characters, values of at most 512.
func parseMetadata(raw json.RawMessage) (map[string]string, *apiError) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, invalid("metadata", "invalid_type", "Invalid type for 'metadata': expected an object.")
	}
	if len(fields) > maxMetadataPairs {
		return nil, invalid(
			"metadata",
			"object_above_max_properties",
			"Invalid 'metadata': too many properties. Expected an object with at most %d properties, but got an object with %d properties instead.",
			maxMetadataPairs,
			len(fields),
		)
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		if n := utf8.RuneCountInString(k); n > maxMetadataKey {
			return nil, invalid(
				"metadata",
				"string_above_max_length",
				"Invalid 'metadata': string too long. Expected a string with maximum length %d, but got a string with length %d instead.",
				maxMetadataKey,
				n,
			)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalid("metadata."+k, "invalid_type", "Invalid type for 'metadata.%s': expected a string.", k)
		}
		if n := utf8.RuneCountInString(s); n > maxMetadataValue {
			return nil, invalid(
				"metadata."+k,
				"string_above_max_length",
				"Invalid 'metadata.%s': string too long. Expected a string with maximum length %d, but got a string with length %d instead.",
				k,
				maxMetadataValue,
				n,
			)
		}
		out[k] = s
	}
	return out, nil
}

// respond is the responses "model": the output echoes the input.
func respond(req *responseRequest) (outcome responseOutcome, hang bool) {
	switch req.model {
	case ModelHang:
		return responseOutcome{}, true
	case ModelFail:
		return responseOutcome{status: respFailed, err: modelFailed(req.model)}, false
	}
	o := responseOutcome{status: respCompleted, text: EchoPrefix + req.inputText}
	o.inTok = Tokens(req.instructions + req.inputText)
	if o.inTok >= promptCacheMin {
		// Long prompts are written to the prompt cache in blocks, as OpenAI's are.
		o.cacheWrite = o.inTok / promptCacheBlock * promptCacheBlock
	}
	o.outTok = Tokens(o.text)
	if req.maxOutputTokens > 0 && o.outTok > req.maxOutputTokens {
		o.status, o.incompleteReason = respIncomplete, "max_output_tokens"
		o.text = truncateTokens(o.text, req.maxOutputTokens)
		o.outTok = req.maxOutputTokens
	}
	return o, false
}

func (e *Emulator) newResponse(req *responseRequest, now time.Time) *response {
	r := &response{
		id: e.ids.response(), created: now, background: req.background, store: req.store,
		model: req.model, req: req.raw, metadata: req.metadata, msgID: e.ids.message(),
	}
	r.outcome, r.hang = respond(req)
	return r
}

// responseJSON is the response object as OpenAI sends it.
type responseJSON struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	CompletedAt        *int64            `json:"completed_at"`
	Error              any               `json:"error"`
	IncompleteDetails  any               `json:"incomplete_details"`
	Instructions       json.RawMessage   `json:"instructions"`
	MaxOutputTokens    json.RawMessage   `json:"max_output_tokens"`
	MaxToolCalls       json.RawMessage   `json:"max_tool_calls"`
	Model              string            `json:"model"`
	Output             []any             `json:"output"`
	ParallelToolCalls  json.RawMessage   `json:"parallel_tool_calls"`
	PreviousResponseID json.RawMessage   `json:"previous_response_id"`
	Reasoning          json.RawMessage   `json:"reasoning"`
	ServiceTier        string            `json:"service_tier"`
	Store              bool              `json:"store"`
	Temperature        json.RawMessage   `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              json.RawMessage   `json:"tools"`
	TopP               json.RawMessage   `json:"top_p"`
	Truncation         json.RawMessage   `json:"truncation"`
	Usage              any               `json:"usage"`
	User               json.RawMessage   `json:"user"`
	Metadata           map[string]string `json:"metadata"`
}

// echo returns the request's field k, or def when absent.
func echo(req map[string]json.RawMessage, k, def string) json.RawMessage {
	if v, ok := req[k]; ok && len(v) > 0 {
		return v
	}
	return json.RawMessage(def)
}

func (r *response) json() responseJSON {
	md := r.metadata
	if md == nil {
		md = map[string]string{}
	}
	out := responseJSON{
		ID: r.id, Object: "response", CreatedAt: r.created.Unix(), Status: r.status, Background: r.background,
		CompletedAt:        optUnix(r.completedAt),
		Instructions:       echo(r.req, "instructions", "null"),
		MaxOutputTokens:    echo(r.req, "max_output_tokens", "null"),
		MaxToolCalls:       echo(r.req, "max_tool_calls", "null"),
		Model:              Snapshot(r.model),
		Output:             []any{},
		ParallelToolCalls:  echo(r.req, "parallel_tool_calls", "true"),
		PreviousResponseID: echo(r.req, "previous_response_id", "null"),
		Reasoning:          echo(r.req, "reasoning", `{"effort":null,"summary":null}`),
		ServiceTier:        "default",
		Store:              r.store,
		Temperature:        echo(r.req, "temperature", "1.0"),
		Text:               echo(r.req, "text", `{"format":{"type":"text"},"verbosity":"medium"}`),
		ToolChoice:         echo(r.req, "tool_choice", `"auto"`),
		Tools:              echo(r.req, "tools", "[]"),
		TopP:               echo(r.req, "top_p", "1.0"),
		Truncation:         echo(r.req, "truncation", `"disabled"`),
		User:               echo(r.req, "user", "null"),
		Metadata:           md,
	}
	o := r.outcome
	switch r.status {
	case respCompleted, respIncomplete:
		msgStatus := respCompleted
		if r.status == respIncomplete {
			msgStatus = respIncomplete
			out.IncompleteDetails = map[string]string{"reason": o.incompleteReason}
		}
		out.Output = []any{map[string]any{
			"id": r.msgID, "type": "message", "status": msgStatus, "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": o.text, "annotations": []any{}, "logprobs": []any{}}},
		}}
		out.Usage = map[string]any{
			"input_tokens": o.inTok, "input_tokens_details": map[string]any{"cached_tokens": 0, "cache_write_tokens": o.cacheWrite},
			"output_tokens": o.outTok, "output_tokens_details": map[string]any{"reasoning_tokens": 0},
			"total_tokens": o.inTok + o.outTok,
		}
	case respFailed:
		out.Error = map[string]any{"code": o.err.code, "message": o.err.message}
	}
	return out
}

// advanceResponse applies the transitions due by now and returns the events to send.
// e.mu must be held.
func (e *Emulator) advanceResponse(r *response, now time.Time) []event {
	if r.status == respQueued && !now.Before(r.startAt) {
		r.status = respInProgress
	}
	if r.status == respInProgress && !r.hang && !now.Before(r.endAt) {
		r.status = r.outcome.status
		if r.status == respCompleted {
			r.completedAt = r.endAt
		}
		return []event{{typ: "response." + r.status, dataID: r.id, at: r.endAt}}
	}
	return nil
}

func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, typ: errTypeInvalidRequest, message: "Request body too large."}
	}
	return b, nil
}

func (e *Emulator) createResponse(w http.ResponseWriter, r *http.Request, _ string) {
	body, aerr := readJSONBody(w, r)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	req, aerr := parseResponseRequest(body)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	now := e.now()
	resp := e.newResponse(req, now)
	resp.project = projectOf(r)

	if req.background {
		resp.status = respQueued
		resp.startAt = now.Add(e.scaled(ResponseQueuedFor))
		resp.endAt = resp.startAt.Add(e.scaled(ResponseInProgressFor))
		e.mu.Lock()
		e.responses[resp.id] = resp
		out := resp.json()
		e.mu.Unlock()
		if !resp.hang {
			id := resp.id
			e.after(resp.endAt, func() { e.tickResponse(id) })
		}
		writeJSON(w, http.StatusOK, out)
		return
	}

	if resp.hang {
		// A synchronous request to the hanging model never answers; it ends when the
		// client gives up or the emulator closes.
		select {
		case <-r.Context().Done():
		case <-e.closed:
		}
		writeAPIError(w, &apiError{status: http.StatusServiceUnavailable, typ: errTypeServer, message: "The emulator is shutting down."})
		return
	}
	resp.status = resp.outcome.status
	resp.startAt, resp.endAt = now, now
	if resp.status == respCompleted {
		resp.completedAt = now
	}
	out := resp.json()
	if resp.store {
		e.mu.Lock()
		e.responses[resp.id] = resp
		e.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

// tickResponse is the scheduled end of a background response.
func (e *Emulator) tickResponse(id string) {
	e.mu.Lock()
	var evs []event
	if r := e.responses[id]; r != nil {
		evs = e.advanceResponse(r, e.now())
	}
	e.mu.Unlock()
	e.hooks.emit(evs)
}

func noSuchResponse(id string) *apiError {
	return notFound("", "Response with id '%s' not found.", id)
}

// withResponse runs fn on response id, advanced to now, under the lock, then sends the
// events of the transitions it caused.
func (e *Emulator) withResponse(w http.ResponseWriter, id string, fn func(r *response) (any, []event, *apiError)) {
	e.mu.Lock()
	r := e.responses[id]
	if r == nil {
		e.mu.Unlock()
		writeAPIError(w, noSuchResponse(id))
		return
	}
	evs := e.advanceResponse(r, e.now())
	out, more, aerr := fn(r)
	e.mu.Unlock()
	e.hooks.emit(append(evs, more...))
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) getResponse(w http.ResponseWriter, r *http.Request, id string) {
	if r.URL.Query().Get("stream") == "true" {
		writeAPIError(w, invalid("stream", "unsupported_value", "Streaming is not supported by the emulator."))
		return
	}
	e.withResponse(w, id, func(r *response) (any, []event, *apiError) { return r.json(), nil, nil })
}

func (e *Emulator) cancelResponse(w http.ResponseWriter, _ *http.Request, id string) {
	e.withResponse(w, id, func(r *response) (any, []event, *apiError) {
		if !r.background {
			return nil, nil, invalid("", "", "Cannot cancel a synchronous response.")
		}
		if r.status != respQueued && r.status != respInProgress {
			return r.json(), nil, nil // already final: cancelling again returns it as is
		}
		now := e.now()
		r.status = respCancelled
		return r.json(), []event{{typ: "response.cancelled", dataID: r.id, at: now}}, nil
	})
}

func (e *Emulator) deleteResponse(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	_, ok := e.responses[id]
	delete(e.responses, id)
	e.mu.Unlock()
	if !ok {
		writeAPIError(w, noSuchResponse(id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "response", "deleted": true})
}
