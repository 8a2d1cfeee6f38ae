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
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/openai-operator/openai-operator/emulator"
)

func TestFilesUploadGetContentDelete(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)
	content := jsonl(req("a", "/v1/embeddings", map[string]any{"model": "m", "input": "x"}))

	f := upload(ctx, g, c, "requests.jsonl", content)
	g.Expect(f.ID).To(HavePrefix("file-"))
	g.Expect(f.Filename).To(Equal("requests.jsonl"))
	g.Expect(f.Purpose).To(Equal(openai.FileObjectPurposeBatch))
	g.Expect(f.Bytes).To(Equal(int64(len(content))))
	// Deprecated in the SDK, but OpenAI still sends it, so the emulator must too.
	g.Expect(f.Status).To(Equal(openai.FileObjectStatusProcessed)) //nolint:staticcheck // see above
	g.Expect(f.ExpiresAt).To(BeNumerically(">=", f.CreatedAt), "batch files expire (after 30 days, scaled)")

	got, err := c.Files.Get(ctx, f.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.ID).To(Equal(f.ID))
	g.Expect(got.Bytes).To(Equal(f.Bytes))

	resp, err := c.Files.Content(ctx, f.ID)
	g.Expect(err).NotTo(HaveOccurred())
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	g.Expect(string(raw)).To(Equal(content))

	del, err := c.Files.Delete(ctx, f.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(del.ID).To(Equal(f.ID))
	g.Expect(del.Deleted).To(BeTrue())

	_, err = c.Files.Get(ctx, f.ID, option.WithMaxRetries(0))
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))
	_, err = c.Files.Delete(ctx, f.ID, option.WithMaxRetries(0))
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))

	g.Expect(srv.Calls("files.create")).To(Equal(int64(1)))
	g.Expect(srv.Calls("files.retrieve")).To(Equal(int64(2)))
	g.Expect(srv.Calls("files.content")).To(Equal(int64(1)))
	g.Expect(srv.Calls("files.delete")).To(Equal(int64(2)))
}

func TestFilesListPaginatesNewestFirstAndFiltersByPurpose(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)

	var ids []string
	for i := range 5 {
		f := upload(ctx, g, c, "f"+string(rune('a'+i))+".jsonl", "{}\n")
		ids = append(ids, f.ID)
	}
	other, err := c.Files.New(ctx, openai.FileNewParams{
		File: openai.File(strings.NewReader("hello"), "notes.txt", "text/plain"), Purpose: openai.FilePurposeUserData,
	})
	g.Expect(err).NotTo(HaveOccurred())

	var seen []string
	pager := c.Files.ListAutoPaging(ctx, openai.FileListParams{Purpose: openai.String("batch"), Limit: openai.Int(2)})
	for pager.Next() {
		seen = append(seen, pager.Current().ID)
	}
	g.Expect(pager.Err()).NotTo(HaveOccurred())
	g.Expect(seen).To(Equal([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}))
	g.Expect(srv.Calls("files.list")).To(Equal(int64(3)), "three pages of at most two")

	page, err := c.Files.List(ctx, openai.FileListParams{Order: openai.FileListParamsOrderAsc})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Data).To(HaveLen(6))
	g.Expect(page.Data[0].ID).To(Equal(ids[0]))
	g.Expect(page.Data[5].ID).To(Equal(other.ID))
	g.Expect(page.HasMore).To(BeFalse())
}

func TestFilesUploadRefusals(t *testing.T) {
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))
	tests := map[string]struct {
		params    openai.FileNewParams
		wantParam string
	}{
		"batch file without .jsonl": {
			params: openai.FileNewParams{File: openai.File(strings.NewReader("{}"), "input.txt", "text/plain"), Purpose: openai.FilePurposeBatch},
		},
		"unknown purpose": {
			params:    openai.FileNewParams{File: openai.File(strings.NewReader("{}"), "input.jsonl", "text/plain"), Purpose: "nonsense"},
			wantParam: "purpose",
		},
		"expiry too short": {
			params: openai.FileNewParams{
				File: openai.File(strings.NewReader("{}"), "input.jsonl", "text/plain"), Purpose: openai.FilePurposeBatch,
				ExpiresAfter: openai.FileNewParamsExpiresAfter{Seconds: 60},
			},
			wantParam: "expires_after.seconds",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := c.Files.New(context.Background(), tc.params)
			aerr := apiError(g, err)
			g.Expect(aerr.StatusCode).To(Equal(http.StatusBadRequest))
			g.Expect(aerr.Type).To(Equal("invalid_request_error"))
			g.Expect(aerr.Param).To(Equal(tc.wantParam))
		})
	}
}

func TestFilesExpireAfterExpiresAfter(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// 3600 s scaled by 0.0001 is 360 ms.
	srv := start(t, emulator.Options{TimeScale: 0.0001})
	c := client(srv, option.WithMaxRetries(0))
	f, err := c.Files.New(ctx, openai.FileNewParams{
		File: openai.File(strings.NewReader("{}\n"), "input.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch,
		ExpiresAfter: openai.FileNewParamsExpiresAfter{Seconds: 3600},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.ExpiresAt).To(BeNumerically(">=", f.CreatedAt))
	g.Expect(f.ExpiresAt).To(BeNumerically("<=", f.CreatedAt+1))

	g.Eventually(func() int {
		_, err := c.Files.Get(ctx, f.ID)
		if err == nil {
			return http.StatusOK
		}
		return apiError(g, err).StatusCode
	}).WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(http.StatusNotFound))
}

// A call counts in Stats.Calls when it reaches its handler; in Stats.Succeeded only
// when it was answered 2xx. An upload whose caller died while sending it (its body cut
// off) made no file: Calls counts it, Succeeded does not.
func TestStatsCountOnlyAnsweredCallsAsSucceeded(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{})
	ctx := context.Background()
	c := client(srv)
	upload(ctx, g, c, "whole.jsonl", jsonl(req("a", "/v1/chat/completions", chatBody("gpt-4o-mini", "hi"))))

	// A multipart upload that announces more bytes than it sends, then hangs up.
	body := "--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.jsonl\"\r\n\r\n{\"custom_id\":"
	conn, err := net.Dial("tcp", srv.Addr())
	g.Expect(err).NotTo(HaveOccurred())
	_, err = fmt.Fprintf(conn, "POST /v1/files HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s",
		srv.Addr(), emulator.DefaultAPIKey, len(body)+4096, body)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() int64 { return srv.Stats().Calls[emulator.OpFilesCreate] }).
		WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(int64(2)))
	g.Expect(conn.Close()).To(Succeed())

	// Counted once as a call, never as a success, once the handler has seen the cut.
	g.Consistently(func() [2]int64 {
		st := srv.Stats()
		return [2]int64{st.Calls[emulator.OpFilesCreate], st.Succeeded[emulator.OpFilesCreate]}
	}).WithTimeout(300 * time.Millisecond).Should(Equal([2]int64{2, 1}))
	files, err := c.Files.List(ctx, openai.FileListParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(files.Data).To(HaveLen(1), "the cut-off upload made no file")

	// A lost answer: the work is done, the caller never hears of it; it succeeded.
	g.Expect(srv.Inject(emulator.Injection{Op: emulator.OpFilesCreate, Fault: emulator.FaultLostAnswer, Count: 1})).To(Succeed())
	_, err = c.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader(jsonl(req("b", "/v1/chat/completions", chatBody("gpt-4o-mini", "hi")))), "lost.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	}, option.WithMaxRetries(0))
	g.Expect(err).To(HaveOccurred())
	g.Expect(srv.Stats().Succeeded[emulator.OpFilesCreate]).To(Equal(int64(2)))
	g.Expect(srv.Stats().Calls[emulator.OpFilesCreate]).To(Equal(int64(3)))
}
