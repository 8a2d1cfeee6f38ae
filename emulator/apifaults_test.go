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
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/openai-operator/openai-operator/emulator"
)

func TestInjectedFaultsAnswerLikeOpenAI(t *testing.T) {
	tests := map[string]struct {
		in         emulator.Injection
		status     int
		typ, code  string
		message    string
		header     map[string]string // headers the answer must carry ("" = absent)
		otherCalls bool              // the injection is for another operation
	}{
		"bad request": {in: emulator.Injection{Fault: emulator.FaultBadRequest}, status: 400, typ: "invalid_request_error", code: "invalid_value"},
		"unauthorized": {
			in:      emulator.Injection{Fault: emulator.FaultUnauthorized},
			status:  401,
			typ:     "invalid_request_error",
			code:    "invalid_api_key",
			message: "Incorrect API key provided: sk-em***or.",
		},
		"forbidden": {
			in:     emulator.Injection{Fault: emulator.FaultForbidden},
			status: 403,
			typ:    "request_forbidden",
			code:   "unsupported_country_region_territory",
		},
		"wrong project": {
			in:     emulator.Injection{Fault: emulator.FaultWrongProject},
			status: 401,
			typ:    "invalid_request_error",
			code:   "mismatched_project",
		},
		"not found": {in: emulator.Injection{Fault: emulator.FaultNotFound}, status: 404, typ: "invalid_request_error"},
		"conflict":  {in: emulator.Injection{Fault: emulator.FaultConflict}, status: 409, typ: "invalid_request_error"},
		"429 requests with Retry-After": {in: emulator.Injection{Fault: emulator.FaultRateLimitRequests, RetryAfter: 1500 * time.Millisecond},
			status: 429, typ: "requests", code: "rate_limit_exceeded",
			header: map[string]string{
				"Retry-After":                    "2",
				"Retry-After-Ms":                 "1500",
				"X-Ratelimit-Remaining-Requests": "0",
				"X-Ratelimit-Reset-Requests":     "1.5s",
			}},
		"429 tokens without Retry-After": {in: emulator.Injection{Fault: emulator.FaultRateLimitTokens},
			status: 429, typ: "tokens", code: "rate_limit_exceeded",
			header: map[string]string{
				"Retry-After":                  "",
				"Retry-After-Ms":               "",
				"X-Ratelimit-Remaining-Tokens": "0",
				"X-Ratelimit-Reset-Tokens":     "1s",
			}},
		"insufficient quota": {
			in:      emulator.Injection{Fault: emulator.FaultInsufficientQuota},
			status:  429,
			typ:     "insufficient_quota",
			code:    "insufficient_quota",
			message: "You exceeded your current quota",
			header:  map[string]string{"Retry-After": ""},
		},
		"server error":      {in: emulator.Injection{Fault: emulator.FaultServerError}, status: 500, typ: "server_error"},
		"another operation": {in: emulator.Injection{Op: emulator.OpFilesList, Fault: emulator.FaultServerError}, otherCalls: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			srv := start(t, emulator.Options{})
			c := client(srv, option.WithMaxRetries(0))
			in := tc.in
			if in.Op == "" {
				in.Op = emulator.OpBatchesList
			}
			in.Count = 2
			g.Expect(srv.Inject(in)).To(Succeed())

			for range 2 {
				_, err := c.Batches.List(ctx, openai.BatchListParams{})
				if tc.otherCalls {
					g.Expect(err).NotTo(HaveOccurred())
					continue
				}
				aerr := apiError(g, err)
				g.Expect(aerr.StatusCode).To(Equal(tc.status))
				g.Expect(aerr.Type).To(Equal(tc.typ))
				g.Expect(aerr.Code).To(Equal(tc.code))
				g.Expect(aerr.Message).To(ContainSubstring(tc.message))
				for k, v := range tc.header {
					g.Expect(aerr.Response.Header.Get(k)).To(Equal(v), "header %s", k)
				}
			}
			// Used up after Count calls.
			_, err := c.Batches.List(ctx, openai.BatchListParams{})
			g.Expect(err).NotTo(HaveOccurred())
			if !tc.otherCalls {
				g.Expect(srv.Injections()).To(BeEmpty())
				g.Expect(srv.Stats().Faults.Injected).To(HaveKeyWithValue(string(tc.in.Fault), int64(2)))
			}
		})
	}
}

func TestLostAnswerDoesTheWorkButNeverAnswers(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))
	input := upload(ctx, g, c, "in.jsonl", jsonl(req("a", "/v1/embeddings", map[string]any{"model": "m", "input": "x"})))

	// The connection is closed at once: the SDK sees a broken connection.
	g.Expect(srv.Inject(emulator.Injection{Op: emulator.OpBatchesCreate, Fault: emulator.FaultLostAnswer})).To(Succeed())
	_, err := c.Batches.New(
		ctx,
		openai.BatchNewParams{
			InputFileID:      input.ID,
			Endpoint:         openai.BatchNewParamsEndpointV1Embeddings,
			CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
		},
	)
	g.Expect(err).To(HaveOccurred())
	var aerr *openai.Error
	g.Expect(errors.As(err, &aerr)).To(BeFalse(), "no answer at all, not an API error: %v", err)
	page, err := c.Batches.List(ctx, openai.BatchListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Data).To(HaveLen(1), "the batch was created all the same")

	// Held past the client's timeout: the SDK times out, the upload exists.
	g.Expect(srv.Inject(emulator.Injection{Op: emulator.OpFilesCreate, Fault: emulator.FaultLostAnswer, Hold: 5 * time.Second})).To(Succeed())
	began := time.Now()
	_, err = c.Files.New(
		ctx,
		openai.FileNewParams{File: openai.File(strings.NewReader("{}\n"), "slow.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch},
		option.WithRequestTimeout(300*time.Millisecond),
	)
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
	g.Expect(time.Since(began)).To(BeNumerically("<", 5*time.Second), "the emulator lets go when the client does")
	files, err := c.Files.List(ctx, openai.FileListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, f := range files.Data {
		names = append(names, f.Filename)
	}
	g.Expect(names).To(ContainElement("slow.jsonl"))
	g.Expect(srv.Stats().Faults.Injected).To(HaveKeyWithValue(string(emulator.FaultLostAnswer), int64(2)))
}

func TestKeysAreRevokedAndRestoredAtRunTime(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const other = "sk-other-project-key"
	srv := start(t, emulator.Options{APIKeys: []string{emulator.DefaultAPIKey, other}})
	c := client(srv, option.WithMaxRetries(0))
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.ControlURL()+"keys", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		return resp.StatusCode
	}

	g.Expect(put(`{"key":"` + emulator.DefaultAPIKey + `","state":"revoked"}`)).To(Equal(http.StatusOK))
	_, err := c.Batches.List(ctx, openai.BatchListParams{})
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusUnauthorized))
	g.Expect(aerr.Code).To(Equal("invalid_api_key"))
	g.Expect(aerr.Message).To(ContainSubstring("Incorrect API key provided: sk-em***or."))
	oc := client(srv, option.WithAPIKey(other))
	_, err = oc.Batches.List(ctx, openai.BatchListParams{})
	g.Expect(err).NotTo(HaveOccurred(), "other keys keep working")

	// A read-only key reads, and is refused anything else with OpenAI's missing scopes.
	g.Expect(srv.SetKeyState(emulator.DefaultAPIKey, emulator.KeyReadOnly)).To(Succeed())
	_, err = c.Batches.List(ctx, openai.BatchListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Batches.Cancel(ctx, "batch_x")
	aerr = apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusUnauthorized))
	g.Expect(aerr.Message).To(ContainSubstring("Missing scopes: api.batch.write"))

	g.Expect(put(`{"key":"` + emulator.DefaultAPIKey + `","state":"active"}`)).To(Equal(http.StatusOK))
	_, err = c.Batches.List(ctx, openai.BatchListParams{})
	g.Expect(err).NotTo(HaveOccurred(), "restored")
	g.Expect(srv.Stats().Faults.Unauthorized).To(Equal(int64(2)))

	g.Expect(put(`{"key":"sk-unknown-key","state":"revoked"}`)).To(Equal(http.StatusBadRequest))
	g.Expect(put(`{"key":"` + other + `","state":"sleepy"}`)).To(Equal(http.StatusBadRequest))
	resp, err := http.Get(srv.ControlURL() + "keys")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	g.Expect(body).To(MatchJSON(`[{"key":"sk-em***or","state":"active"},{"key":"sk-ot***ey","state":"active"}]`))
	g.Expect(string(body)).NotTo(ContainSubstring(other), "keys are listed masked")
}

func TestRateLimitHeadersOnEveryAnswerAndEnforcedLimits(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{RequestsPerMinute: 3, EnforceRateLimits: true})
	c := client(srv, option.WithMaxRetries(0))

	var remaining []string
	for range 3 {
		var raw *http.Response
		_, err := c.Batches.List(ctx, openai.BatchListParams{}, option.WithResponseInto(&raw))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(raw.Header.Get("X-Ratelimit-Limit-Requests")).To(Equal("3"))
		g.Expect(raw.Header.Get("X-Ratelimit-Limit-Tokens")).To(Equal(fmt.Sprint(emulator.DefaultTokensPerMinute)))
		g.Expect(raw.Header.Get("X-Ratelimit-Remaining-Tokens")).NotTo(BeEmpty())
		_, err = time.ParseDuration(raw.Header.Get("X-Ratelimit-Reset-Requests"))
		g.Expect(err).NotTo(HaveOccurred(), "reset as OpenAI writes it: %q", raw.Header.Get("X-Ratelimit-Reset-Requests"))
		remaining = append(remaining, raw.Header.Get("X-Ratelimit-Remaining-Requests"))
	}
	g.Expect(remaining).To(Equal([]string{"2", "1", "0"}))

	// The fourth call within the minute finds the budget empty: 429 requests, no
	// Retry-After, the reset header says when one request is available again (20 s).
	_, err := c.Batches.Get(ctx, "batch_x")
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusTooManyRequests))
	g.Expect(aerr.Type).To(Equal("requests"))
	g.Expect(aerr.Code).To(Equal("rate_limit_exceeded"))
	g.Expect(aerr.Response.Header.Get("Retry-After")).To(BeEmpty())
	reset, err := time.ParseDuration(aerr.Response.Header.Get("X-Ratelimit-Reset-Requests"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(reset).To(BeNumerically("~", 60*time.Second, time.Second), "the whole budget refills in a minute")
	g.Expect(aerr.Message).To(ContainSubstring("on requests per min (RPM): Limit 3"))
	g.Expect(srv.Stats().Faults.RateLimited).To(Equal(int64(1)))
}

func TestBatchOutputLinesComeInAnotherOrderThanTheInput(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	const url = "/v1/embeddings"
	var lines []map[string]any
	var ids []string
	for i := range 8 {
		id := fmt.Sprintf("req-%d", i)
		ids = append(ids, id)
		lines = append(lines, req(id, url, map[string]any{"model": "text-embedding-3-small", "input": id}))
	}
	b := createBatch(ctx, g, c, url, jsonl(lines...))
	b = waitBatch(ctx, g, c, b.ID, openai.BatchStatusCompleted)
	var got []string
	for _, l := range fileLines(ctx, g, c, b.OutputFileID) {
		got = append(got, l.CustomID)
	}
	g.Expect(got).To(ConsistOf(ids))
	g.Expect(got).NotTo(Equal(ids), "OpenAI promises no order; readers must match by custom_id")
}

func TestModelsAreAnsweredAsDatedSnapshots(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)

	r, err := c.Responses.New(ctx, background("gpt-4o-mini", "hello"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.Model).To(BeEquivalentTo("gpt-4o-mini-2024-07-18"))

	b := createBatch(ctx, g, c, "/v1/chat/completions", jsonl(req("a", "/v1/chat/completions", chatBody("gpt-4o-mini", "hi"))))
	b = waitBatch(ctx, g, c, b.ID, openai.BatchStatusCompleted)
	g.Expect(b.Model).To(Equal("gpt-4o-mini-2024-07-18"))
	var cc openai.ChatCompletion
	g.Expect(json.Unmarshal(fileLines(ctx, g, c, b.OutputFileID)[0].Response.Body, &cc)).To(Succeed())
	g.Expect(cc.Model).To(Equal("gpt-4o-mini-2024-07-18"))

	g.Expect(emulator.Snapshot("text-embedding-3-small")).To(Equal("text-embedding-3-small"), "embedding models are not dated")
	g.Expect(emulator.Snapshot("gpt-4o-mini-2024-07-18")).To(Equal("gpt-4o-mini-2024-07-18"))
}

func TestResponseUsageReportsCacheWriteTokens(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	for name, tc := range map[string]struct {
		input string
		want  int64
	}{
		"short prompt": {input: "hi", want: 0},
		// 5,000 bytes are 1,250 tokens: written to the cache in blocks of 128.
		"long prompt": {input: strings.Repeat("x", 5000), want: 1152},
	} {
		r, err := c.Responses.New(ctx, background("gpt-5-mini", tc.input))
		g.Expect(err).NotTo(HaveOccurred(), name)
		done := waitResponse(ctx, g, c, r.ID, responses.ResponseStatusCompleted)
		g.Expect(done.Usage.InputTokensDetails.JSON.CacheWriteTokens.Valid()).To(BeTrue(), name)
		g.Expect(done.Usage.InputTokensDetails.CacheWriteTokens).To(Equal(tc.want), name)
	}
}
