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
	"testing"
	"time"
)

// FuzzBatchInput feeds arbitrary input files through validation, the model and the
// output files: it must never panic, and what it writes must be JSONL that accounts for
// every request.
func FuzzBatchInput(f *testing.F) {
	f.Add(
		[]byte(
			`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hi"}]}}` + "\n",
		),
	)
	f.Add([]byte(`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"emulator-fail","messages":[]}}` + "\n" +
		`{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"emulator-hang","messages":[{"content":[{"type":"text","text":"x"}]}]}}`))
	f.Add([]byte("{not json\n\n{}"))
	f.Add(
		[]byte(
			`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1}}`,
		),
	)
	e, err := New(Options{TimeScale: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()

	f.Fuzz(func(t *testing.T, content []byte) {
		now := time.Unix(1_800_000_000, 0)
		b := &batch{id: "batch_fuzz", endpoint: "/v1/chat/completions", created: now, status: batchValidating,
			validateAt: now.Add(time.Second), expiresAt: now.Add(BatchCompletionWindow)}
		e.planBatch(b, content, now.Unix())
		if len(b.verrs) > 0 {
			if len(b.lines) != 0 {
				t.Fatalf("a failed validation planned %d requests", len(b.lines))
			}
			return
		}
		if len(b.lines) == 0 {
			t.Fatal("a valid batch has no requests")
		}
		b.firstDoneAt = b.validateAt.Add(BatchStartDelay)
		b.step = BatchPerRequest

		e.mu.Lock()
		defer e.mu.Unlock()
		e.advanceBatch(b, b.expiresAt.Add(time.Hour))
		if b.status != batchCompleted && b.status != batchExpired {
			t.Fatalf("status %s at the end of the window", b.status)
		}
		seen := 0
		for _, id := range []string{b.outputFileID, b.errorFileID} {
			if id == "" {
				continue
			}
			for _, line := range bytes.Split(bytes.TrimSpace(e.files[id].content), []byte("\n")) {
				if !json.Valid(line) {
					t.Fatalf("invalid output line %q", line)
				}
				seen++
			}
		}
		if seen != len(b.lines) {
			t.Fatalf("files hold %d lines for %d requests", seen, len(b.lines))
		}
	})
}
