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
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The signing test vectors of OpenAI's SDK and of the Standard Webhooks specification.
func TestSignedHeadersReproduceTestVectors(t *testing.T) {
	tests := map[string]struct {
		secret, id, timestamp, body, want string
	}{
		"openai sdk": {
			secret:    "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=",
			id:        "wh_685c059ae39c8190af8c71ed1022a24d",
			timestamp: "1750861210",
			body:      `{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}`,
			want:      "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=",
		},
		"standard webhooks": {
			secret:    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			id:        "msg_p5jXN8AQM9LWM0D4loKWxJek",
			timestamp: "1614265330",
			body:      `{"test": 2432232314}`,
			want:      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			e, err := New(Options{WebhookSecret: tc.secret})
			g.Expect(err).NotTo(HaveOccurred())
			defer e.Close()
			g.Expect(e.WebhookSecret()).To(Equal(tc.secret))

			h := signedHeaders(tc.id, tc.timestamp, []byte(tc.body), e.secret)
			g.Expect(h.Signature).To(Equal(tc.want))

			// openai-go's own verifier accepts it.
			hdr := http.Header{}
			h.Set(hdr)
			ts, _ := strconv.ParseInt(tc.timestamp, 10, 64)
			c := openai.NewClient(option.WithAPIKey("unused"), option.WithWebhookSecret(tc.secret))
			g.Expect(c.Webhooks.VerifySignatureWithToleranceAndTime([]byte(tc.body), hdr, 5*time.Minute, time.Unix(ts, 0))).To(Succeed())
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := map[string]Options{
		"secret without prefix":  {WebhookSecret: "RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="},
		"secret too short":       {WebhookSecret: "whsec_c2hvcnQ="},
		"negative time scale":    {TimeScale: -1},
		"rate above one":         {Faults: Faults{RateLimitRate: 1.5}},
		"relative webhook URL":   {WebhookURLs: []string{"/hooks"}},
		"non-http webhook URL":   {WebhookURLs: []string{"ftp://example.invalid/hooks"}},
		"empty API key in a set": {APIKeys: []string{"sk-a", ""}},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			e, err := New(opts)
			if e != nil {
				e.Close()
			}
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).NotTo(ContainSubstring("RdvaYFYUX"), "errors never carry the secret")
		})
	}
}

func TestGeneratedSecretIsUsable(t *testing.T) {
	g := NewWithT(t)
	e, err := New(Options{})
	g.Expect(err).NotTo(HaveOccurred())
	defer e.Close()
	g.Expect(e.WebhookSecret()).To(HavePrefix("whsec_"))
	other, err := New(Options{})
	g.Expect(err).NotTo(HaveOccurred())
	defer other.Close()
	g.Expect(other.WebhookSecret()).NotTo(Equal(e.WebhookSecret()))
}

func TestSchedulerRunsCallbacksInTimeOrder(t *testing.T) {
	g := NewWithT(t)
	s := newScheduler()
	defer s.close()
	var mu sync.Mutex
	var got []int
	now := time.Now()
	done := make(chan struct{})
	for i, d := range []time.Duration{30, 10, 20, 0, 10} {
		s.at(now.Add(d*time.Millisecond), func() {
			mu.Lock()
			got = append(got, i)
			n := len(got)
			mu.Unlock()
			if n == 5 {
				close(done)
			}
		})
	}
	g.Eventually(done).WithTimeout(5 * time.Second).Should(BeClosed())
	mu.Lock()
	defer mu.Unlock()
	g.Expect(got).To(Equal([]int{3, 1, 4, 2, 0}), "by time, then by scheduling order")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]struct {
		header string
		want   time.Duration
	}{
		"absent":     {"", 0},
		"seconds":    {"3", 3 * time.Second},
		"fraction":   {"0.5", 500 * time.Millisecond},
		"http date":  {now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		"past date":  {now.Add(-time.Minute).Format(http.TimeFormat), 0},
		"garbage":    {"soon", 0},
		"huge":       {"9999999", maxRetryAfter},
		"negative":   {"-4", 0},
		"whitespace": {" 2", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(parseRetryAfter(tc.header, now)).To(Equal(tc.want))
		})
	}
}
