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

package bench

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	_ "sigs.k8s.io/controller-runtime/pkg/metrics" // the work queues' metrics provider, as in the manager
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// BenchmarkWaitingQueueMemory measures the heap that a controller's work queue keeps
// per resource waiting for its next poll, for the two queues controller-runtime offers
// (controller.Options.UsePriorityQueue; the manager uses the default, the priority
// queue): every resource listed at a start goes through the
// queue once and is put back to wait an hour, as an in-flight batch's reconcile does.
// Reported as bytes per waiting resource (heap after a collection, minus the heap
// before the queue); both queues are measured in the same run.
func BenchmarkWaitingQueueMemory(b *testing.B) {
	const n = 20000
	keys := make([]reconcile.Request, n)
	for i := range keys {
		keys[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "fleet", Name: fmt.Sprintf("batch-%05d", i)}}
	}
	queues := map[string]func(name string) workqueue.TypedRateLimitingInterface[reconcile.Request]{
		"priority": func(name string) workqueue.TypedRateLimitingInterface[reconcile.Request] {
			return priorityqueue.New[reconcile.Request](name)
		},
		"plain": func(name string) workqueue.TypedRateLimitingInterface[reconcile.Request] {
			return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
				workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Name: name})
		},
	}
	for _, kind := range []string{"priority", "plain"} {
		b.Run(kind, func(b *testing.B) {
			var perItem float64
			for i := 0; i < b.N; i++ {
				before := liveHeap()
				q := queues[kind](fmt.Sprintf("%s-%d", kind, i))
				for _, k := range keys {
					q.Add(k)
				}
				for range keys {
					k, _ := q.Get()
					q.AddAfter(k, time.Hour)
					q.Done(k)
				}
				perItem = float64(liveHeap()-before) / n
				if q.Len() != 0 {
					b.Fatalf("%d resources still ready, want all waiting", q.Len())
				}
				q.ShutDown()
			}
			b.ReportMetric(perItem, "B/waiting")
		})
	}
}

func liveHeap() uint64 {
	// Let the queues' background loops settle what was just added.
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
