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

// Package batchinput builds and checks OpenAI batch input files: JSONL with one
// {"custom_id","method","url","body"} object per line.
//
// Checking locally catches the mistakes OpenAI would otherwise report only after the
// file is uploaded and the batch has sat in "validating", and names the line at fault.
package batchinput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// MaxLines is OpenAI's limit on requests per batch.
const MaxLines = 50000

// MaxBytes is OpenAI's limit on a batch input file.
const MaxBytes = 200 << 20

// Line is one request of a batch input file.
type Line struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// FromRequests renders inline requests as JSONL for endpoint.
func FromRequests(endpoint string, reqs []openaiv1alpha1.BatchRequest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, r := range reqs {
		body := r.Body.Raw
		if len(body) == 0 && r.Body.Object != nil {
			var err error
			if body, err = json.Marshal(r.Body.Object); err != nil {
				return nil, fmt.Errorf("request %d (customID %q): %w", i, r.CustomID, err)
			}
		}
		if !isObject(body) {
			return nil, fmt.Errorf("request %d (customID %q): body must be a JSON object", i, r.CustomID)
		}
		if err := enc.Encode(Line{CustomID: r.CustomID, Method: "POST", URL: endpoint, Body: body}); err != nil {
			return nil, fmt.Errorf("request %d (customID %q): %w", i, r.CustomID, err)
		}
	}
	return buf.Bytes(), nil
}

// Error is a problem with one line of an input file.
type Error struct {
	// Line is 1-based.
	Line    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// ErrEmpty means the input holds no requests.
var ErrEmpty = errors.New("the input holds no requests")

// Validate checks JSONL input for endpoint the way OpenAI does and returns the number of
// requests. Blank lines are ignored. The first problem found is returned as *Error.
func Validate(data []byte, endpoint string) (int, error) {
	if len(data) > MaxBytes {
		return 0, fmt.Errorf("the input is %d bytes; OpenAI accepts at most %d", len(data), MaxBytes)
	}
	seen := make(map[string]int)
	n := 0
	for lineNo := 1; len(data) > 0; lineNo++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		n++
		if n > MaxLines {
			return 0, &Error{Line: lineNo, Message: fmt.Sprintf("more than %d requests; OpenAI accepts at most %d per batch", MaxLines, MaxLines)}
		}
		l, msg := parseLine(raw)
		switch {
		case msg != "":
			return 0, &Error{Line: lineNo, Message: msg}
		case l.CustomID == "":
			return 0, &Error{Line: lineNo, Message: "custom_id is missing or empty"}
		case l.Method != "POST":
			return 0, &Error{Line: lineNo, Message: fmt.Sprintf("method is %q; batch requests use POST", l.Method)}
		case l.URL != endpoint:
			return 0, &Error{Line: lineNo, Message: fmt.Sprintf("url is %q but the batch endpoint is %q", l.URL, endpoint)}
		case !isObject(l.Body):
			return 0, &Error{Line: lineNo, Message: "body must be a JSON object"}
		}
		if first, dup := seen[l.CustomID]; dup {
			return 0, &Error{Line: lineNo, Message: fmt.Sprintf("custom_id %q repeats line %d; custom_id must be unique", l.CustomID, first)}
		}
		seen[l.CustomID] = lineNo
	}
	if n == 0 {
		return 0, ErrEmpty
	}
	return n, nil
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}

// parseLine decodes one line with exact (case-sensitive) field names, as OpenAI reads
// them. The message, when not empty, says what is wrong without echoing content.
func parseLine(raw []byte) (Line, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return Line{}, fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
		}
		return Line{}, "expected a JSON object with custom_id, method, url and body"
	}
	var l Line
	for name, dst := range map[string]*string{"custom_id": &l.CustomID, "method": &l.Method, "url": &l.URL} {
		if v, ok := fields[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return Line{}, name + " must be a string"
			}
		}
	}
	l.Body = fields["body"]
	return l, ""
}
