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

package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/emulator"
)

// The bound on API calls under faults, per resource: three times the calls a resource
// needs when nothing fails (a batch: upload, create, one read, delete of the input; a
// response: create, one read).
const (
	minBatchCalls    = 4
	minResponseCalls = 2
	callBoundFactor  = 3
	// maxCallsPerObject bounds the calls about any single object or resource.
	maxCallsPerObject = 25
)

// The emulator's fault knobs in this test: the share of calls answered 429 (with
// Retry-After faultRetryAfter) and 500.
const (
	faultRetryAfter = time.Second
	faultRateLimit  = 0.2
	faultServerErr  = 0.05
)

// TestAPIFaultsCompleteWithinBoundedCalls runs batches and background responses while
// the API answers 20% of calls with 429 (Retry-After: 1s) and 5% with 500. Everything
// completes, and the total number of API calls stays within the stated bound:
// callBoundFactor times what the resources need without faults. No single object sees
// more than maxCallsPerObject calls. The calls made before a 429's Retry-After had passed
// are counted and reported (see TestRateLimitedCallWaitsForRetryAfter). The manager and
// the receiver run in process.
func TestAPIFaultsCompleteWithinBoundedCalls(t *testing.T) {
	t.Parallel()
	rec := record(t)
	e := apiServer(t)
	c := e.Client
	ns := newNamespace(t, c, "faults-")
	r := rng(t)
	em, err := emulator.Start(emulator.Options{TimeScale: 0.05, Seed: r.Int64N(1<<40) + 1, Faults: emulator.Faults{
		RateLimitRate: faultRateLimit, ServerErrorRate: faultServerErr, RetryAfter: faultRetryAfter,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(em.Close)
	em.AddWebhookURL(runReceiver(t, e, ns, em.WebhookSecret()))
	log := &callLog{next: http.DefaultTransport.(*http.Transport).Clone()}
	opts := testOptions()
	runManager(t, e, ns, em.URL(), &http.Client{Transport: log}, opts)
	tr := track(t, e.Config, ns)

	nb, nr := size.faultBatches, size.faultResponses
	objs := make([]client.Object, 0, nb+nr)
	for i := range nb {
		objs = append(objs, newBatch(ns, fmt.Sprintf("batch-%03d", i), 3))
	}
	for i := range nr {
		objs = append(objs, newResponse(ns, fmt.Sprintf("response-%03d", i)))
	}
	start := time.Now()
	createAll(t, c, objs)
	// Every 429 holds all calls of the project for its Retry-After (the project gate),
	// and the emulator answers a fifth of the calls 429 at random, not for load: the
	// work is paced by the holds. The full size took 8m30s of its 8m40s here once the
	// gate was in (run 20261201T125022Z-8951ee95f5ef), so each resource is given one
	// Retry-After more. That run's gate still doubled its wait for every 429 of the calls
	// in flight; since it counts them as one, the full size took 6m35s (run
	// 20261201T163555Z-1292160f6144), well inside this bound.
	took := waitComplete(t, c, ns, nb+nr, 2*time.Minute+time.Duration(nb+nr)*(time.Second+faultRetryAfter))
	tr.completedOnce(t, nb+nr)

	stats := em.Stats()
	total := sumCalls(stats)
	// The faults are injected before the emulator acts: OpenAI holds exactly one batch
	// per resource. (Responses cannot be listed; a create that got a 500 is made again,
	// with a PossibleDuplicate Warning, and is counted below.)
	em.SetFaults(emulator.Faults{})
	api := openai.NewClient(option.WithBaseURL(em.URL()), option.WithAPIKey(emulator.DefaultAPIKey), option.WithMaxRetries(0))
	checkBatchesOnOpenAI(t, api, c, ns, nb)
	perResource := batchesPerResource(t, api, c, ns)
	reasons := eventReasons(t, c, ns)
	bound := int64(callBoundFactor * (minBatchCalls*nb + minResponseCalls*nr))
	if total > bound {
		t.Errorf("%d API calls for %d batches and %d responses, above the bound of %d", total, nb, nr, bound)
	}
	calls := log.snapshot()
	if int64(len(calls)) != total {
		t.Logf("the manager made %d calls; the emulator counted %d", len(calls), total)
	}

	// Per object: how many calls, and whether a 429 was honoured.
	perObject := map[string]int{}
	last := map[string]apiCall{}
	var early []string
	for _, call := range calls {
		if call.object == "" {
			continue
		}
		key := call.op + " " + call.object
		perObject[key]++
		if prev, ok := last[key]; ok && prev.status == http.StatusTooManyRequests {
			// Allow for the clock granularity of the requeue.
			if gap := call.at.Sub(prev.at); gap < faultRetryAfter-50*time.Millisecond {
				early = append(early, fmt.Sprintf("%s %s after %s", call.op, call.object, gap.Round(time.Millisecond)))
			}
		}
		last[key] = call
	}
	if len(early) > 0 {
		t.Errorf("%d calls came before the Retry-After of a 429 had passed, e.g. %v", len(early), early[:min(5, len(early))])
	}
	counts := make([]int, 0, len(perObject))
	for key, n := range perObject {
		counts = append(counts, n)
		if n > maxCallsPerObject {
			t.Errorf("%d calls of %s, above the bound of %d", n, key, maxCallsPerObject)
		}
	}
	sort.Ints(counts)
	byOp := map[string]int{}
	for _, call := range calls {
		byOp[call.op]++
	}

	rec.setup("batches (3 requests each) + responses", fmt.Sprintf("%d + %d", nb, nr))
	rec.setup("faults", fmt.Sprintf("%.0f%% 429 (Retry-After %s), %.0f%% 500", 100*faultRateLimit, faultRetryAfter, 100*faultServerErr))
	rec.setup("stated bound", fmt.Sprintf("%d = %d x (%d x batches + %d x responses)", bound, callBoundFactor, minBatchCalls, minResponseCalls))
	rec.add("API calls (emulator count)", total)
	rec.add("calls per resource (average)", fmt.Sprintf("%.2f", float64(total)/float64(nb+nr)))
	rec.add("429 / 500 answers", fmt.Sprintf("%d / %d", stats.Faults.RateLimited, stats.Faults.ServerErrors))
	rec.add("calls by operation", fmt.Sprint(byOp))
	if len(counts) > 0 {
		rec.add(
			"calls per object and operation: median / max",
			fmt.Sprintf("%d / %d (bound %d)", counts[len(counts)/2], counts[len(counts)-1], maxCallsPerObject),
		)
	}
	rec.add("calls before Retry-After passed", len(early))
	rec.add(
		"batches.create / responses.create calls (faulted ones included)",
		fmt.Sprintf("%d / %d", stats.Calls[emulator.OpBatchesCreate], stats.Calls[emulator.OpResponsesCreate]),
	)
	rec.add("batches on OpenAI per OpenAIBatch: min / max", fmt.Sprintf("%d / %d", perResource[0], perResource[1]))
	rec.add("responses created again after a 500 (PossibleDuplicate Warnings)", reasons["PossibleDuplicate"])
	rec.add("time to all Complete", took)
	recordRestamped(rec, tr)
	rec.add("duration", time.Since(start))
}

// TestRateLimitedCallWaitsForRetryAfter answers every API call with 429 and
// Retry-After: 2s for a while, and checks that the manager never calls about the same
// object again before those 2 seconds have passed: not after the status write of the
// rate-limited pass (phase Submitting, the input file id), whose watch event could
// start a pass at once, and not on a spec edit made meanwhile.
func TestRateLimitedCallWaitsForRetryAfter(t *testing.T) {
	t.Parallel()
	const retryAfter = 2 * time.Second
	e := apiServer(t)
	c := e.Client
	cases := map[string]struct {
		obj func(ns string) client.Object
	}{
		"batch":    {obj: func(ns string) client.Object { return newBatch(ns, "limited", 1) }},
		"response": {obj: func(ns string) client.Object { return newResponse(ns, "limited") }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t, c, "retry-after-")
			em, err := emulator.Start(emulator.Options{TimeScale: 0.05, Faults: emulator.Faults{RateLimitRate: 1, RetryAfter: retryAfter}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(em.Close)
			log := &callLog{next: http.DefaultTransport.(*http.Transport).Clone()}
			runManager(t, e, ns, em.URL(), &http.Client{Transport: log}, testOptions())
			createAll(t, c, []client.Object{tc.obj(ns)})

			// Watch the calls for a few Retry-After periods; halfway through the first
			// wait, edit the spec (a new generation starts a pass at once).
			obj := tc.obj(ns)
			time.Sleep(retryAfter / 2)
			patch := []byte(`{"spec":{"cancelOnDelete":false}}`)
			if err := c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
				t.Fatalf("editing the spec: %v", err)
			}
			for end := time.Now().Add(3 * retryAfter); time.Now().Before(end); {
				time.Sleep(100 * time.Millisecond)
			}
			calls := log.snapshot()
			if len(calls) == 0 {
				t.Fatal("the manager made no API call")
			}
			for i := 1; i < len(calls); i++ {
				if gap := calls[i].at.Sub(calls[i-1].at); calls[i-1].status == http.StatusTooManyRequests && gap < retryAfter-50*time.Millisecond {
					t.Errorf("call %d (%s) came %s after a 429 with Retry-After %s", i+1, calls[i].op, gap.Round(time.Millisecond), retryAfter)
				}
			}
			em.SetFaults(emulator.Faults{})
			waitComplete(t, c, ns, 1, time.Minute)
		})
	}
}

// testOptions are the manager's defaults with every interval scaled down like
// fastPolls.
func testOptions() controllers.Options {
	opts := controllers.DefaultOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = 500*time.Millisecond, 3*time.Second
	opts.WebhookPollIntervalMin, opts.WebhookPollIntervalMax = 2*time.Second, 10*time.Second
	opts.RetryInterval, opts.DeletionTimeout = 500*time.Millisecond, 5*time.Second
	return opts
}
