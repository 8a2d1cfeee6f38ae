package batchinput

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

func TestFromRequestsRoundTripsThroughValidate(t *testing.T) {
	reqs := []openaiv1alpha1.BatchRequest{
		{CustomID: "a", Body: runtime.RawExtension{Raw: []byte(`{"model":"m","input":"<b>&</b>"}`)}},
		{CustomID: "b", Body: runtime.RawExtension{Raw: []byte(`{"model":"m","input":"two"}`)}},
	}
	data, err := FromRequests("/v1/embeddings", reqs)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"<b>&</b>"}}` + "\n" +
		`{"custom_id":"b","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"two"}}` + "\n"
	if string(data) != want {
		t.Fatalf("FromRequests =\n%s\nwant\n%s", data, want)
	}
	n, err := Validate(data, "/v1/embeddings")
	if err != nil || n != 2 {
		t.Fatalf("Validate = %d, %v; want 2, nil", n, err)
	}
}

func TestFromRequestsRefusesNonObjectBody(t *testing.T) {
	_, err := FromRequests("/v1/embeddings", []openaiv1alpha1.BatchRequest{{CustomID: "a", Body: runtime.RawExtension{Raw: []byte(`"text"`)}}})
	if err == nil || !strings.Contains(err.Error(), `customID "a"`) {
		t.Fatalf("err = %v, want one naming the request", err)
	}
}

func TestValidate(t *testing.T) {
	line := func(id, url string) string {
		return fmt.Sprintf(`{"custom_id":%q,"method":"POST","url":%q,"body":{"model":"m"}}`, id, url)
	}
	const ep = "/v1/chat/completions"
	cases := map[string]struct {
		in       string
		want     int
		wantLine int
		wantMsg  string
	}{
		"two lines":              {in: line("a", ep) + "\n" + line("b", ep) + "\n", want: 2},
		"no trailing newline":    {in: line("a", ep), want: 1},
		"blank lines and CRLF":   {in: "\n" + line("a", ep) + "\r\n\r\n" + line("b", ep), want: 2},
		"empty":                  {in: "\n\n", wantMsg: "no requests"},
		"not JSON":               {in: line("a", ep) + "\n{oops", wantLine: 2, wantMsg: "invalid JSON"},
		"array line":             {in: `[1,2]`, wantLine: 1, wantMsg: "expected a JSON object"},
		"upper-case field names": {in: `{"CUSTOM_ID":"a","method":"POST","url":"` + ep + `","body":{}}`, wantLine: 1, wantMsg: "custom_id is missing"},
		"missing custom_id":      {in: `{"method":"POST","url":"` + ep + `","body":{}}`, wantLine: 1, wantMsg: "custom_id is missing"},
		"custom_id not a string": {in: `{"custom_id":1,"method":"POST","url":"` + ep + `","body":{}}`, wantLine: 1, wantMsg: "custom_id must be a string"},
		"GET method":             {in: `{"custom_id":"a","method":"GET","url":"` + ep + `","body":{}}`, wantLine: 1, wantMsg: `method is "GET"`},
		"wrong url":              {in: line("a", "/v1/embeddings"), wantLine: 1, wantMsg: `url is "/v1/embeddings" but the batch endpoint is "/v1/chat/completions"`},
		"body not an object":     {in: `{"custom_id":"a","method":"POST","url":"` + ep + `","body":"x"}`, wantLine: 1, wantMsg: "body must be a JSON object"},
		"body missing":           {in: `{"custom_id":"a","method":"POST","url":"` + ep + `"}`, wantLine: 1, wantMsg: "body must be a JSON object"},
		"duplicate custom_id":    {in: line("a", ep) + "\n" + line("b", ep) + "\n" + line("a", ep), wantLine: 3, wantMsg: `custom_id "a" repeats line 1`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := Validate([]byte(tc.in), ep)
			if tc.wantMsg == "" {
				if err != nil || n != tc.want {
					t.Fatalf("Validate = %d, %v; want %d, nil", n, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Validate error = %v, want it to contain %q", err, tc.wantMsg)
			}
			var le *Error
			if tc.wantLine > 0 && (!errors.As(err, &le) || le.Line != tc.wantLine) {
				t.Fatalf("Validate error = %#v, want line %d", err, tc.wantLine)
			}
		})
	}
}

func TestValidateRefusesTooManyLines(t *testing.T) {
	var b strings.Builder
	for i := range MaxLines + 1 {
		fmt.Fprintf(&b, `{"custom_id":"r%d","method":"POST","url":"/v1/embeddings","body":{}}`+"\n", i)
	}
	_, err := Validate([]byte(b.String()), "/v1/embeddings")
	var le *Error
	if !errors.As(err, &le) || le.Line != MaxLines+1 {
		t.Fatalf("Validate error = %v, want one at line %d", err, MaxLines+1)
	}
}

func TestErrorsDoNotEchoContent(t *testing.T) {
	secret := "sk-live-very-secret-prompt"
	_, err := Validate([]byte(`{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"x":"`+secret+`"}`+"\n"), "/v1/embeddings")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v must exist and not contain the input", err)
	}
}
