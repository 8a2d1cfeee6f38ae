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
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Magic model names.
const (
	// ModelFail makes a request fail: a batch line goes to the error file with a 500
	// server_error, a response ends "failed".
	ModelFail = "emulator-fail"
	// ModelHang makes a request never finish: a batch stays in_progress until it is
	// cancelled or expires, a background response stays in_progress until cancelled.
	ModelHang = "emulator-hang"
	// FlagMarker in a moderation input makes its result flagged (category violence).
	FlagMarker = "emulator-flag"
	// DefaultEmbeddingDimensions is the length of embedding vectors unless the request
	// asks for "dimensions".
	DefaultEmbeddingDimensions = 8
	// EchoPrefix starts every generated text: the output is EchoPrefix + the input text.
	EchoPrefix = "echo: "
)

// snapshots maps model aliases to the dated snapshot OpenAI names in its answers
// (a request for gpt-4o-mini is answered by, and reports, gpt-4o-mini-2024-07-18).
// Other names, dated ones and embedding models included, are answered as given.
var snapshots = map[string]string{
	"gpt-4o-mini":            "gpt-4o-mini-2024-07-18",
	"gpt-4o":                 "gpt-4o-2024-08-06",
	"gpt-4.1":                "gpt-4.1-2025-04-14",
	"gpt-4.1-mini":           "gpt-4.1-mini-2025-04-14",
	"gpt-4.1-nano":           "gpt-4.1-nano-2025-04-14",
	"gpt-5":                  "gpt-5-2025-08-07",
	"gpt-5-mini":             "gpt-5-mini-2025-08-07",
	"gpt-5-nano":             "gpt-5-nano-2025-08-07",
	"o3":                     "o3-2025-04-16",
	"o4-mini":                "o4-mini-2025-04-16",
	"gpt-3.5-turbo":          "gpt-3.5-turbo-0125",
	"omni-moderation-latest": "omni-moderation-2024-09-26",
}

// Snapshot returns the model name the emulator answers with for a requested model: the
// dated snapshot of an alias (gpt-4o-mini -> gpt-4o-mini-2024-07-18), else the name.
func Snapshot(model string) string {
	if s, ok := snapshots[model]; ok {
		return s
	}
	return model
}

// Tokens counts the emulator's tokens in s: one per four bytes, rounded up, at least one.
// Usage figures are derived from it.
func Tokens(s string) int64 {
	n := int64((len(s) + 3) / 4)
	return max(n, 1)
}

// truncateTokens cuts s to at most n tokens (4n bytes) on a rune boundary.
func truncateTokens(s string, n int64) string {
	limit := int(n * 4)
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

// Embedding returns the emulator's embedding of text: dims float32 values derived from
// SHA-256 of model and text, normalised to unit length.
func Embedding(model, text string, dims int) []float32 {
	seed := sha256.Sum256([]byte(model + "\x00" + text))
	v := make([]float32, dims)
	var sum float64
	var block [sha256.Size]byte
	for i := range v {
		if i%8 == 0 {
			var ctr [4]byte
			binary.BigEndian.PutUint32(ctr[:], uint32(i/8))
			block = sha256.Sum256(append(seed[:], ctr[:]...))
		}
		u := binary.BigEndian.Uint32(block[(i%8)*4:])
		f := float64(u)/float64(math.MaxUint32)*2 - 1
		v[i] = float32(f)
		sum += f * f
	}
	if sum > 0 {
		norm := math.Sqrt(sum)
		for i := range v {
			v[i] = float32(float64(v[i]) / norm)
		}
	}
	return v
}

// lineResult is what the model made of one request.
type lineResult struct {
	hang   bool
	status int    // HTTP status of the request
	body   []byte // response body (JSON)
	inTok  int64
	outTok int64
}

func (l lineResult) ok() bool { return l.status == http.StatusOK }

func errorResult(e *apiError) lineResult {
	return lineResult{status: e.status, body: e.body()}
}

func modelFailed(model string) *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: errTypeServer, code: "server_error",
		message: fmt.Sprintf("The model %s failed to generate a response (emulated failure).", model)}
}

// rawObject decodes a JSON object into its fields.
func rawObject(b []byte) (map[string]json.RawMessage, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}

// str reads a string field; ok is false when the field is absent or null.
func str(m map[string]json.RawMessage, k string) (string, bool, *apiError) {
	raw, present := m[k]
	if !present || isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, invalid(k, "invalid_type", "Invalid type for '%s': expected a string.", k)
	}
	return s, true, nil
}

func intField(m map[string]json.RawMessage, k string) (int64, bool, *apiError) {
	raw, present := m[k]
	if !present || isNull(raw) {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) {
		return 0, false, invalid(k, "invalid_type", "Invalid type for '%s': expected an integer.", k)
	}
	return int64(f), true, nil
}

func boolField(m map[string]json.RawMessage, k string, def bool) (bool, *apiError) {
	raw, present := m[k]
	if !present || isNull(raw) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, invalid(k, "invalid_type", "Invalid type for '%s': expected a boolean.", k)
	}
	return b, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// textOf extracts the text of a string, of content parts ({"type":"input_text","text"}
// and the like) or of message items ({"role","content"}), joined by newlines.
func textOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) == nil {
		var parts []string
		for _, it := range items {
			if t := textOf(it); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "\n")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		if c, ok := obj["content"]; ok {
			return textOf(c)
		}
		if t, ok := obj["text"]; ok {
			return textOf(t)
		}
		if o, ok := obj["output"]; ok {
			return textOf(o)
		}
	}
	return ""
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with values of the emulator's own types
	}
	return b
}

// requiredModel reads a request line's model, which must be set; a non-nil result is
// the line's answer (an error).
func requiredModel(body map[string]json.RawMessage) (string, *lineResult) {
	model, ok, aerr := str(body, "model")
	if aerr != nil {
		res := errorResult(aerr)
		return "", &res
	}
	if !ok || model == "" {
		res := errorResult(missing("model"))
		return "", &res
	}
	return model, nil
}

// fixedOutcome answers for the models whose behaviour is fixed: ModelHang never ends,
// ModelFail always fails. fixed is false for every other model.
func fixedOutcome(model string) (res lineResult, fixed bool) {
	switch model {
	case ModelHang:
		return lineResult{hang: true}, true
	case ModelFail:
		return errorResult(modelFailed(model)), true
	}
	return lineResult{}, false
}

// chatCompletion runs a /v1/chat/completions request.
func (e *Emulator) chatCompletion(body map[string]json.RawMessage, created int64) lineResult {
	model, res := requiredModel(body)
	if res != nil {
		return *res
	}
	rawMsgs, present := body["messages"]
	var msgs []map[string]json.RawMessage
	if !present || json.Unmarshal(rawMsgs, &msgs) != nil || len(msgs) == 0 {
		return errorResult(missing("messages"))
	}
	if res, fixed := fixedOutcome(model); fixed {
		return res
	}
	var prompt, last strings.Builder
	for _, m := range msgs {
		t := textOf(m["content"])
		prompt.WriteString(t)
		if role, _, _ := str(m, "role"); role == "user" {
			last.Reset()
			last.WriteString(t)
		}
	}
	text := EchoPrefix + last.String()
	finish := "stop"
	limit, hasLimit, aerr := intField(body, "max_completion_tokens")
	if aerr != nil {
		return errorResult(aerr)
	}
	if !hasLimit {
		if limit, hasLimit, aerr = intField(body, "max_tokens"); aerr != nil {
			return errorResult(aerr)
		}
	}
	if hasLimit && Tokens(text) > limit {
		text, finish = truncateTokens(text, limit), "length"
	}
	in, out := Tokens(prompt.String()), Tokens(text)
	if finish == "length" {
		out = limit
	}
	resp := map[string]any{
		"id": e.ids.chat(), "object": "chat.completion", "created": created, "model": Snapshot(model),
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": text, "refusal": nil, "annotations": []any{}},
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": map[string]any{
			"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out,
			"prompt_tokens_details": map[string]any{"cached_tokens": 0, "audio_tokens": 0},
			"completion_tokens_details": map[string]any{
				"reasoning_tokens":           0,
				"audio_tokens":               0,
				"accepted_prediction_tokens": 0,
				"rejected_prediction_tokens": 0,
			},
		},
		"service_tier":       "default",
		"system_fingerprint": nil,
	}
	return lineResult{status: http.StatusOK, body: mustJSON(resp), inTok: in, outTok: out}
}

// completion runs a legacy /v1/completions request.
func (e *Emulator) completion(body map[string]json.RawMessage, created int64) lineResult {
	model, res := requiredModel(body)
	if res != nil {
		return *res
	}
	rawPrompt, present := body["prompt"]
	if !present || isNull(rawPrompt) {
		return errorResult(missing("prompt"))
	}
	if res, fixed := fixedOutcome(model); fixed {
		return res
	}
	var prompts []string
	if json.Unmarshal(rawPrompt, &prompts) != nil {
		prompts = []string{textOf(rawPrompt)}
	}
	limit, hasLimit, aerr := intField(body, "max_tokens")
	if aerr != nil {
		return errorResult(aerr)
	}
	var in, out int64
	choices := make([]any, 0, len(prompts))
	for i, p := range prompts {
		text, finish := EchoPrefix+p, "stop"
		if hasLimit && Tokens(text) > limit {
			text, finish = truncateTokens(text, limit), "length"
		}
		in += Tokens(p)
		out += Tokens(text)
		choices = append(choices, map[string]any{"text": text, "index": i, "logprobs": nil, "finish_reason": finish})
	}
	resp := map[string]any{
		"id": e.ids.completion(), "object": "text_completion", "created": created, "model": Snapshot(model),
		"choices": choices, "system_fingerprint": nil,
		"usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	}
	return lineResult{status: http.StatusOK, body: mustJSON(resp), inTok: in, outTok: out}
}

// embeddings runs a /v1/embeddings request.
func (e *Emulator) embeddings(body map[string]json.RawMessage) lineResult {
	model, res := requiredModel(body)
	if res != nil {
		return *res
	}
	rawInput, present := body["input"]
	if !present || isNull(rawInput) {
		return errorResult(missing("input"))
	}
	if res, fixed := fixedOutcome(model); fixed {
		return res
	}
	dims := DefaultEmbeddingDimensions
	if d, has, aerr := intField(body, "dimensions"); aerr != nil {
		return errorResult(aerr)
	} else if has {
		if d < 1 || d > 3072 {
			return errorResult(invalid("dimensions", "invalid_value", "Invalid 'dimensions': expected an integer between 1 and 3072."))
		}
		dims = int(d)
	}
	format, _, aerr := str(body, "encoding_format")
	if aerr != nil {
		return errorResult(aerr)
	}
	if format != "" && format != "float" && format != "base64" {
		return errorResult(
			invalid(
				"encoding_format",
				"invalid_value",
				"Invalid value for 'encoding_format': '%s'. Supported values are: 'float' and 'base64'.",
				format,
			),
		)
	}

	var inputs []string
	var one string
	var many []json.RawMessage
	switch {
	case json.Unmarshal(rawInput, &one) == nil:
		inputs = []string{one}
	case json.Unmarshal(rawInput, &many) == nil:
		var tokens []int64
		if json.Unmarshal(rawInput, &tokens) == nil { // one token array
			inputs = []string{string(rawInput)}
			break
		}
		for _, m := range many {
			var s string
			if json.Unmarshal(m, &s) == nil {
				inputs = append(inputs, s)
			} else {
				inputs = append(inputs, string(bytes.TrimSpace(m)))
			}
		}
	default:
		return errorResult(invalid("input", "invalid_type", "Invalid type for 'input': expected a string or an array."))
	}
	if len(inputs) == 0 {
		return errorResult(invalid("input", "empty_array", "Invalid 'input': empty array. Expected an array with minimum length 1."))
	}

	var in int64
	data := make([]any, len(inputs))
	for i, s := range inputs {
		in += Tokens(s)
		v := Embedding(model, s, dims)
		var emb any = v
		if format == "base64" {
			buf := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	resp := map[string]any{
		"object": "list", "data": data, "model": model,
		"usage": map[string]any{"prompt_tokens": in, "total_tokens": in},
	}
	return lineResult{status: http.StatusOK, body: mustJSON(resp), inTok: in}
}

var moderationCategories = []string{
	"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic",
}

// moderation runs a /v1/moderations request. An input containing FlagMarker is flagged
// for violence.
func (e *Emulator) moderation(body map[string]json.RawMessage) lineResult {
	model, _, aerr := str(body, "model")
	if aerr != nil {
		return errorResult(aerr)
	}
	if model == "" {
		model = "omni-moderation-latest"
	}
	rawInput, present := body["input"]
	if !present || isNull(rawInput) {
		return errorResult(missing("input"))
	}
	if res, fixed := fixedOutcome(model); fixed {
		return res
	}
	var inputs []string
	var many []json.RawMessage
	if json.Unmarshal(rawInput, &many) == nil {
		for _, m := range many {
			inputs = append(inputs, textOf(m))
		}
	} else {
		inputs = []string{textOf(rawInput)}
	}
	var in int64
	results := make([]any, len(inputs))
	for i, s := range inputs {
		in += Tokens(s)
		flagged := strings.Contains(strings.ToLower(s), FlagMarker)
		cats, scores, types := map[string]bool{}, map[string]float64{}, map[string][]string{}
		for _, c := range moderationCategories {
			cats[c] = flagged && c == "violence"
			scores[c] = 0.0001
			if cats[c] {
				scores[c] = 0.9876
			}
			types[c] = []string{"text"}
		}
		results[i] = map[string]any{"flagged": flagged, "categories": cats, "category_scores": scores, "category_applied_input_types": types}
	}
	resp := map[string]any{"id": e.ids.moderation(), "model": Snapshot(model), "results": results}
	return lineResult{status: http.StatusOK, body: mustJSON(resp), inTok: in}
}
