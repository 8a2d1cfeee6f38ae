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

package watchfilter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// TestCacheFillsThroughTheFilterFromARealAPIServer starts a controller-runtime cache
// whose HTTP client has the filter, with no transform, on a real API server: its initial
// stream (a watch-list, gzip-encoded by the server) and later events must arrive without
// managedFields, and each cached object must be the server's object less them.
func TestCacheFillsThroughTheFilterFromARealAPIServer(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const ns, n = "default", 20
	status := func(i int) []byte {
		return fmt.Appendf(nil, `{"status":{"phase":"InProgress","batchID":"batch_%d","conditions":[{"type":"Submitted","status":"True","reason":"Accepted","message":"OpenAI accepted batch batch_%d","lastTransitionTime":"2026-12-02T00:00:00Z"}]}}`, i, i)
	}
	create := func(i int) {
		t.Helper()
		b := &openaiv1alpha1.OpenAIBatch{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("b-%02d", i)},
			Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
		}
		b.Spec.Input.Requests = []openaiv1alpha1.BatchRequest{{CustomID: "r0", Body: runtime.RawExtension{Raw: []byte(`{"input":"x","metadata":{"managedFields":[]}}`)}}}
		if err := env.Client.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Status().Patch(ctx, b, client.RawPatch(types.MergePatchType, status(i)), client.FieldOwner("openai-operator")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		create(i)
	}

	hc, err := HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	seen := &watchRecorder{next: hc.Transport} // what the filter hands up
	hc.Transport = seen
	c, err := cache.New(env.Config, cache.Options{Scheme: testenv.Scheme, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if _, err := c.GetInformer(ctx, &openaiv1alpha1.OpenAIBatch{}); err != nil { // starts it
		t.Fatal(err)
	}
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache never synced")
	}
	create(n) // one more, which arrives as a watch event once the cache has synced

	var fromServer openaiv1alpha1.OpenAIBatchList
	if err := env.Client.List(ctx, &fromServer, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(fromServer.Items) != n+1 {
		t.Fatalf("the API server has %d batches, want %d", len(fromServer.Items), n+1)
	}
	for _, want := range fromServer.Items {
		if len(want.ManagedFields) == 0 {
			t.Fatalf("%s has no managedFields on the API server", want.Name)
		}
		want.ManagedFields = nil
		var got openaiv1alpha1.OpenAIBatch
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := c.Get(ctx, client.ObjectKeyFromObject(&want), &got)
			if err == nil && got.ResourceVersion == want.ResourceVersion {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached the cache at resourceVersion %s (last error %v)", want.Name, want.ResourceVersion, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		got.TypeMeta = want.TypeMeta
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cached %s differs from the API server's less managedFields:\n got %+v\nwant %+v", want.Name, got, want)
		}
	}
	if watches, left := seen.counts(); watches == 0 || left > 0 {
		t.Fatalf("%d watch responses read through the filter, %d events in them with managedFields left", watches, left)
	}
}

// watchRecorder records what the filter below it hands up for watch requests. (The
// batches' request bodies name metadata and managedFields too: only the objects' own
// count.)
type watchRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	bufs []*bytes.Buffer
}

func (r *watchRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil || req.URL.Query().Get("watch") != "true" {
		return resp, err
	}
	buf := &bytes.Buffer{}
	r.mu.Lock()
	r.bufs = append(r.bufs, buf)
	r.mu.Unlock()
	resp.Body = teeCloser{Reader: io.TeeReader(resp.Body, &lockedWriter{mu: &r.mu, w: buf}), Closer: resp.Body}
	return resp, nil
}

// counts returns the watch responses read and the events in them whose object still had
// managedFields.
func (r *watchRecorder) counts() (watches, withManagedFields int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bufs {
		if b.Len() == 0 {
			continue
		}
		watches++
		for _, line := range bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n")) {
			var event struct {
				Object struct {
					Metadata map[string]json.RawMessage `json:"metadata"`
				} `json:"object"`
			}
			if err := json.Unmarshal(line, &event); err != nil {
				panic(fmt.Sprintf("a watch line that is not JSON: %q", line))
			}
			if _, found := event.Object.Metadata["managedFields"]; found {
				withManagedFields++
			}
		}
	}
	return watches, withManagedFields
}

type teeCloser struct {
	io.Reader
	io.Closer
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
