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
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	chat       = `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}`
	completion = `{"prompt":"Hi ->","completion":" Hello."}`
	preference = `{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"Hello."}],"non_preferred_output":[{"role":"assistant","content":"Go away."}]}`
	rft        = `{"messages":[{"role":"user","content":"2+2?"}],"reference_answer":"4"}`
)

// lines repeats line n times, one per line.
func lines(line string, n int) string { return strings.Repeat(line+"\n", n) }

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		method   Method
		in       string
		min      int
		want     int
		wantLine int
		wantMsg  string
	}{
		"chat":                         {method: Supervised, in: lines(chat, 10), min: 10, want: 10},
		"chat, blank lines and CRLF":   {method: Supervised, in: "\n" + strings.ReplaceAll(lines(chat, 10), "\n", "\r\n\r\n"), min: 10, want: 10},
		"content parts":                {method: Supervised, in: `{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":"Yo"}]}`, min: 1, want: 1},
		"assistant tool call":          {method: Supervised, in: `{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"},{"role":"assistant","content":"Done"}]}`, min: 1, want: 1},
		"weights":                      {method: Supervised, in: `{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yo","weight":0},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello","weight":1}]}`, min: 1, want: 1},
		"prompt/completion":            {method: Supervised, in: lines(completion, 10), min: 10, want: 10},
		"preference pairs":             {method: DPO, in: lines(preference, 10), min: 10, want: 10},
		"reinforcement":                {method: Reinforcement, in: lines(rft, 10), min: 10, want: 10},
		"validation file of one":       {method: Supervised, in: chat, min: 1, want: 1},
		"too few examples":             {method: Supervised, in: lines(chat, 9), min: 10, wantMsg: "holds 9 example(s); OpenAI needs at least 10"},
		"empty":                        {method: Supervised, in: "\n \n", min: 1, wantMsg: "no examples"},
		"unknown method":               {method: "magic", in: chat, min: 1, wantMsg: `unknown fine-tuning method "magic"`},
		"not JSON":                     {method: Supervised, in: chat + "\n{oops", min: 1, wantLine: 2, wantMsg: "invalid JSON"},
		"array line":                   {method: Supervised, in: `[1]`, min: 1, wantLine: 1, wantMsg: "expected a JSON object"},
		"null line":                    {method: Supervised, in: `null`, min: 1, wantLine: 1, wantMsg: "expected a JSON object"},
		"no messages":                  {method: Supervised, in: `{"conversation":[]}`, min: 1, wantLine: 1, wantMsg: "messages is missing"},
		"messages not an array":        {method: Supervised, in: `{"messages":"hi"}`, min: 1, wantLine: 1, wantMsg: "messages must be an array"},
		"messages empty":               {method: Supervised, in: `{"messages":[]}`, min: 1, wantLine: 1, wantMsg: "messages is empty"},
		"message not an object":        {method: Supervised, in: `{"messages":["hi"]}`, min: 1, wantLine: 1, wantMsg: "messages[0] must be an object"},
		"unknown role":                 {method: Supervised, in: chat + "\n" + `{"messages":[{"role":"bot","content":"Hi"}]}`, min: 1, wantLine: 2, wantMsg: `messages[0].role is "bot"; use system, developer, user, assistant or tool`},
		"role missing":                 {method: Supervised, in: `{"messages":[{"content":"Hi"}]}`, min: 1, wantLine: 1, wantMsg: "messages[0].role is missing"},
		"empty content":                {method: Supervised, in: `{"messages":[{"role":"user","content":""},{"role":"assistant","content":"Yo"}]}`, min: 1, wantLine: 1, wantMsg: "messages[0].content is missing or empty"},
		"content of the wrong type":    {method: Supervised, in: `{"messages":[{"role":"user","content":7},{"role":"assistant","content":"Yo"}]}`, min: 1, wantLine: 1, wantMsg: "messages[0].content must be a string or an array"},
		"content part not an object":   {method: Supervised, in: `{"messages":[{"role":"user","content":["Hi"]},{"role":"assistant","content":"Yo"}]}`, min: 1, wantLine: 1, wantMsg: "messages[0].content[0] must be a content part"},
		"no assistant message":         {method: Supervised, in: `{"messages":[{"role":"user","content":"Hi"}]}`, min: 1, wantLine: 1, wantMsg: "no assistant message"},
		"weight on a user message":     {method: Supervised, in: `{"messages":[{"role":"user","content":"Hi","weight":1},{"role":"assistant","content":"Yo"}]}`, min: 1, wantLine: 1, wantMsg: "only assistant messages take a weight"},
		"weight not 0 or 1":            {method: Supervised, in: `{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yo","weight":0.5}]}`, min: 1, wantLine: 1, wantMsg: "weight must be 0 or 1"},
		"mixed formats":                {method: Supervised, in: chat + "\n\n" + completion, min: 1, wantLine: 3, wantMsg: "uses the prompt/completion format but line 1 uses the chat format"},
		"completion not a string":      {method: Supervised, in: `{"prompt":"a","completion":1}`, min: 1, wantLine: 1, wantMsg: "completion must be a string"},
		"preference without input":     {method: DPO, in: chat, min: 1, wantLine: 1, wantMsg: "input is missing or not an object"},
		"preference, bad input":        {method: DPO, in: `{"input":{"messages":[]},"preferred_output":[],"non_preferred_output":[]}`, min: 1, wantLine: 1, wantMsg: "input.messages is empty"},
		"preference, two preferred":    {method: DPO, in: `{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}],"non_preferred_output":[{"role":"assistant","content":"c"}]}`, min: 1, wantLine: 1, wantMsg: "preferred_output must hold exactly one assistant message"},
		"preference, user output":      {method: DPO, in: `{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"user","content":"c"}]}`, min: 1, wantLine: 1, wantMsg: "non_preferred_output must hold exactly one assistant message"},
		"preference, missing rejected": {method: DPO, in: `{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"a"}]}`, min: 1, wantLine: 1, wantMsg: "non_preferred_output is missing"},
		"reinforcement ends answered":  {method: Reinforcement, in: chat, min: 1, wantLine: 1, wantMsg: "messages[2] is an assistant message"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			n, err := Validate([]byte(tc.in), tc.method, tc.min)
			if tc.wantMsg == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(n).To(Equal(tc.want))
				return
			}
			g.Expect(err).To(MatchError(ContainSubstring(tc.wantMsg)))
			var lineErr *Error
			if tc.wantLine > 0 {
				g.Expect(errors.As(err, &lineErr)).To(BeTrue(), "want a line error, got %v", err)
				g.Expect(lineErr.Line).To(Equal(tc.wantLine))
			} else {
				g.Expect(errors.As(err, &lineErr)).To(BeFalse())
			}
		})
	}
}

func TestValidateNeverEchoesContent(t *testing.T) {
	g := NewWithT(t)
	const secret = "patient-record-4711"
	bad := []string{
		`{"messages":[{"role":"user","content":"` + secret + `"}]}`,
		`{"messages":[{"role":"user","content":"` + secret + `"},{"role":"assistant","content":7}]}`,
		`{"input":{"messages":[{"role":"user","content":"` + secret + `"}]}}`,
		`{"messages":[{"role":"user","content":"` + secret + `"` + "\n",
	}
	for _, in := range bad {
		for _, m := range []Method{Supervised, DPO, Reinforcement} {
			_, err := Validate([]byte(in), m, 1)
			if err != nil {
				g.Expect(err.Error()).NotTo(ContainSubstring(secret))
			}
		}
	}
}

func TestFromExamples(t *testing.T) {
	g := NewWithT(t)
	data, err := FromExamples([]runtime.RawExtension{
		{Raw: []byte("{\n  \"messages\": [{\"role\": \"user\", \"content\": \"<b>Hi</b>\"}, {\"role\": \"assistant\", \"content\": \"Yo\"}]\n}")},
		{Object: &runtime.Unknown{Raw: []byte(`{"x":1}`)}},
		{Raw: []byte(chat)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	g.Expect(got).To(HaveLen(3), "one line per example")
	g.Expect(got[0]).To(Equal(`{"messages":[{"role":"user","content":"<b>Hi</b>"},{"role":"assistant","content":"Yo"}]}`))
	g.Expect(got[2]).To(Equal(chat))

	_, err = FromExamples([]runtime.RawExtension{{Raw: []byte(chat)}, {Raw: []byte(`"text"`)}})
	g.Expect(err).To(MatchError("example 2: must be a JSON object"))
}
