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
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"time"
)

// Batch timetable at time scale 1. A batch of n requests (none hanging) completes after
// BatchValidatingFor + BatchStartDelay + n*BatchPerRequest (at most BatchMaxProcessing
// for the requests in all) + BatchFinalizingFor: 3.6 s for three requests.
const (
	// BatchValidatingFor is how long a batch stays validating.
	BatchValidatingFor = time.Second
	// BatchStartDelay is how long a batch is in_progress before its first request ends.
	BatchStartDelay = time.Second
	// BatchPerRequest is the time each request takes; they run one after another.
	BatchPerRequest = 200 * time.Millisecond
	// BatchMaxProcessing caps the time all requests of one batch take together.
	BatchMaxProcessing = 60 * time.Second
	// BatchFinalizingFor is how long a batch stays finalizing.
	BatchFinalizingFor = time.Second
	// BatchCancellingFor is how long a cancelled batch stays cancelling.
	BatchCancellingFor = time.Second
	// BatchCompletionWindow is the completion window ("24h"); a batch still running
	// then expires.
	BatchCompletionWindow = 24 * time.Hour
)

const (
	maxBatchLines  = 50000
	maxBatchErrors = 100 // validation errors reported in errors.data
	defaultBatches = 20
	maxBatchPage   = 100
)

// Batch statuses.
const (
	batchValidating = "validating"
	batchFailed     = "failed"
	batchInProgress = "in_progress"
	batchFinalizing = "finalizing"
	batchCompleted  = "completed"
	batchExpired    = "expired"
	batchCancelling = "cancelling"
	batchCancelled  = "cancelled"
)

var batchEndpoints = map[string]bool{
	"/v1/responses": true, "/v1/chat/completions": true, "/v1/embeddings": true, "/v1/completions": true, "/v1/moderations": true,
}

var unsupportedBatchEndpoints = map[string]bool{
	"/v1/images/generations": true, "/v1/images/edits": true, "/v1/videos": true,
}

type batchError struct {
	Code    string  `json:"code"`
	Line    *int    `json:"line"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

// planLine is one request of a valid batch, with the model's answer.
type planLine struct {
	customID string
	reqID    string // "batch_req_..."
	result   lineResult
}

type batch struct {
	id               string
	project          string // of the key that created it: its events go to that project's endpoints
	seq              int    // position in Emulator.batchSeq
	endpoint         string
	inputFileID      string
	completionWindow string
	model            string
	metadata         map[string]string
	outputExpiry     time.Duration // scaled; 0: output files do not expire
	created          time.Time
	expiresAt        time.Time

	// The plan, fixed at creation.
	validateAt  time.Time
	verrs       []batchError // non-empty: the batch fails validation
	lines       []planLine   // runnable lines in input order, then hanging lines
	runnable    int
	okPrefix    []int32 // okPrefix[k]: successful lines among the first k
	inPrefix    []int64 // input tokens of the successful lines among the first k
	outPrefix   []int64
	firstDoneAt time.Time     // in_progress start + BatchStartDelay
	step        time.Duration // time per request

	status       string
	inProgressAt time.Time
	finalizingAt time.Time
	completedAt  time.Time
	failedAt     time.Time
	expiredAt    time.Time
	cancellingAt time.Time
	cancelledAt  time.Time
	cancelDoneAt time.Time
	processed    int // frozen once cancelling or terminal
	frozen       bool
	outputFileID string
	errorFileID  string
}

// finalizeAt is when the last runnable request ends, or zero if some never end.
func (b *batch) finalizeAt() time.Time {
	if len(b.verrs) > 0 || b.runnable < len(b.lines) {
		return time.Time{}
	}
	return b.firstDoneAt.Add(time.Duration(b.runnable) * b.step)
}

// processedAt counts the runnable requests done by t.
func (b *batch) processedAt(t time.Time) int {
	if b.frozen {
		return b.processed
	}
	if b.status == batchValidating || b.firstDoneAt.IsZero() || t.Before(b.firstDoneAt) {
		return 0
	}
	k := int(t.Sub(b.firstDoneAt) / b.step)
	return min(k, b.runnable)
}

// terminalAt is when the batch's plan ends it (for the scheduler).
func (b *batch) terminalAt(finalizing time.Duration) time.Time {
	if len(b.verrs) > 0 {
		return b.validateAt
	}
	if f := b.finalizeAt(); !f.IsZero() && f.Before(b.expiresAt) {
		return f.Add(finalizing)
	}
	return b.expiresAt
}

type requestCountsJSON struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

type batchUsageJSON struct {
	InputTokens         int64            `json:"input_tokens"`
	InputTokensDetails  map[string]int64 `json:"input_tokens_details"`
	OutputTokens        int64            `json:"output_tokens"`
	OutputTokensDetails map[string]int64 `json:"output_tokens_details"`
	TotalTokens         int64            `json:"total_tokens"`
}

type batchErrorsJSON struct {
	Object string       `json:"object"`
	Data   []batchError `json:"data"`
}

type batchJSON struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Endpoint         string            `json:"endpoint"`
	Model            *string           `json:"model"`
	Errors           *batchErrorsJSON  `json:"errors"`
	InputFileID      string            `json:"input_file_id"`
	CompletionWindow string            `json:"completion_window"`
	Status           string            `json:"status"`
	OutputFileID     *string           `json:"output_file_id"`
	ErrorFileID      *string           `json:"error_file_id"`
	CreatedAt        int64             `json:"created_at"`
	InProgressAt     *int64            `json:"in_progress_at"`
	ExpiresAt        *int64            `json:"expires_at"`
	FinalizingAt     *int64            `json:"finalizing_at"`
	CompletedAt      *int64            `json:"completed_at"`
	FailedAt         *int64            `json:"failed_at"`
	ExpiredAt        *int64            `json:"expired_at"`
	CancellingAt     *int64            `json:"cancelling_at"`
	CancelledAt      *int64            `json:"cancelled_at"`
	RequestCounts    requestCountsJSON `json:"request_counts"`
	Usage            batchUsageJSON    `json:"usage"`
	Metadata         map[string]string `json:"metadata"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// json renders b as of now; call advanceBatch first.
func (b *batch) json(now time.Time) batchJSON {
	out := batchJSON{
		ID: b.id, Object: "batch", Endpoint: b.endpoint, Model: optString(b.model),
		InputFileID: b.inputFileID, CompletionWindow: b.completionWindow, Status: b.status,
		OutputFileID: optString(b.outputFileID), ErrorFileID: optString(b.errorFileID),
		CreatedAt: b.created.Unix(), InProgressAt: optUnix(b.inProgressAt), ExpiresAt: optUnix(b.expiresAt),
		FinalizingAt: optUnix(b.finalizingAt), CompletedAt: optUnix(b.completedAt), FailedAt: optUnix(b.failedAt),
		ExpiredAt: optUnix(b.expiredAt), CancellingAt: optUnix(b.cancellingAt), CancelledAt: optUnix(b.cancelledAt),
		Metadata: b.metadata,
		Usage: batchUsageJSON{
			InputTokensDetails:  map[string]int64{"cached_tokens": 0},
			OutputTokensDetails: map[string]int64{"reasoning_tokens": 0},
		},
	}
	if len(b.verrs) > 0 && b.status == batchFailed {
		out.Errors = &batchErrorsJSON{Object: "list", Data: b.verrs}
	}
	if b.status != batchValidating && b.status != batchFailed && len(b.verrs) == 0 {
		k := b.processedAt(now)
		ok := int(b.okPrefix[k])
		out.RequestCounts = requestCountsJSON{Total: len(b.lines), Completed: ok, Failed: k - ok}
		if b.status == batchExpired {
			out.RequestCounts.Failed = len(b.lines) - ok
		}
		out.Usage.InputTokens, out.Usage.OutputTokens = b.inPrefix[k], b.outPrefix[k]
		out.Usage.TotalTokens = b.inPrefix[k] + b.outPrefix[k]
	}
	return out
}

// advanceBatch applies the transitions due by now, in order, and returns the events to
// send. e.mu must be held.
func (e *Emulator) advanceBatch(b *batch, now time.Time) []event {
	for {
		switch b.status {
		case batchValidating:
			if now.Before(b.validateAt) {
				return nil
			}
			if len(b.verrs) > 0 {
				b.status, b.failedAt = batchFailed, b.validateAt
				return []event{{typ: "batch.failed", dataID: b.id, at: b.failedAt}}
			}
			b.status, b.inProgressAt = batchInProgress, b.validateAt
		case batchInProgress:
			f := b.finalizeAt()
			switch {
			case !f.IsZero() && f.Before(b.expiresAt) && !now.Before(f):
				b.status, b.finalizingAt = batchFinalizing, f
			case !now.Before(b.expiresAt):
				e.finishBatchLocked(b, batchExpired, b.expiresAt, b.processedAt(b.expiresAt))
				b.expiredAt = b.expiresAt
				return []event{{typ: "batch.expired", dataID: b.id, at: b.expiredAt}}
			default:
				return nil
			}
		case batchFinalizing:
			at := b.finalizingAt.Add(e.scaled(BatchFinalizingFor))
			if now.Before(at) {
				return nil
			}
			e.finishBatchLocked(b, batchCompleted, at, b.runnable)
			b.completedAt = at
			return []event{{typ: "batch.completed", dataID: b.id, at: at}}
		case batchCancelling:
			if now.Before(b.cancelDoneAt) {
				return nil
			}
			e.finishBatchLocked(b, batchCancelled, b.cancelDoneAt, b.processed)
			b.cancelledAt = b.cancelDoneAt
			return []event{{typ: "batch.cancelled", dataID: b.id, at: b.cancelledAt}}
		default:
			return nil
		}
	}
}

// finishBatchLocked ends b with status, writing the output file (successful requests
// among the first processed) and the error file (failed ones, and for an expired batch
// every request not done, with code batch_expired).
func (e *Emulator) finishBatchLocked(b *batch, status string, at time.Time, processed int) {
	b.status, b.processed, b.frozen = status, processed, true
	var out, errs bytes.Buffer
	// OpenAI promises no order: write the lines in an order of their own (fixed by the
	// batch id), so that readers must match them by custom_id.
	order := outputOrder(b.id, processed)
	for _, i := range order {
		l := b.lines[i]
		dst := &out
		if !l.result.ok() {
			dst = &errs
		}
		writeOutputLine(dst, l)
	}
	if status == batchExpired {
		for _, i := range outputOrder(b.id+"_expired", len(b.lines)-processed) {
			l := b.lines[processed+i]
			line := map[string]any{
				"id": l.reqID, "custom_id": l.customID, "response": nil,
				"error": map[string]string{
					"code":    "batch_expired",
					"message": "This request could not be executed before the completion window expired.",
				},
			}
			errs.Write(mustJSON(line))
			errs.WriteByte('\n')
		}
	}
	var expires time.Time
	if b.outputExpiry > 0 {
		expires = at.Add(b.outputExpiry)
	}
	if out.Len() > 0 {
		b.outputFileID = e.addFileLocked(b.id+"_output.jsonl", "batch_output", out.Bytes(), at, expires).id
	}
	if errs.Len() > 0 {
		b.errorFileID = e.addFileLocked(b.id+"_error.jsonl", "batch_output", errs.Bytes(), at, expires).id
	}
	// The plan's bodies are in the files now; keep only what counts need.
	for i := range b.lines {
		b.lines[i].result.body = nil
	}
}

// outputOrder is the order, fixed by seed, in which n output lines are written: never
// the input order when n > 1.
func outputOrder(seed string, n int) []int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	order := mrand.New(mrand.NewPCG(h.Sum64(), 4)).Perm(n)
	if n > 1 && sort.IntsAreSorted(order) {
		order[0], order[1] = order[1], order[0]
	}
	return order
}

func writeOutputLine(dst *bytes.Buffer, l planLine) {
	// Built by hand so the body is embedded as the model wrote it.
	fmt.Fprintf(dst, `{"id":%s,"custom_id":%s,"response":{"status_code":%d,"request_id":%s,"body":%s},"error":null}`+"\n",
		mustJSON(l.reqID), mustJSON(l.customID), l.result.status, mustJSON(reqIDOf(l.reqID)), l.result.body)
}

// reqIDOf derives the request_id of an output line from its batch request id.
func reqIDOf(batchReqID string) string {
	const p = "batch_req_"
	if len(batchReqID) > len(p) {
		return batchReqID[len(p):]
	}
	return batchReqID
}

// planBatch validates the input file the way OpenAI does while validating, and runs
// every request through the model. Problems are returned as errors.data entries.
//
//nolint:gocyclo // the input checks in the order OpenAI applies them, one after another
func (e *Emulator) planBatch(b *batch, content []byte, created int64) {
	addErr := func(code string, line int, param, format string, args ...any) {
		if len(b.verrs) >= maxBatchErrors {
			return
		}
		be := batchError{Code: code, Message: fmt.Sprintf(format, args...), Param: optString(param)}
		if line > 0 {
			be.Line = &line
		}
		b.verrs = append(b.verrs, be)
	}

	type parsed struct {
		customID string
		body     map[string]json.RawMessage
		model    string
	}
	var lines []parsed
	seen := map[string]bool{}
	batchModel := ""
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchFileBytes)
	lineNo, count := 0, 0
	for sc.Scan() {
		lineNo++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		count++
		if count > maxBatchLines {
			continue
		}
		obj, ok := rawObject(raw)
		if !ok {
			addErr("invalid_json_line", lineNo, "", "This line is not parseable as valid JSON.")
			continue
		}
		customID, has, aerr := str(obj, "custom_id")
		if aerr != nil || !has || customID == "" {
			addErr("missing_required_parameter", lineNo, "custom_id", "Missing required parameter: 'custom_id'.")
			continue
		}
		method, has, aerr := str(obj, "method")
		if aerr != nil || !has {
			addErr("missing_required_parameter", lineNo, "method", "Missing required parameter: 'method'.")
			continue
		}
		if method != http.MethodPost {
			addErr("invalid_method", lineNo, "method", "The method '%s' is not supported. The only supported method is POST.", method)
			continue
		}
		url, has, aerr := str(obj, "url")
		if aerr != nil || !has {
			addErr("missing_required_parameter", lineNo, "url", "Missing required parameter: 'url'.")
			continue
		}
		if url != b.endpoint {
			addErr("url_mismatch", lineNo, "url", "The URL provided for this request does not match the batch endpoint (%s).", b.endpoint)
			continue
		}
		body, ok := rawObject(obj["body"])
		if !ok {
			addErr("missing_required_parameter", lineNo, "body", "Missing required parameter: 'body' (an object).")
			continue
		}
		if seen[customID] {
			addErr(
				"duplicate_custom_id",
				lineNo,
				"custom_id",
				"The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.",
			)
			continue
		}
		seen[customID] = true
		model, _, _ := str(body, "model")
		if model != ModelFail && model != ModelHang && model != "" {
			if batchModel == "" {
				batchModel = model
			} else if model != batchModel {
				addErr("model_mismatch", lineNo, "body.model", "The model '%s' does not match the model '%s' of the batch's other requests. All requests in a batch must use the same model.", model, batchModel)
				continue
			}
		}
		lines = append(lines, parsed{customID: customID, body: body, model: model})
	}
	if err := sc.Err(); err != nil {
		addErr("invalid_json_line", lineNo+1, "", "This line is not parseable as valid JSON (%v).", err)
	}
	switch {
	case count == 0:
		addErr("empty_file", 0, "", "The batch input file is empty.")
	case count > maxBatchLines:
		addErr("too_many_tasks", 0, "", "The batch input file has %d requests; a batch can have at most %d.", count, maxBatchLines)
	}
	if batchModel == "" && len(lines) > 0 {
		batchModel = lines[0].model
	}
	b.model = Snapshot(batchModel)
	if len(b.verrs) > 0 {
		return
	}

	var hanging []planLine
	for _, p := range lines {
		pl := planLine{customID: p.customID, reqID: e.ids.batchReq(), result: e.runRequest(b.endpoint, p.body, created)}
		if pl.result.hang {
			hanging = append(hanging, pl)
			continue
		}
		b.lines = append(b.lines, pl)
	}
	b.runnable = len(b.lines)
	b.lines = append(b.lines, hanging...)
	b.okPrefix = make([]int32, b.runnable+1)
	b.inPrefix = make([]int64, b.runnable+1)
	b.outPrefix = make([]int64, b.runnable+1)
	for i, l := range b.lines[:b.runnable] {
		b.okPrefix[i+1], b.inPrefix[i+1], b.outPrefix[i+1] = b.okPrefix[i], b.inPrefix[i], b.outPrefix[i]
		if l.result.ok() {
			b.okPrefix[i+1]++
			b.inPrefix[i+1] += l.result.inTok
			b.outPrefix[i+1] += l.result.outTok
		}
	}
}

// runRequest answers one batch request with the model of its endpoint.
func (e *Emulator) runRequest(endpoint string, body map[string]json.RawMessage, created int64) lineResult {
	switch endpoint {
	case "/v1/chat/completions":
		return e.chatCompletion(body, created)
	case "/v1/completions":
		return e.completion(body, created)
	case "/v1/embeddings":
		return e.embeddings(body)
	case "/v1/moderations":
		return e.moderation(body)
	default: // /v1/responses
		if v, ok := body["background"]; ok && string(bytes.TrimSpace(v)) == "true" {
			return errorResult(invalid("background", "unsupported_value", "Background mode is not supported in batches."))
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return errorResult(invalid("body", "", "Invalid request body."))
		}
		req, aerr := parseResponseRequest(raw)
		if aerr != nil {
			return errorResult(aerr)
		}
		r := e.newResponse(req, time.Unix(created, 0))
		if r.hang {
			return lineResult{hang: true}
		}
		if r.outcome.status == respFailed {
			return errorResult(r.outcome.err)
		}
		r.status = r.outcome.status
		if r.status == respCompleted {
			r.completedAt = r.created
		}
		return lineResult{status: http.StatusOK, body: mustJSON(r.json()), inTok: r.outcome.inTok, outTok: r.outcome.outTok}
	}
}

//nolint:gocyclo // the create request's checks in the order OpenAI applies them, then the batch
func (e *Emulator) createBatch(w http.ResponseWriter, r *http.Request, _ string) {
	raw, aerr := readJSONBody(w, r)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	body, ok := rawObject(raw)
	if !ok {
		writeAPIError(w, invalid("", "", "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."))
		return
	}
	inputFileID, has, aerr := str(body, "input_file_id")
	if aerr == nil && (!has || inputFileID == "") {
		aerr = missing("input_file_id")
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	endpoint, has, aerr := str(body, "endpoint")
	switch {
	case aerr != nil:
	case !has || endpoint == "":
		aerr = missing("endpoint")
	case unsupportedBatchEndpoints[endpoint]:
		aerr = invalid("endpoint", "unsupported_value", "The endpoint '%s' is not supported by the emulator.", endpoint)
	case !batchEndpoints[endpoint]:
		aerr = invalid(
			"endpoint",
			"invalid_value",
			"Invalid value: '%s'. Supported values are: '/v1/responses', '/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/moderations', '/v1/images/generations', '/v1/images/edits' and '/v1/videos'.",
			endpoint,
		)
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	window, has, aerr := str(body, "completion_window")
	switch {
	case aerr != nil:
	case !has || window == "":
		aerr = missing("completion_window")
	case window != "24h":
		aerr = invalid("completion_window", "invalid_value", "Invalid value: '%s'. Supported values are: '24h'.", window)
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	metadata, aerr := parseMetadata(body["metadata"])
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	var outputExpiry time.Duration
	if raw, ok := body["output_expires_after"]; ok && !isNull(raw) {
		oe, ok := rawObject(raw)
		if !ok {
			writeAPIError(w, invalid("output_expires_after", "invalid_type", "Invalid type for 'output_expires_after': expected an object."))
			return
		}
		if anchor, has, _ := str(oe, "anchor"); has && anchor != "created_at" {
			writeAPIError(
				w,
				invalid("output_expires_after.anchor", "invalid_value", "Invalid value: '%s'. Supported values are: 'created_at'.", anchor),
			)
			return
		}
		secs, has, aerr := intField(oe, "seconds")
		if aerr == nil && !has {
			aerr = missing("output_expires_after.seconds")
		}
		if aerr == nil && (secs < minFileExpiry || secs > maxFileExpiry) {
			aerr = invalid(
				"output_expires_after.seconds",
				"invalid_value",
				"Invalid 'output_expires_after.seconds': expected an integer between %d and %d.",
				minFileExpiry,
				maxFileExpiry,
			)
		}
		if aerr != nil {
			writeAPIError(w, aerr)
			return
		}
		outputExpiry = e.scaled(time.Duration(secs) * time.Second)
	}

	now := e.now()
	e.mu.Lock()
	f := e.fileLocked(inputFileID, now)
	var content []byte
	purpose := ""
	if f != nil {
		content, purpose = f.content, f.purpose
	}
	e.mu.Unlock()
	if f == nil {
		writeAPIError(w, notFound("input_file_id", "No such File object: %s", inputFileID))
		return
	}
	if purpose != "batch" {
		writeAPIError(
			w,
			invalid(
				"input_file_id",
				"invalid_value",
				"Invalid 'input_file_id': file %s has purpose '%s'; a batch needs a file uploaded with purpose 'batch'.",
				inputFileID,
				purpose,
			),
		)
		return
	}

	b := &batch{
		id: e.ids.batch(), project: projectOf(r), endpoint: endpoint, inputFileID: inputFileID, completionWindow: window,
		metadata: metadata, outputExpiry: outputExpiry, created: now, status: batchValidating,
		expiresAt:  now.Add(e.scaled(BatchCompletionWindow)),
		validateAt: now.Add(e.scaled(BatchValidatingFor)),
	}
	// The requests run in the plan now; the timetable reveals their results over time.
	e.planBatch(b, content, b.validateAt.Unix())
	if len(b.verrs) == 0 {
		b.firstDoneAt = b.validateAt.Add(e.scaled(BatchStartDelay))
		per := BatchPerRequest
		if b.runnable > 0 && time.Duration(b.runnable)*per > BatchMaxProcessing {
			per = BatchMaxProcessing / time.Duration(b.runnable)
		}
		b.step = max(e.scaled(per), time.Nanosecond)
	}

	e.mu.Lock()
	b.seq = len(e.batchSeq)
	e.batches[b.id] = b
	e.batchSeq = append(e.batchSeq, b)
	out := b.json(now)
	e.mu.Unlock()
	id := b.id
	e.after(b.terminalAt(e.scaled(BatchFinalizingFor)), func() { e.tickBatch(id) })
	writeJSON(w, http.StatusOK, out)
}

// tickBatch is a scheduled transition of a batch.
func (e *Emulator) tickBatch(id string) {
	e.mu.Lock()
	var evs []event
	if b := e.batches[id]; b != nil {
		evs = e.advanceBatch(b, e.now())
	}
	e.mu.Unlock()
	e.hooks.emit(evs)
}

func noSuchBatch(id string) *apiError {
	return notFound("", "No batch found with id '%s'.", id)
}

func (e *Emulator) getBatch(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	b := e.batches[id]
	if b == nil {
		e.mu.Unlock()
		writeAPIError(w, noSuchBatch(id))
		return
	}
	now := e.now()
	evs := e.advanceBatch(b, now)
	out := b.json(now)
	e.mu.Unlock()
	e.hooks.emit(evs)
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) cancelBatch(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	b := e.batches[id]
	if b == nil {
		e.mu.Unlock()
		writeAPIError(w, noSuchBatch(id))
		return
	}
	now := e.now()
	evs := e.advanceBatch(b, now)
	var aerr *apiError
	switch b.status {
	case batchValidating, batchInProgress, batchFinalizing:
		b.processed = b.processedAt(now)
		if b.status == batchFinalizing {
			b.processed = b.runnable
		}
		b.frozen = true
		b.status, b.cancellingAt = batchCancelling, now
		b.cancelDoneAt = now.Add(e.scaled(BatchCancellingFor))
		e.after(b.cancelDoneAt, func() { e.tickBatch(id) })
	case batchCancelling:
	default:
		aerr = &apiError{status: http.StatusConflict, typ: errTypeInvalidRequest,
			message: fmt.Sprintf("Cannot cancel a batch with status '%s'.", b.status)}
	}
	out := b.json(now)
	e.mu.Unlock()
	e.hooks.emit(evs)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) listBatches(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	limit, aerr := parseLimit(q.Get("limit"), defaultBatches, maxBatchPage)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	page := listPage[batchJSON]{Object: "list", Data: []batchJSON{}}
	var evs []event
	now := e.now()
	e.mu.Lock()
	start := len(e.batchSeq) - 1
	if after := q.Get("after"); after != "" {
		start = -1
		if b := e.batches[after]; b != nil {
			start = b.seq - 1
		}
	}
	for i := start; i >= 0; i-- {
		if len(page.Data) == limit {
			page.HasMore = true
			break
		}
		b := e.batchSeq[i]
		evs = append(evs, e.advanceBatch(b, now)...)
		page.Data = append(page.Data, b.json(now))
	}
	e.mu.Unlock()
	e.hooks.emit(evs)
	setPageIDs(&page, func(b batchJSON) string { return b.ID })
	writeJSON(w, http.StatusOK, page)
}
