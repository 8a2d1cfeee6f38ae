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

package bench

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	swlib "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// verifySecret is the OpenAI SDK's test vector secret: canonical base64 of 32 bytes,
// which all three libraries accept.
const verifySecret = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="

// verifier checks one signed request as a library is used in a server: configured
// once with the secret, then called per request with the body and the HTTP headers.
type verifier func(body []byte, h http.Header) error

// verifiers returns the receiver's verifier, openai-go's and the Standard Webhooks Go
// library's, each configured with verifySecret. now is the clock of the two that take
// one (the Standard Webhooks library always reads time.Now).
func verifiers(tb testing.TB, now time.Time) map[string]verifier {
	tb.Helper()
	ours, err := standardwebhooks.ParseSecret(verifySecret)
	if err != nil {
		tb.Fatal(err)
	}
	secrets := []standardwebhooks.Secret{ours}
	client := openai.NewClient(option.WithWebhookSecret(verifySecret), option.WithAPIKey("unused"))
	sw, err := swlib.NewWebhook(verifySecret)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]verifier{
		"receiver": func(body []byte, h http.Header) error {
			return standardwebhooks.Verify(secrets, standardwebhooks.HeadersFrom(h), body, now, standardwebhooks.DefaultTolerance)
		},
		"openai-go": func(body []byte, h http.Header) error {
			return client.Webhooks.VerifySignatureWithToleranceAndTime(body, h, standardwebhooks.DefaultTolerance, now)
		},
		"standard-webhooks": func(body []byte, h http.Header) error {
			return sw.Verify(body, h)
		},
	}
}

// signedHeaders returns the three webhook headers for body, signed at ts.
func signedHeaders(tb testing.TB, body []byte, ts time.Time) http.Header {
	tb.Helper()
	s, err := standardwebhooks.ParseSecret(verifySecret)
	if err != nil {
		tb.Fatal(err)
	}
	h := http.Header{}
	id := "wh_685c059ae39c8190af8c71ed1022a24d"
	standardwebhooks.Headers{ID: id, Timestamp: strconv.FormatInt(ts.Unix(), 10), Signature: s.Sign(id, ts, body)}.Set(h)
	h.Set("Content-Type", "application/json")
	return h
}

// BenchmarkVerify measures one verification of a valid request by each library, for
// each body size. Run with -benchmem; hack/bench.sh takes the medians of -count runs.
func BenchmarkVerify(b *testing.B) {
	for _, size := range verifySizes {
		body := eventOfSize(size.bytes)
		for _, lib := range verifierOrder {
			b.Run(fmt.Sprintf("body=%s/lib=%s", size.name, lib), func(b *testing.B) {
				now := time.Now()
				h := signedHeaders(b, body, now)
				verify := verifiers(b, now)[lib]
				if err := verify(body, h); err != nil {
					b.Fatalf("%s refuses a valid request: %v", lib, err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if err := verify(body, h); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestVerifiersAgree checks that the benchmarks compare like with like: every library
// accepts the same valid requests and refuses the same forged or stale ones.
func TestVerifiersAgree(t *testing.T) {
	now := time.Unix(1750861210, 0)
	body := eventOfSize(1 << 10)
	if len(body) != 1<<10 {
		t.Fatalf("eventOfSize(1024) is %d bytes", len(body))
	}
	valid := signedHeaders(t, body, time.Now())
	tests := map[string]struct {
		headers func() http.Header
		body    []byte
		ok      bool
	}{
		"valid":        {headers: func() http.Header { return valid.Clone() }, body: body, ok: true},
		"body changed": {headers: func() http.Header { return valid.Clone() }, body: append([]byte{' '}, body...)},
		"signature of another id": {headers: func() http.Header {
			h := valid.Clone()
			h.Set(standardwebhooks.HeaderID, "wh_other")
			return h
		}, body: body},
		"stale timestamp": {headers: func() http.Header { return signedHeaders(t, body, time.Now().Add(-time.Hour)) }, body: body},
		"no signature header": {headers: func() http.Header {
			h := valid.Clone()
			h.Del(standardwebhooks.HeaderSignature)
			return h
		}, body: body},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for lib, verify := range verifiers(t, time.Now()) {
				err := verify(tc.body, tc.headers())
				if (err == nil) != tc.ok {
					t.Errorf("%s: got error %v, want ok=%v", lib, err, tc.ok)
				}
			}
		})
	}
	// The OpenAI SDK's own test vector, at its own time, through the receiver's verifier.
	vector := []byte(
		`{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}`,
	)
	h := http.Header{}
	standardwebhooks.Headers{
		ID:        "wh_685c059ae39c8190af8c71ed1022a24d",
		Timestamp: "1750861210",
		Signature: "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=",
	}.Set(
		h,
	)
	for _, lib := range []string{"receiver", "openai-go"} {
		if err := verifiers(t, now)[lib](vector, h); err != nil {
			t.Errorf("%s refuses the SDK's test vector: %v", lib, err)
		}
	}
}
