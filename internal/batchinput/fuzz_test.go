package batchinput

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzValidate checks that Validate never panics and that whatever it accepts is input
// OpenAI would accept: every non-blank line an object with a unique custom_id, method
// POST, the batch's url and an object body.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"input":"x"}}`))
	f.Add([]byte("{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{}}\n{\"custom_id\":\"a\"}"))
	f.Add([]byte("\n\r\n"))
	f.Add([]byte(`{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Validate(data, "/v1/embeddings")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		count := 0
		for _, raw := range bytes.Split(data, []byte("\n")) {
			raw = bytes.TrimSpace(raw)
			if len(raw) == 0 {
				continue
			}
			count++
			var l map[string]json.RawMessage
			if json.Unmarshal(raw, &l) != nil {
				t.Fatalf("accepted a line that is not an object: %q", raw)
			}
			var id string
			if json.Unmarshal(l["custom_id"], &id) != nil || id == "" || seen[id] {
				t.Fatalf("accepted a bad or repeated custom_id: %q", raw)
			}
			seen[id] = true
			if b := bytes.TrimSpace(l["body"]); len(b) == 0 || b[0] != '{' {
				t.Fatalf("accepted a non-object body: %q", raw)
			}
		}
		if count != n {
			t.Fatalf("Validate counted %d requests, there are %d", n, count)
		}
	})
}
