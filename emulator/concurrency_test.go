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
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/openai-operator/openai-operator/emulator"
)

// Thousands of batches and responses created in parallel all reach a terminal state and
// each is announced exactly once.
func TestConcurrentBatchesAndResponsesAllFinish(t *testing.T) {
	const (
		nBatches   = 1000
		nResponses = 1000
		workers    = 16
	)
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	rc := newReceiver(t, srv.WebhookSecret())
	srv.AddWebhookURL(rc.URL())
	c := client(srv)
	const url = "/v1/embeddings"
	input := upload(ctx, g, c, "in.jsonl", jsonl(
		req("a", url, map[string]any{"model": "m", "input": "x"}),
		req("b", url, map[string]any{"model": "m", "input": "y"}),
	))

	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
	)
	began := time.Now()
	jobs := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				var id string
				var err error
				if i < nBatches {
					var b *openai.Batch
					b, err = c.Batches.New(ctx, openai.BatchNewParams{InputFileID: input.ID, Endpoint: url, CompletionWindow: "24h"})
					if err == nil {
						id = b.ID
					}
				} else {
					var r *responses.Response
					r, err = c.Responses.New(ctx, background("gpt-5", "x"))
					if err == nil {
						id = r.ID
					}
				}
				if err != nil {
					t.Errorf("creating object %d: %v", i, err)
					continue
				}
				mu.Lock()
				ids[id] = true
				mu.Unlock()
			}
		})
	}
	for i := range nBatches + nResponses {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("created in %v", time.Since(began))
	g.Expect(ids).To(HaveLen(nBatches + nResponses))

	// Every object is announced exactly once, as completed.
	g.Eventually(func() int { return len(rc.deliveries()) }).WithTimeout(60 * time.Second).WithPolling(50 * time.Millisecond).
		Should(Equal(nBatches + nResponses))
	t.Logf("announced after %v", time.Since(began))
	announced := map[string]bool{}
	for _, d := range rc.deliveries() {
		g.Expect(d.verifyErr).NotTo(HaveOccurred())
		g.Expect(d.eventType).To(BeElementOf("batch.completed", "response.completed"))
		g.Expect(announced).NotTo(HaveKey(d.dataID))
		announced[d.dataID] = true
	}
	g.Expect(announced).To(Equal(ids))

	// The API agrees.
	n := 0
	pager := c.Batches.ListAutoPaging(ctx, openai.BatchListParams{Limit: openai.Int(100)})
	for pager.Next() {
		b := pager.Current()
		g.Expect(b.Status).To(Equal(openai.BatchStatusCompleted))
		g.Expect(b.RequestCounts.Completed).To(Equal(int64(2)))
		n++
	}
	g.Expect(pager.Err()).NotTo(HaveOccurred())
	g.Expect(n).To(Equal(nBatches))
}
