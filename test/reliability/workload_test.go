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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// fastPolls make the manager poll soon, so that polling-driven recovery fits in a test:
// both schedules, the one before a project's webhooks arrive and the safety net after
// (by default 15 s to 10 min, and 10 min to 6 h), are scaled down like the emulator's
// lifecycles.
var fastPolls = []string{
	"--poll-interval-min=500ms", "--poll-interval-max=3s",
	"--webhook-poll-interval-min=2s", "--webhook-poll-interval-max=10s",
	"--retry-interval=500ms",
}

// newBatch builds an OpenAIBatch of n inline embedding requests.
func newBatch(ns, name string, n int) *openaiv1alpha1.OpenAIBatch {
	b := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
	}
	for i := range n {
		body := fmt.Sprintf(`{"model":"text-embedding-3-small","input":"%s document %d"}`, name, i)
		b.Spec.Input.Requests = append(b.Spec.Input.Requests, openaiv1alpha1.BatchRequest{
			CustomID: fmt.Sprintf("req-%d", i), Body: runtime.RawExtension{Raw: []byte(body)},
		})
	}
	return b
}

// newResponse builds a background OpenAIResponse.
func newResponse(ns, name string) *openaiv1alpha1.OpenAIResponse {
	return &openaiv1alpha1.OpenAIResponse{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: openaiv1alpha1.OpenAIResponseSpec{
			Model: "gpt-5-mini", Input: openaiv1alpha1.ResponseInput{Text: "Summarise " + name},
		},
	}
}

// createStream creates objs one after the other, one every interval, and returns a
// channel closed when all are created. Errors fail the test.
func createStream(t *testing.T, c client.Client, objs []client.Object, interval time.Duration) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := time.Now()
		for _, o := range objs {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(interval)
			if err := createWithRetry(c, o); err != nil {
				t.Errorf("creating %s: %v", o.GetName(), err)
				return
			}
		}
	}()
	return done
}

// createAll creates objs with a few workers.
func createAll(t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan client.Object)
	for range 8 {
		wg.Go(func() {
			for o := range work {
				if err := createWithRetry(c, o); err != nil {
					t.Errorf("creating %s: %v", o.GetName(), err)
				}
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
}

// createWithRetry creates o, retrying for a while if the API server is briefly away.
func createWithRetry(c client.Client, o client.Object) error {
	var err error
	for attempt := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = c.Create(ctx, o)
		cancel()
		if err == nil || strings.Contains(err.Error(), "already exists") {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	return err
}

// progress counts the resources of a namespace by outcome.
type progress struct {
	total, complete, failed int
	phases                  map[string]int
	failures                []string
}

func (p progress) String() string {
	keys := make([]string, 0, len(p.phases))
	for k := range p.phases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, p.phases[k]))
	}
	return fmt.Sprintf("%d resources, %d complete, %d failed; phases %s", p.total, p.complete, p.failed, strings.Join(parts, " "))
}

// readProgress lists the OpenAIBatch and OpenAIResponse resources of ns.
func readProgress(c client.Client, ns string) (progress, error) {
	p := progress{phases: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var batches openaiv1alpha1.OpenAIBatchList
	if err := c.List(ctx, &batches, client.InNamespace(ns)); err != nil {
		return p, err
	}
	var responses openaiv1alpha1.OpenAIResponseList
	if err := c.List(ctx, &responses, client.InNamespace(ns)); err != nil {
		return p, err
	}
	count := func(name, phase string, conds []metav1.Condition) {
		p.total++
		p.phases[phase]++
		if meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionComplete) {
			p.complete++
		}
		if c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionFailed); c != nil && c.Status == metav1.ConditionTrue {
			p.failed++
			if len(p.failures) < 5 {
				p.failures = append(p.failures, name+": "+c.Message)
			}
		}
	}
	for _, b := range batches.Items {
		count("OpenAIBatch "+b.Name, string(b.Status.Phase), b.Status.Conditions)
	}
	for _, r := range responses.Items {
		count("OpenAIResponse "+r.Name, string(r.Status.Phase), r.Status.Conditions)
	}
	return p, nil
}

// waitComplete waits until want resources of ns are Complete, and fails the test if one
// fails or the timeout passes. It returns how long it waited.
func waitComplete(t *testing.T, c client.Client, ns string, want int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last progress
	for {
		p, err := readProgress(c, ns)
		if err == nil {
			last = p
			if p.failed > 0 {
				t.Fatalf("resources failed: %s: %v", p, p.failures)
			}
			if p.complete >= want {
				return time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s (want %d complete; last error %v)", timeout, last, want, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// eventReasons counts the Events of namespace ns by reason.
func eventReasons(t *testing.T, c client.Client, ns string) map[string]int {
	t.Helper()
	var list eventsv1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	out := map[string]int{}
	for _, e := range list.Items {
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		out[e.Reason] += n
	}
	return out
}

// batchesPerResource returns the fewest and the most batches OpenAI holds for one
// OpenAIBatch of ns.
func batchesPerResource(t *testing.T, api openai.Client, c client.Client, ns string) [2]int {
	t.Helper()
	remote := remoteBatches(t, api, ns)
	var list openaiv1alpha1.OpenAIBatchList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := [2]int{-1, 0}
	for _, b := range list.Items {
		n := len(remote[ns+"/"+b.Name+"/"+string(b.UID)])
		if out[0] < 0 || n < out[0] {
			out[0] = n
		}
		out[1] = max(out[1], n)
	}
	return out
}

// checkBatchesOnOpenAI checks that OpenAI holds exactly one batch per OpenAIBatch of ns,
// the one its status names.
func checkBatchesOnOpenAI(t *testing.T, api openai.Client, c client.Client, ns string, want int) {
	t.Helper()
	remote := remoteBatches(t, api, ns)
	if len(remote) != want {
		t.Errorf("OpenAI holds batches for %d resources, want %d", len(remote), want)
	}
	var list openaiv1alpha1.OpenAIBatchList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, b := range list.Items {
		tag := ns + "/" + b.Name + "/" + string(b.UID)
		got := remote[tag]
		if len(got) != 1 || got[0].ID != b.Status.BatchID {
			bad++
			if bad <= 10 {
				ids := make([]string, 0, len(got))
				for _, g := range got {
					ids = append(ids, g.ID)
				}
				t.Errorf("OpenAIBatch %s records %q; OpenAI holds %v for it", b.Name, b.Status.BatchID, ids)
			}
		}
	}
}
