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

package receiver

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// indexedStore returns the store of a real, unstarted controller-runtime cache's
// OpenAIBatch informer, with the routing index registered by register.
func indexedStore(tb testing.TB, register func(cache.Cache) error) toolscache.Indexer {
	tb.Helper()
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, kind := range []string{"OpenAIBatch", "OpenAIResponse", "OpenAIFineTuningJob"} {
		mapper.Add(openaiv1alpha1.GroupVersion.WithKind(kind), meta.RESTScopeNamespace)
	}
	// Never contacted: the cache is not started, and the mapper is static.
	c, err := cache.New(&rest.Config{Host: "http://127.0.0.1:1"}, cache.Options{Scheme: testenv.Scheme, Mapper: mapper})
	if err != nil {
		tb.Fatal(err)
	}
	if err := register(c); err != nil {
		tb.Fatal(err)
	}
	informer, err := c.GetInformer(context.Background(), &openaiv1alpha1.OpenAIBatch{})
	if err != nil {
		tb.Fatal(err)
	}
	return informer.(toolscache.SharedIndexInformer).GetIndexer()
}

// routedBatches are n batches as the receiver caches them (StripForRouting), spread
// over 50 namespaces.
func routedBatches(n int) []client.Object {
	out := make([]client.Object, n)
	for i := range out {
		b := &openaiv1alpha1.OpenAIBatch{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("team-%02d", i%50), Name: fmt.Sprintf("nightly-%06d", i),
				UID: types.UID(fmt.Sprintf("6a448c01-0219-459e-9495-%012d", i)), ResourceVersion: fmt.Sprint(1000 + i)},
			Status: openaiv1alpha1.OpenAIBatchStatus{BatchID: fmt.Sprintf("batch_%032x", i)},
		}
		stripped, _ := StripForRouting(b)
		out[i] = stripped.(client.Object)
	}
	return out
}

// BenchmarkRoutingIndexMemory measures what the routing index by OpenAI batch id costs
// per cached object, side by side: controller-runtime's IndexField (a value under the
// object's namespace and one for all namespaces) and AddIndexes (the all-namespaces
// value alone). Both index the same 20,000 stripped batches in the store of a real
// controller-runtime informer; "index-B/object" is the heap the index keeps (live heap
// after a GC, less the same store without an index), "lookup" checks that the index
// answers the receiver's List.
func BenchmarkRoutingIndexMemory(b *testing.B) {
	const n = 20000
	objs := routedBatches(n)
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	fill := func(register func(cache.Cache) error) (toolscache.Indexer, uint64) {
		before := live()
		store := indexedStore(b, register)
		for _, o := range objs {
			if err := store.Add(o); err != nil {
				b.Fatal(err)
			}
		}
		return store, live() - before
	}
	for _, variant := range []struct {
		name     string
		register func(cache.Cache) error
	}{
		{"IndexField", func(c cache.Cache) error {
			return c.IndexField(context.Background(), &openaiv1alpha1.OpenAIBatch{}, IndexBatchID, batchIDOf)
		}},
		{"AddIndexes", func(c cache.Cache) error { return AddIndexes(context.Background(), c) }},
	} {
		b.Run(variant.name, func(b *testing.B) {
			var perObject float64
			for b.Loop() {
				_, bare := fill(func(cache.Cache) error { return nil })
				store, indexed := fill(variant.register)
				perObject = (float64(indexed) - float64(bare)) / n
				hits, err := store.ByIndex(fieldIndexPrefix+IndexBatchID, allNamespacesPrefix+fmt.Sprintf("batch_%032x", n/2))
				if err != nil || len(hits) != 1 {
					b.Fatalf("lookup of one batch id: %d hits, %v", len(hits), err)
				}
				runtime.KeepAlive(store)
			}
			b.ReportMetric(perObject, "index-B/object")
		})
	}
}
