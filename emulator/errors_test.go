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

package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/openai-operator/openai-operator/emulator"
)

func TestBadAPIKeyIsRefusedLikeOpenAI(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{APIKeys: []string{"sk-first", "sk-second-key"}})
	const bad = "sk-abcdefghijklmnopqrstuvwxyz"
	c := client(srv, option.WithAPIKey(bad), option.WithMaxRetries(0))

	_, err := c.Batches.List(context.Background(), openai.BatchListParams{})
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusUnauthorized))
	g.Expect(aerr.Code).To(Equal("invalid_api_key"))
	g.Expect(aerr.Type).To(Equal("invalid_request_error"))
	g.Expect(aerr.Message).To(ContainSubstring("sk-ab***yz"))
	g.Expect(aerr.Message).NotTo(ContainSubstring(bad))
	g.Expect(srv.Stats().Faults.Unauthorized).To(Equal(int64(1)))
	g.Expect(srv.Calls("batches.list")).To(BeZero(), "refused calls are not counted as operations")

	for _, key := range []string{"sk-first", "sk-second-key"} {
		kc := client(srv, option.WithAPIKey(key))
		_, err := kc.Batches.List(context.Background(), openai.BatchListParams{})
		g.Expect(err).NotTo(HaveOccurred())
	}

	resp, err := http.Get(srv.URL() + "batches")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	body := decodeError(g, resp.Body)
	g.Expect(body.Message).To(ContainSubstring("You didn't provide an API key"))
}

type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func decodeError(g Gomega, r io.Reader) errorBody {
	var e struct {
		Error *errorBody `json:"error"`
	}
	g.Expect(json.NewDecoder(r).Decode(&e)).To(Succeed())
	g.Expect(e.Error).NotTo(BeNil())
	return *e.Error
}

func TestUnknownRoutesAnswerInOpenAIShape(t *testing.T) {
	srv := start(t, emulator.Options{})
	tests := map[string]struct {
		method, path string
		want         int
	}{
		"unknown path":   {method: http.MethodGet, path: "v1/models", want: http.StatusNotFound},
		"outside /v1":    {method: http.MethodGet, path: "v2/batches", want: http.StatusNotFound},
		"wrong method":   {method: http.MethodDelete, path: "v1/batches/batch_1", want: http.StatusMethodNotAllowed},
		"no cancel verb": {method: http.MethodGet, path: "v1/responses/resp_1/cancel", want: http.StatusMethodNotAllowed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			req, _ := http.NewRequest(tc.method, "http://"+srv.Addr()+"/"+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+emulator.DefaultAPIKey)
			resp, err := http.DefaultClient.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = resp.Body.Close() }()
			g.Expect(resp.StatusCode).To(Equal(tc.want))
			g.Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
			body := decodeError(g, resp.Body)
			g.Expect(body.Type).To(Equal("invalid_request_error"))
			g.Expect(body.Message).To(ContainSubstring(tc.method))
		})
	}
}

func TestInjectedRateLimitsAreRetriedBySDK(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{Faults: emulator.Faults{RateLimitRate: 1, RetryAfter: 300 * time.Millisecond}})

	// Every call limited: the SDK tries 1 + 1 times, waiting Retry-After between.
	began := time.Now()
	limited := client(srv, option.WithMaxRetries(1))
	_, err := limited.Files.List(ctx, openai.FileListParams{})
	g.Expect(time.Since(began)).To(BeNumerically(">=", 300*time.Millisecond), "the SDK waited Retry-After")
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusTooManyRequests))
	g.Expect(aerr.Code).To(Equal("rate_limit_exceeded"))
	g.Expect(aerr.Response.Header.Get("Retry-After")).To(Equal("1"))
	g.Expect(aerr.Response.Header.Get("Retry-After-Ms")).To(Equal("300"))
	g.Expect(srv.Calls("files.list")).To(Equal(int64(2)))
	g.Expect(srv.Stats().Faults.RateLimited).To(Equal(int64(2)))

	// Half the calls limited: with enough retries every call gets through.
	srv.ResetStats()
	srv.SetFaults(emulator.Faults{RateLimitRate: 0.5, RetryAfter: time.Millisecond})
	c := client(srv, option.WithMaxRetries(30))
	for range 20 {
		_, err := c.Files.List(ctx, openai.FileListParams{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	st := srv.Stats()
	g.Expect(st.Faults.RateLimited).To(BeNumerically(">", 0))
	g.Expect(st.Calls["files.list"]).To(Equal(20 + st.Faults.RateLimited))
}

func TestInjectedServerErrors(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{Faults: emulator.Faults{ServerErrorRate: 1}})
	c := client(srv, option.WithMaxRetries(0))
	_, err := c.Batches.Get(context.Background(), "batch_x")
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusInternalServerError))
	g.Expect(aerr.Type).To(Equal("server_error"))
	g.Expect(srv.Stats().Faults.ServerErrors).To(Equal(int64(1)))
	g.Expect(srv.Calls("batches.retrieve")).To(Equal(int64(1)))

	srv.SetFaults(emulator.Faults{})
	_, err = c.Batches.Get(context.Background(), "batch_x")
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound), "faults off: the real answer")
}

func TestControlAPI(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{})
	ctl := srv.ControlURL()
	do := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, ctl+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	code, body := do(http.MethodGet, "healthz", "")
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(string(body)).To(Equal("ok\n"))

	code, body = do(http.MethodPut, "faults", `{"rate_limit_rate": 0.25, "retry_after": "2s", "webhook_delay": 1.5, "webhook_reorder": true}`)
	g.Expect(code).To(Equal(http.StatusOK), string(body))
	g.Expect(srv.Faults()).
		To(Equal(emulator.Faults{RateLimitRate: 0.25, RetryAfter: 2 * time.Second, WebhookDelay: 1500 * time.Millisecond, WebhookReorder: true}))
	code, _ = do(http.MethodPut, "faults", `{"server_error_rate": 0.5}`)
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(srv.Faults().RateLimitRate).To(Equal(0.25), "fields left out keep their value")
	g.Expect(srv.Faults().ServerErrorRate).To(Equal(0.5))
	code, _ = do(http.MethodPut, "faults", `{"server_error_rate": 2}`)
	g.Expect(code).To(Equal(http.StatusBadRequest))

	code, body = do(http.MethodGet, "faults", "")
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(body).
		To(MatchJSON(`{"rate_limit_rate":0.25,"rate_limit_type":"requests","insufficient_quota_rate":0,"server_error_rate":0.5,"retry_after":"2s","webhook_drop_rate":0,"webhook_duplicate_rate":0,"webhook_delay_rate":0,"webhook_delay":"1.5s","webhook_reorder":true}`))

	srv.SetFaults(emulator.Faults{})
	c := client(srv)
	_, err := c.Batches.List(context.Background(), openai.BatchListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	code, body = do(http.MethodGet, "stats", "")
	g.Expect(code).To(Equal(http.StatusOK))
	var st emulator.Stats
	g.Expect(json.Unmarshal(body, &st)).To(Succeed())
	g.Expect(st.Calls).To(HaveKeyWithValue("batches.list", int64(1)))
	g.Expect(st.Calls).To(HaveKeyWithValue("responses.cancel", int64(0)))

	code, _ = do(http.MethodPost, "reset-stats", "")
	g.Expect(code).To(Equal(http.StatusNoContent))
	g.Expect(srv.Calls("batches.list")).To(BeZero())

	code, _ = do(http.MethodPost, "webhooks", `{"url": "not a url"}`)
	g.Expect(code).To(Equal(http.StatusBadRequest))
	code, body = do(http.MethodPost, "webhooks", `{"url": "http://127.0.0.1:1/hook"}`)
	g.Expect(code).To(Equal(http.StatusOK))
	var eps []emulator.WebhookEndpoint
	g.Expect(json.Unmarshal(body, &eps)).To(Succeed())
	g.Expect(eps).To(ConsistOf(And(HaveField("URL", "http://127.0.0.1:1/hook"), HaveField("Project", emulator.DefaultProject),
		HaveField("Name", ""), HaveField("EventTypes", BeNil()), HaveField("ActiveSecrets", 1), HaveField("Pending", 0))))
	code, body = do(http.MethodDelete, "webhooks?url=http://127.0.0.1:1/hook", "")
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(body).To(MatchJSON(`[]`))
	code, _ = do(http.MethodDelete, "webhooks?url=http://127.0.0.1:1/hook", "")
	g.Expect(code).To(Equal(http.StatusNotFound))

	code, _ = do(http.MethodGet, "nothing", "")
	g.Expect(code).To(Equal(http.StatusNotFound))
	code, _ = do(http.MethodPost, "stats", "")
	g.Expect(code).To(Equal(http.StatusMethodNotAllowed))
}
