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

package trainingdata

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzValidate checks that whatever Validate accepts as supervised chat data really is
// one JSON object per line with messages holding an assistant message, and that it
// counts the examples right; and that nothing makes it panic.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{chat, completion, preference, rft, chat + "\n" + completion, "", "null", `{"messages":[{"role":"assistant","content":null,"tool_calls":[]}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []Method{DPO, Reinforcement} {
			_, _ = Validate(data, m, 1)
		}
		n, err := Validate(data, Supervised, 1)
		if err != nil {
			return
		}
		count := 0
		for _, raw := range bytes.Split(data, []byte("\n")) {
			raw = bytes.TrimSpace(raw)
			if len(raw) == 0 {
				continue
			}
			count++
			// Field names are case-sensitive, as OpenAI reads them.
			var ex map[string]json.RawMessage
			if json.Unmarshal(raw, &ex) != nil || ex == nil {
				t.Fatalf("accepted a line that is not an example object: %q", raw)
			}
			rawMsgs, ok := ex["messages"]
			if !ok {
				var prompt, completion string
				if json.Unmarshal(ex["prompt"], &prompt) != nil || json.Unmarshal(ex["completion"], &completion) != nil {
					t.Fatalf("accepted a line with neither messages nor prompt and completion: %q", raw)
				}
				continue
			}
			var msgs []map[string]json.RawMessage
			if json.Unmarshal(rawMsgs, &msgs) != nil {
				t.Fatalf("accepted messages that are not an array of objects: %q", raw)
			}
			assistant := false
			for _, m := range msgs {
				var role string
				_ = json.Unmarshal(m["role"], &role)
				assistant = assistant || role == "assistant"
			}
			if !assistant {
				t.Fatalf("accepted messages without an assistant message: %q", raw)
			}
		}
		if count != n {
			t.Fatalf("Validate counted %d examples, there are %d", n, count)
		}
	})
}
