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
	"fmt"
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

func TestBatchCompletesWithOutputAndErrorFiles(t *testing.T) {
	tests := map[string]struct {
		endpoint string
		body     func(text string) map[string]any
		failBody map[string]any
		// check decodes a successful output body with the SDK's type and checks it.
		check func(g Gomega, text string, body []byte)
	}{
		"chat completions": {
			endpoint: "/v1/chat/completions",
			body:     func(text string) map[string]any { return chatBody("gpt-4o-mini", text) },
			failBody: chatBody(emulator.ModelFail, "boom"),
			check: func(g Gomega, text string, body []byte) {
				var cc openai.ChatCompletion
				g.Expect(json.Unmarshal(body, &cc)).To(Succeed())
				g.Expect(cc.Object).To(BeEquivalentTo("chat.completion"))
				g.Expect(cc.Choices).To(HaveLen(1))
				g.Expect(cc.Choices[0].Message.Content).To(Equal("echo: " + text))
				g.Expect(cc.Usage.PromptTokens).To(Equal(emulator.Tokens(text)))
				g.Expect(cc.Usage.CompletionTokens).To(Equal(emulator.Tokens("echo: " + text)))
			},
		},
		"responses": {
			endpoint: "/v1/responses",
			body:     func(text string) map[string]any { return map[string]any{"model": "gpt-5-mini", "input": text} },
			failBody: map[string]any{"model": emulator.ModelFail, "input": "boom"},
			check: func(g Gomega, text string, body []byte) {
				var r responses.Response
				g.Expect(json.Unmarshal(body, &r)).To(Succeed())
				g.Expect(r.Status).To(Equal(responses.ResponseStatusCompleted))
				g.Expect(r.OutputText()).To(Equal("echo: " + text))
				g.Expect(r.Usage.OutputTokens).To(Equal(emulator.Tokens("echo: " + text)))
			},
		},
		"embeddings": {
			endpoint: "/v1/embeddings",
			body: func(text string) map[string]any {
				return map[string]any{"model": "text-embedding-3-small", "input": text}
			},
			failBody: map[string]any{"model": emulator.ModelFail, "input": "boom"},
			check: func(g Gomega, text string, body []byte) {
				var er openai.CreateEmbeddingResponse
				g.Expect(json.Unmarshal(body, &er)).To(Succeed())
				g.Expect(er.Data).To(HaveLen(1))
				want := emulator.Embedding("text-embedding-3-small", text, emulator.DefaultEmbeddingDimensions)
				g.Expect(er.Data[0].Embedding).To(HaveLen(len(want)))
				for i, v := range want {
					g.Expect(er.Data[0].Embedding[i]).To(BeNumerically("~", float64(v), 1e-6))
				}
				g.Expect(er.Usage.PromptTokens).To(Equal(emulator.Tokens(text)))
			},
		},
		"completions": {
			endpoint: "/v1/completions",
			body: func(text string) map[string]any {
				return map[string]any{"model": "gpt-3.5-turbo-instruct", "prompt": text}
			},
			failBody: map[string]any{"model": emulator.ModelFail, "prompt": "boom"},
			check: func(g Gomega, text string, body []byte) {
				var c openai.Completion
				g.Expect(json.Unmarshal(body, &c)).To(Succeed())
				g.Expect(c.Choices).To(HaveLen(1))
				g.Expect(c.Choices[0].Text).To(Equal("echo: " + text))
			},
		},
		"moderations": {
			endpoint: "/v1/moderations",
			body:     func(text string) map[string]any { return map[string]any{"input": text} },
			failBody: map[string]any{"model": emulator.ModelFail, "input": "boom"},
			check: func(g Gomega, text string, body []byte) {
				var m openai.ModerationNewResponse
				g.Expect(json.Unmarshal(body, &m)).To(Succeed())
				g.Expect(m.Results).To(HaveLen(1))
				g.Expect(m.Results[0].Flagged).To(Equal(strings.Contains(text, emulator.FlagMarker)))
				g.Expect(m.Results[0].Categories.Violence).To(Equal(strings.Contains(text, emulator.FlagMarker)))
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			srv := start(t, emulator.Options{})
			c := client(srv)
			texts := map[string]string{"one": "hello there", "two": "a second request " + emulator.FlagMarker}
			content := jsonl(
				req("one", tc.endpoint, tc.body(texts["one"])),
				req("bad", tc.endpoint, tc.failBody),
				req("two", tc.endpoint, tc.body(texts["two"])),
			)
			b := createBatch(ctx, g, c, tc.endpoint, content)
			g.Expect(b.Status).To(Equal(openai.BatchStatusValidating))
			g.Expect(b.ID).To(HavePrefix("batch_"))
			g.Expect(b.Endpoint).To(Equal(tc.endpoint))
			g.Expect(b.CompletionWindow).To(Equal("24h"))

			b = waitBatch(ctx, g, c, b.ID, openai.BatchStatusCompleted)
			g.Expect(b.RequestCounts.Total).To(Equal(int64(3)))
			g.Expect(b.RequestCounts.Completed).To(Equal(int64(2)))
			g.Expect(b.RequestCounts.Failed).To(Equal(int64(1)))
			g.Expect(b.InProgressAt).To(BeNumerically(">=", b.CreatedAt))
			g.Expect(b.FinalizingAt).To(BeNumerically(">=", b.InProgressAt))
			g.Expect(b.CompletedAt).To(BeNumerically(">=", b.FinalizingAt))
			g.Expect(b.JSON.Errors.Valid()).To(BeFalse(), "errors is null for a valid batch")

			out := byCustomID(fileLines(ctx, g, c, b.OutputFileID))
			g.Expect(out).To(HaveLen(2))
			for id, text := range texts {
				l := out[id]
				g.Expect(l.ID).To(HavePrefix("batch_req_"))
				g.Expect(l.Error).To(BeNil())
				g.Expect(l.Response.StatusCode).To(Equal(http.StatusOK))
				g.Expect(l.Response.RequestID).NotTo(BeEmpty())
				tc.check(g, text, l.Response.Body)
			}
			errs := fileLines(ctx, g, c, b.ErrorFileID)
			g.Expect(errs).To(HaveLen(1))
			g.Expect(errs[0].CustomID).To(Equal("bad"))
			g.Expect(errs[0].Response.StatusCode).To(Equal(http.StatusInternalServerError))
			var eb struct{ Error openai.Error }
			g.Expect(json.Unmarshal(errs[0].Response.Body, &eb)).To(Succeed())
			g.Expect(eb.Error.Code).To(Equal("server_error"))

			outFile, err := c.Files.Get(ctx, b.OutputFileID)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(outFile.Purpose).To(Equal(openai.FileObjectPurposeBatchOutput))
		})
	}
}

func TestBatchMovesThroughStatusesInOrder(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// Slow enough to observe most statuses: validating 50 ms, in_progress 50 ms + 10 ms
	// per request, finalizing 50 ms.
	srv := start(t, emulator.Options{TimeScale: 0.05})
	c := client(srv)
	b := createBatch(ctx, g, c, "/v1/chat/completions", jsonl(
		req("1", "/v1/chat/completions", chatBody("m", "a")),
		req("2", "/v1/chat/completions", chatBody("m", "b")),
		req("3", "/v1/chat/completions", chatBody("m", "c")),
	))
	rank := map[openai.BatchStatus]int{
		openai.BatchStatusValidating: 0, openai.BatchStatusInProgress: 1,
		openai.BatchStatusFinalizing: 2, openai.BatchStatusCompleted: 3,
	}
	last := b.Status
	var counts []int64
	g.Eventually(func(g Gomega) {
		got, err := c.Batches.Get(ctx, b.ID)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(rank).To(HaveKey(got.Status))
		g.Expect(rank[got.Status]).To(BeNumerically(">=", rank[last]), "%s after %s", got.Status, last)
		last = got.Status
		if got.Status == openai.BatchStatusInProgress {
			counts = append(counts, got.RequestCounts.Completed)
		}
		g.Expect(got.Status).To(Equal(openai.BatchStatusCompleted))
	}).WithTimeout(waitFor).WithPolling(2 * time.Millisecond).Should(Succeed())
	for i := 1; i < len(counts); i++ {
		g.Expect(counts[i]).To(BeNumerically(">=", counts[i-1]), "request_counts never go back")
	}
	done, err := c.Batches.Get(ctx, b.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done.InProgressAt).NotTo(BeZero())
	g.Expect(done.FinalizingAt).NotTo(BeZero())
	g.Expect(done.CompletedAt).NotTo(BeZero())
}

func TestBatchValidationFailsAsynchronously(t *testing.T) {
	const url = "/v1/chat/completions"
	good := jsonl(req("ok", url, chatBody("m", "x")))
	tests := map[string]struct {
		content   string
		wantCode  string
		wantLine  int64
		wantParam string
	}{
		"not JSON": {content: good + "{not json\n", wantCode: "invalid_json_line", wantLine: 2},
		"wrong url": {
			content:   good + jsonl(req("x", "/v1/embeddings", chatBody("m", "x"))),
			wantCode:  "url_mismatch",
			wantLine:  2,
			wantParam: "url",
		},
		"duplicate custom_id": {content: good + good, wantCode: "duplicate_custom_id", wantLine: 2, wantParam: "custom_id"},
		"missing custom_id": {
			content:   jsonl(map[string]any{"method": "POST", "url": url, "body": chatBody("m", "x")}),
			wantCode:  "missing_required_parameter",
			wantLine:  1,
			wantParam: "custom_id",
		},
		"method GET": {
			content:   jsonl(map[string]any{"custom_id": "a", "method": "GET", "url": url, "body": chatBody("m", "x")}),
			wantCode:  "invalid_method",
			wantLine:  1,
			wantParam: "method",
		},
		"body not an object": {
			content:   jsonl(map[string]any{"custom_id": "a", "method": "POST", "url": url, "body": "x"}),
			wantCode:  "missing_required_parameter",
			wantLine:  1,
			wantParam: "body",
		},
		"two models": {
			content:   good + jsonl(req("y", url, chatBody("other", "x"))),
			wantCode:  "model_mismatch",
			wantLine:  2,
			wantParam: "body.model",
		},
		"empty file": {content: "\n", wantCode: "empty_file"},
	}
	srv := start(t, emulator.Options{})
	c := client(srv)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			b := createBatch(ctx, g, c, url, tc.content)
			g.Expect(b.Status).To(Equal(openai.BatchStatusValidating), "OpenAI accepts the batch and validates it afterwards")
			b = waitBatch(ctx, g, c, b.ID, openai.BatchStatusFailed)
			g.Expect(b.FailedAt).To(BeNumerically(">=", b.CreatedAt))
			g.Expect(b.OutputFileID).To(BeEmpty())
			g.Expect(b.Errors.Data).NotTo(BeEmpty())
			e := b.Errors.Data[0]
			g.Expect(e.Code).To(Equal(tc.wantCode))
			g.Expect(e.Line).To(Equal(tc.wantLine))
			g.Expect(e.Param).To(Equal(tc.wantParam))
			g.Expect(e.Message).NotTo(BeEmpty())
		})
	}
}

func TestBatchCreateRefusesWhatOpenAIRefusesAtOnce(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))
	input := upload(ctx, g, c, "in.jsonl", jsonl(req("a", "/v1/embeddings", map[string]any{"model": "m", "input": "x"})))
	other, err := c.Files.New(
		ctx,
		openai.FileNewParams{File: openai.File(strings.NewReader("x"), "x.txt", "text/plain"), Purpose: openai.FilePurposeUserData},
	)
	g.Expect(err).NotTo(HaveOccurred())

	tooMany := map[string]string{}
	for i := range 17 {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	valid := func() openai.BatchNewParams {
		return openai.BatchNewParams{InputFileID: input.ID, Endpoint: "/v1/embeddings", CompletionWindow: "24h"}
	}
	tests := map[string]struct {
		mutate     func(p *openai.BatchNewParams)
		wantStatus int
		wantParam  string
	}{
		"unknown file": {
			mutate:     func(p *openai.BatchNewParams) { p.InputFileID = "file-doesnotexist" },
			wantStatus: 404,
			wantParam:  "input_file_id",
		},
		"file not for batches": {mutate: func(p *openai.BatchNewParams) { p.InputFileID = other.ID }, wantStatus: 400, wantParam: "input_file_id"},
		"unknown endpoint":     {mutate: func(p *openai.BatchNewParams) { p.Endpoint = "/v1/nothing" }, wantStatus: 400, wantParam: "endpoint"},
		"window other than 24h": {
			mutate:     func(p *openai.BatchNewParams) { p.CompletionWindow = "48h" },
			wantStatus: 400,
			wantParam:  "completion_window",
		},
		"17 metadata pairs": {mutate: func(p *openai.BatchNewParams) { p.Metadata = tooMany }, wantStatus: 400, wantParam: "metadata"},
		"metadata key too long": {
			mutate:     func(p *openai.BatchNewParams) { p.Metadata = map[string]string{strings.Repeat("k", 65): "v"} },
			wantStatus: 400,
			wantParam:  "metadata",
		},
		"metadata value too long": {
			mutate: func(p *openai.BatchNewParams) { p.Metadata = map[string]string{"k": strings.Repeat("v", 513)} }, wantStatus: 400, wantParam: "metadata.k",
		},
		"output expiry too short": {
			mutate: func(p *openai.BatchNewParams) {
				p.OutputExpiresAfter = openai.BatchNewParamsOutputExpiresAfter{Seconds: 60}
			},
			wantStatus: 400, wantParam: "output_expires_after.seconds",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			p := valid()
			tc.mutate(&p)
			_, err := c.Batches.New(ctx, p)
			aerr := apiError(g, err)
			g.Expect(aerr.StatusCode).To(Equal(tc.wantStatus))
			g.Expect(aerr.Param).To(Equal(tc.wantParam))
			g.Expect(aerr.Type).To(Equal("invalid_request_error"))
		})
	}

	t.Run("limits are inclusive", func(t *testing.T) {
		g := NewWithT(t)
		p := valid()
		p.Metadata = map[string]string{strings.Repeat("k", 64): strings.Repeat("v", 512)}
		for i := range 15 {
			p.Metadata[fmt.Sprintf("k%d", i)] = "v"
		}
		p.OutputExpiresAfter = openai.BatchNewParamsOutputExpiresAfter{Seconds: 3600}
		b, err := c.Batches.New(ctx, p)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(b.Metadata).To(Equal(p.Metadata))
	})
}

func TestBatchCancelKeepsPartialResults(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	const url = "/v1/chat/completions"
	b := createBatch(ctx, g, c, url, jsonl(
		req("done-1", url, chatBody("m", "a")),
		req("stuck", url, chatBody(emulator.ModelHang, "b")),
		req("done-2", url, chatBody("m", "c")),
	))
	// The two ordinary requests finish; the hanging one keeps the batch in_progress.
	g.Eventually(func(g Gomega) {
		got, err := c.Batches.Get(ctx, b.ID)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got.Status).To(Equal(openai.BatchStatusInProgress))
		g.Expect(got.RequestCounts.Completed).To(Equal(int64(2)))
	}).WithTimeout(waitFor).WithPolling(2 * time.Millisecond).Should(Succeed())

	cancelling, err := c.Batches.Cancel(ctx, b.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cancelling.Status).To(Equal(openai.BatchStatusCancelling))
	g.Expect(cancelling.CancellingAt).To(BeNumerically(">=", b.CreatedAt))

	done := waitBatch(ctx, g, c, b.ID, openai.BatchStatusCancelled)
	g.Expect(done.CancelledAt).To(BeNumerically(">=", done.CancellingAt))
	g.Expect(done.RequestCounts.Total).To(Equal(int64(3)))
	g.Expect(done.RequestCounts.Completed).To(Equal(int64(2)))
	out := byCustomID(fileLines(ctx, g, c, done.OutputFileID))
	g.Expect(out).To(HaveKey("done-1"))
	g.Expect(out).To(HaveKey("done-2"))
	g.Expect(out).NotTo(HaveKey("stuck"))

	_, err = c.Batches.Cancel(ctx, b.ID, option.WithMaxRetries(0))
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusConflict))
	g.Expect(aerr.Message).To(ContainSubstring("cancelled"))

	_, err = c.Batches.Cancel(ctx, "batch_unknown", option.WithMaxRetries(0))
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))
}

func TestBatchCancelWhileValidating(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{TimeScale: 1})
	c := client(srv)
	b := createBatch(ctx, g, c, "/v1/embeddings", jsonl(req("a", "/v1/embeddings", map[string]any{"model": "m", "input": "x"})))
	got, err := c.Batches.Cancel(ctx, b.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Status).To(Equal(openai.BatchStatusCancelling))
	g.Expect(got.InProgressAt).To(BeZero())

	// At time scale 1 the batch stays cancelling for a second.
	again, err := c.Batches.Cancel(ctx, b.ID)
	g.Expect(err).NotTo(HaveOccurred(), "cancelling a cancelling batch answers it as is")
	g.Expect(again.Status).To(Equal(openai.BatchStatusCancelling))
	g.Expect(again.CancellingAt).To(Equal(got.CancellingAt))
}

func TestBatchExpiresAfterCompletionWindow(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// 24 h scaled by 0.00001 is 864 ms.
	srv := start(t, emulator.Options{TimeScale: 0.00001})
	c := client(srv)
	const url = "/v1/embeddings"
	b := createBatch(ctx, g, c, url, jsonl(
		req("fast", url, map[string]any{"model": "m", "input": "x"}),
		req("stuck", url, map[string]any{"model": emulator.ModelHang, "input": "y"}),
	))
	g.Expect(b.ExpiresAt).To(BeNumerically("<=", b.CreatedAt+1), "expires_at reports the scaled window")

	done := waitBatch(ctx, g, c, b.ID, openai.BatchStatusExpired)
	g.Expect(done.ExpiredAt).To(BeNumerically(">=", done.CreatedAt))
	g.Expect(done.RequestCounts.Completed).To(Equal(int64(1)))
	g.Expect(done.RequestCounts.Failed).To(Equal(int64(1)))
	g.Expect(byCustomID(fileLines(ctx, g, c, done.OutputFileID))).To(HaveKey("fast"))
	errs := byCustomID(fileLines(ctx, g, c, done.ErrorFileID))
	g.Expect(errs).To(HaveKey("stuck"))
	g.Expect(errs["stuck"].Response).To(BeNil())
	g.Expect(errs["stuck"].Error.Code).To(Equal("batch_expired"))
}

func TestBatchListPaginatesNewestFirst(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))
	f := upload(ctx, g, c, "in.jsonl", jsonl(req("a", "/v1/embeddings", map[string]any{"model": "m", "input": "x"})))
	var ids []string
	for i := range 7 {
		b, err := c.Batches.New(ctx, openai.BatchNewParams{
			InputFileID: f.ID, Endpoint: "/v1/embeddings", CompletionWindow: "24h",
			Metadata: map[string]string{"n": fmt.Sprint(i)},
		})
		g.Expect(err).NotTo(HaveOccurred())
		ids = append(ids, b.ID)
	}

	page, err := c.Batches.List(ctx, openai.BatchListParams{Limit: openai.Int(3)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.HasMore).To(BeTrue())
	g.Expect(page.Data).To(HaveLen(3))
	g.Expect(page.Data[0].ID).To(Equal(ids[6]))
	g.Expect(page.Data[0].Metadata).To(HaveKeyWithValue("n", "6"))

	var seen []string
	pager := c.Batches.ListAutoPaging(ctx, openai.BatchListParams{Limit: openai.Int(3)})
	for pager.Next() {
		seen = append(seen, pager.Current().ID)
	}
	g.Expect(pager.Err()).NotTo(HaveOccurred())
	g.Expect(seen).To(Equal([]string{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}))

	def, err := c.Batches.List(ctx, openai.BatchListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(def.Data).To(HaveLen(7))
	g.Expect(def.HasMore).To(BeFalse())

	_, err = c.Batches.List(ctx, openai.BatchListParams{Limit: openai.Int(101)})
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusBadRequest))
}
