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
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/openai-operator/openai-operator/emulator"
)

// fastScale makes a small batch finish in a few milliseconds.
const fastScale = 0.001

const waitFor = 15 * time.Second

// start runs an emulator for the test and closes it at the end.
func start(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = fastScale
	}
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	srv, err := emulator.Start(opts)
	if err != nil {
		t.Fatalf("starting emulator: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// client returns an official SDK client pointed at srv.
func client(srv *emulator.Server, opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(srv.URL()),
		option.WithAPIKey(emulator.DefaultAPIKey),
		option.WithWebhookSecret(srv.WebhookSecret()),
		option.WithRequestTimeout(20 * time.Second),
	}
	return openai.NewClient(append(base, opts...)...)
}

// jsonl builds a batch input file from request lines.
func jsonl(lines ...map[string]any) string {
	var b strings.Builder
	for _, l := range lines {
		raw, _ := json.Marshal(l)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// req is one batch input line.
func req(customID, url string, body map[string]any) map[string]any {
	return map[string]any{"custom_id": customID, "method": "POST", "url": url, "body": body}
}

func chatBody(model, text string) map[string]any {
	return map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": text}}}
}

func upload(ctx context.Context, g Gomega, c openai.Client, name, content string) *openai.FileObject {
	f, err := c.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader(content), name, "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	})
	g.Expect(err).NotTo(HaveOccurred())
	return f
}

func createBatch(ctx context.Context, g Gomega, c openai.Client, endpoint, content string) *openai.Batch {
	f := upload(ctx, g, c, "input.jsonl", content)
	b, err := c.Batches.New(ctx, openai.BatchNewParams{
		InputFileID:      f.ID,
		Endpoint:         openai.BatchNewParamsEndpoint(endpoint),
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
	})
	g.Expect(err).NotTo(HaveOccurred())
	return b
}

// waitBatch polls until the batch reaches status.
func waitBatch(ctx context.Context, g Gomega, c openai.Client, id string, status openai.BatchStatus) *openai.Batch {
	var b *openai.Batch
	g.Eventually(func(g Gomega) {
		var err error
		b, err = c.Batches.Get(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(b.Status).To(Equal(status))
	}).WithTimeout(waitFor).WithPolling(2 * time.Millisecond).Should(Succeed())
	return b
}

// fileLines downloads a file and decodes its JSONL lines.
func fileLines(ctx context.Context, g Gomega, c openai.Client, id string) []outputLine {
	g.Expect(id).NotTo(BeEmpty())
	resp, err := c.Files.Content(ctx, id)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	var out []outputLine
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ol outputLine
		g.Expect(json.Unmarshal([]byte(l), &ol)).To(Succeed(), l)
		out = append(out, ol)
	}
	return out
}

// outputLine is one line of a batch output or error file.
type outputLine struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func byCustomID(lines []outputLine) map[string]outputLine {
	m := map[string]outputLine{}
	for _, l := range lines {
		m[l.CustomID] = l
	}
	return m
}

// apiError returns the *openai.Error in err.
func apiError(g Gomega, err error) *openai.Error {
	var aerr *openai.Error
	g.Expect(errors.As(err, &aerr)).To(BeTrue(), "want *openai.Error, got %v", err)
	return aerr
}

// delivery is one webhook request a receiver saw.
type delivery struct {
	webhookID string
	eventType string
	dataID    string
	header    http.Header
	body      []byte
	at        time.Time
	verifyErr error
}

// receiver is a webhook endpoint that verifies deliveries with openai-go's Unwrap.
type receiver struct {
	srv    *httptest.Server
	client openai.Client

	mu       sync.Mutex
	got      []delivery
	attempts map[string]int
	// status decides the answer to the n-th attempt (1-based) of a webhook-id; nil
	// answers 200.
	status func(w http.ResponseWriter, r *http.Request, n int) int
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{attempts: map[string]int{}}
	rc.client = openai.NewClient(option.WithAPIKey("unused"), option.WithWebhookSecret(secret))
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hooks/openai" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivery{webhookID: r.Header.Get("webhook-id"), header: r.Header.Clone(), body: body, at: time.Now()}
	ev, err := rc.client.Webhooks.Unwrap(body, r.Header)
	if err != nil {
		d.verifyErr = err
	} else {
		d.eventType, d.dataID = ev.Type, ev.Data.ID
	}
	rc.mu.Lock()
	rc.attempts[d.webhookID]++
	n := rc.attempts[d.webhookID]
	rc.got = append(rc.got, d)
	status := rc.status
	rc.mu.Unlock()
	code := http.StatusOK
	if status != nil {
		code = status(w, r, n)
	}
	w.WriteHeader(code)
}

// respond sets how the receiver answers.
func (rc *receiver) respond(f func(w http.ResponseWriter, r *http.Request, n int) int) {
	rc.mu.Lock()
	rc.status = f
	rc.mu.Unlock()
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// events returns "type dataID" of the verified deliveries.
func (rc *receiver) events() []string {
	var out []string
	for _, d := range rc.deliveries() {
		if d.verifyErr == nil {
			out = append(out, d.eventType+" "+d.dataID)
		}
	}
	return out
}
