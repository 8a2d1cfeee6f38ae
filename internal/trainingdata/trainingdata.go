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

// Package trainingdata builds and checks OpenAI fine-tuning files: JSONL with one
// training example per line, in the format of the fine-tuning method.
//
//   - supervised: the chat format, {"messages":[{"role","content"},...]} with at least
//     one assistant message to learn from (or, for the legacy completion models, the
//     {"prompt","completion"} format, the same on every line);
//   - dpo: preference pairs, {"input":{"messages":[...]},"preferred_output":[{assistant
//     message}],"non_preferred_output":[{assistant message}]};
//   - reinforcement: {"messages":[...]} plus any reference fields the grader reads.
//
// Checking locally catches the mistakes OpenAI would otherwise report only after the
// file is uploaded and the job has sat in validating_files, and names the line at fault.
// Messages never echo the content of an example.
package trainingdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// Method is the fine-tuning method a file is checked for.
type Method string

// Fine-tuning methods.
const (
	Supervised    Method = "supervised"
	DPO           Method = "dpo"
	Reinforcement Method = "reinforcement"
)

// MinTrainingExamples is OpenAI's minimum number of examples in a training file.
const MinTrainingExamples = 10

// MaxBytes is OpenAI's limit on a file uploaded through the Files API.
const MaxBytes = 512 << 20

// Error is a problem with one line of a file.
type Error struct {
	// Line is 1-based.
	Line    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// ErrEmpty means the data holds no examples.
var ErrEmpty = errors.New("the data holds no examples")

// FromExamples renders inline examples (JSON objects) as JSONL.
func FromExamples(examples []runtime.RawExtension) ([]byte, error) {
	var buf bytes.Buffer
	for i, ex := range examples {
		raw := ex.Raw
		if len(raw) == 0 && ex.Object != nil {
			var err error
			if raw, err = json.Marshal(ex.Object); err != nil {
				return nil, fmt.Errorf("example %d: %w", i+1, err)
			}
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil || !isObject(compact.Bytes()) {
			return nil, fmt.Errorf("example %d: must be a JSON object", i+1)
		}
		buf.Write(compact.Bytes())
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// Validate checks JSONL data for method the way OpenAI does and returns the number of
// examples. minExamples is the least number of examples accepted (MinTrainingExamples
// for a training file, 1 for a validation file). Blank lines are ignored. The first
// problem found is returned, as *Error when it concerns one line.
func Validate(data []byte, method Method, minExamples int) (int, error) {
	if len(data) > MaxBytes {
		return 0, fmt.Errorf("the data is %d bytes; OpenAI accepts files of at most %d", len(data), MaxBytes)
	}
	check, ok := checkers[method]
	if !ok {
		return 0, fmt.Errorf("unknown fine-tuning method %q; use supervised, dpo or reinforcement", method)
	}
	n := 0
	format, formatLine := "", 0
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
		fields, msg := parseObject(raw)
		if msg == "" {
			var f string
			f, msg = check(fields)
			if msg == "" && format == "" {
				format, formatLine = f, lineNo
			} else if msg == "" && f != format {
				msg = fmt.Sprintf("uses the %s format but line %d uses the %s format; use one format in a file", f, formatLine, format)
			}
		}
		if msg != "" {
			return 0, &Error{Line: lineNo, Message: msg}
		}
	}
	switch {
	case n == 0:
		return 0, ErrEmpty
	case n < minExamples:
		return 0, fmt.Errorf("the data holds %d example(s); OpenAI needs at least %d", n, minExamples)
	}
	return n, nil
}

// checkers check one example; they return its format's name, or what is wrong.
var checkers = map[Method]func(map[string]json.RawMessage) (format, problem string){
	Supervised:    checkSupervised,
	DPO:           checkPreference,
	Reinforcement: checkReinforcement,
}

func checkSupervised(ex map[string]json.RawMessage) (string, string) {
	_, hasPrompt := ex["prompt"]
	if _, hasMessages := ex["messages"]; !hasMessages && hasPrompt {
		for _, k := range []string{"prompt", "completion"} {
			if s, ok := stringField(ex, k); !ok {
				return "", k + " must be a string (the prompt/completion format)"
			} else if k == "completion" && s == "" {
				return "", "completion is empty: it is what the model learns to write"
			}
		}
		return "prompt/completion", ""
	}
	msgs, problem := messages(ex, "messages")
	if problem != "" {
		return "", problem
	}
	for _, m := range msgs {
		if m.role == roleAssistant {
			return "chat", ""
		}
	}
	return "", "messages has no assistant message: the model learns from the assistant's messages"
}

func checkPreference(ex map[string]json.RawMessage) (string, string) {
	input, ok := object(ex["input"])
	if !ok {
		return "", `input is missing or not an object: a preference example is {"input":{"messages":[...]},"preferred_output":[...],"non_preferred_output":[...]}`
	}
	if _, problem := messages(input, "messages"); problem != "" {
		return "", "input." + problem
	}
	for _, k := range []string{"preferred_output", "non_preferred_output"} {
		msgs, problem := messages(ex, k)
		if problem != "" {
			return "", problem
		}
		if len(msgs) != 1 || msgs[0].role != roleAssistant {
			return "", k + " must hold exactly one assistant message"
		}
		if !msgs[0].hasContent {
			return "", k + "[0].content is missing or empty"
		}
	}
	return "preference", ""
}

func checkReinforcement(ex map[string]json.RawMessage) (string, string) {
	msgs, problem := messages(ex, "messages")
	if problem != "" {
		return "", problem
	}
	if msgs[len(msgs)-1].role == roleAssistant {
		return "", fmt.Sprintf("messages[%d] is an assistant message: a reinforcement example ends where the model answers", len(msgs)-1)
	}
	return "reinforcement", ""
}

// message is what the checks learn of one message.
type message struct {
	role       string
	hasContent bool
}

// roleAssistant is the role of the messages a model learns from.
const roleAssistant = "assistant"

var roles = map[string]bool{"system": true, "developer": true, "user": true, roleAssistant: true, "tool": true, "function": true}

// messages checks ex[key], a non-empty array of chat messages.
func messages(ex map[string]json.RawMessage, key string) ([]message, string) {
	raw, present := ex[key]
	if !present {
		return nil, key + " is missing"
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, key + " must be an array of messages"
	}
	if len(items) == 0 {
		return nil, key + " is empty"
	}
	out := make([]message, 0, len(items))
	for i, item := range items {
		m, ok := object(item)
		if !ok {
			return nil, fmt.Sprintf("%s[%d] must be an object with role and content", key, i)
		}
		role, ok := stringField(m, "role")
		switch {
		case !ok:
			return nil, fmt.Sprintf("%s[%d].role is missing or not a string", key, i)
		case !roles[role]:
			return nil, fmt.Sprintf("%s[%d].role is %s; use system, developer, user, assistant or tool", key, i, quoteShort(role))
		}
		content, problem := contentOf(m)
		if problem != "" {
			return nil, fmt.Sprintf("%s[%d].%s", key, i, problem)
		}
		_, calls := m["tool_calls"]
		_, fcall := m["function_call"]
		if !content && !(role == roleAssistant && (calls || fcall)) {
			return nil, fmt.Sprintf("%s[%d].content is missing or empty", key, i)
		}
		if w, ok := m["weight"]; ok {
			if role != roleAssistant {
				return nil, fmt.Sprintf("%s[%d].weight is set on a %s message; only assistant messages take a weight", key, i, role)
			}
			if s := string(bytes.TrimSpace(w)); s != "0" && s != "1" {
				return nil, fmt.Sprintf("%s[%d].weight must be 0 or 1", key, i)
			}
		}
		out = append(out, message{role: role, hasContent: content})
	}
	return out, ""
}

// contentOf reports whether a message has content: a non-empty string or a non-empty
// array of content parts. null and absence are no content.
func contentOf(m map[string]json.RawMessage) (bool, string) {
	raw, ok := m["content"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return false, ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s) != "", ""
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return false, "content must be a string or an array of content parts"
	}
	for j, p := range parts {
		if _, ok := object(p); !ok {
			return false, fmt.Sprintf("content[%d] must be a content part object such as {\"type\":\"text\",\"text\":\"...\"}", j)
		}
	}
	return len(parts) > 0, ""
}

func stringField(m map[string]json.RawMessage, k string) (string, bool) {
	var s string
	raw, ok := m[k]
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if !isObject(raw) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}

// parseObject decodes one line; the message, when not empty, says what is wrong
// without echoing content.
func parseObject(raw []byte) (map[string]json.RawMessage, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
		}
		return nil, "expected a JSON object (one training example per line)"
	}
	if fields == nil {
		return nil, "expected a JSON object (one training example per line)"
	}
	return fields, ""
}

// quoteShort quotes s, cut to 32 bytes, for an error message.
func quoteShort(s string) string {
	if len(s) > 32 {
		return fmt.Sprintf("%q...", s[:32])
	}
	return fmt.Sprintf("%q", s)
}
