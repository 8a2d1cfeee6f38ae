package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
)

// CacheMemPoint is the heap an informer cache of submitted OpenAIBatch objects holds, with
// and without dropping their inline requests, measured side by side in one process.
type CacheMemPoint struct {
	// RequestBytes is the size of each object's inline request body.
	RequestBytes int `json:"requestBytes"`
	// Objects is how many submitted batches the namespace holds.
	Objects int `json:"objects"`
	// KeepMiBPer1000 is the cache's heap per 1,000 objects with managedFields stripped
	// only (the manager's cache before inline requests were dropped).
	KeepMiBPer1000 float64 `json:"keepMiBPer1000"`
	// DropMiBPer1000 is the same with the manager's CacheOptions (requests dropped).
	DropMiBPer1000 float64 `json:"dropMiBPer1000"`
	// Rounds is how many times each cache was measured (alternating, each round less the
	// heap of a cache of an empty namespace); the figures are medians.
	Rounds int `json:"rounds"`
}

// FillSubmittedBatches creates n OpenAIBatch objects in namespace ns, each with one inline
// request of about size bytes and a status showing a batch id (submitted, in progress).
func FillSubmittedBatches(ctx context.Context, c client.Client, ns string, n, size int) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	pad := strings.Repeat("x", max(size-60, 1))
	var next atomic.Int64
	var first error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				b := &openaiv1alpha1.OpenAIBatch{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("b-%06d", i)},
					Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
				}
				b.Spec.Input.Requests = []openaiv1alpha1.BatchRequest{{CustomID: "r0",
					Body: kruntime.RawExtension{Raw: fmt.Appendf(nil, `{"model":"text-embedding-3-small","input":%q}`, pad)}}}
				err := c.Create(ctx, b)
				if err == nil {
					b.Status.Phase = openaiv1alpha1.BatchPhaseInProgress
					b.Status.BatchID = fmt.Sprintf("batch_%06d", i)
					err = c.Status().Update(ctx, b)
				}
				if err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// CacheHeap measures the heap an informer cache of the OpenAIBatch objects in ns holds
// once synced, with opts; the cache is stopped before it returns.
func CacheHeap(ctx context.Context, cfg *rest.Config, scheme *kruntime.Scheme, ns string, opts cache.Options) (uint64, error) {
	opts.Scheme = scheme
	opts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	before := heapAfterGC()
	c, err := cache.New(cfg, opts)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := c.GetInformer(ctx, &openaiv1alpha1.OpenAIBatch{}); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	syncCtx, syncCancel := context.WithTimeout(ctx, 5*time.Minute)
	defer syncCancel()
	if !c.WaitForCacheSync(syncCtx) {
		return 0, fmt.Errorf("the cache did not sync")
	}
	after := heapAfterGC()
	// Keep the cache reachable until measured.
	list := &openaiv1alpha1.OpenAIBatchList{}
	if err := c.List(ctx, list, client.Limit(1)); err != nil {
		return 0, err
	}
	cancel()
	if err := <-done; err != nil {
		return 0, err
	}
	if after < before {
		return 0, nil
	}
	return after - before, nil
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// MeasureCacheMem fills a namespace with n submitted batches of size-byte requests and
// measures the cache's heap with requests kept and dropped, alternating, rounds times each.
func MeasureCacheMem(
	ctx context.Context,
	cfg *rest.Config,
	c client.Client,
	scheme *kruntime.Scheme,
	ns string,
	n, size, rounds int,
) (CacheMemPoint, error) {
	if err := FillSubmittedBatches(ctx, c, ns, n, size); err != nil {
		return CacheMemPoint{}, fmt.Errorf("creating %d batches: %w", n, err)
	}
	empty := ns + "-empty"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: empty}}); err != nil {
		return CacheMemPoint{}, err
	}
	keepOpts := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	var keep, drop []float64
	for range rounds {
		// A cache of an empty namespace is the fixed cost, subtracted from both.
		base, err := CacheHeap(ctx, cfg, scheme, empty, keepOpts)
		if err != nil {
			return CacheMemPoint{}, err
		}
		k, err := CacheHeap(ctx, cfg, scheme, ns, keepOpts)
		if err != nil {
			return CacheMemPoint{}, err
		}
		d, err := CacheHeap(ctx, cfg, scheme, ns, controllers.CacheOptions(nil, nil))
		if err != nil {
			return CacheMemPoint{}, err
		}
		keep = append(keep, float64(k)-float64(base))
		drop = append(drop, float64(d)-float64(base))
	}
	per1000 := func(v []float64) float64 { return Median(v) / (1 << 20) / float64(n) * 1000 }
	return CacheMemPoint{RequestBytes: size, Objects: n, KeepMiBPer1000: per1000(keep), DropMiBPer1000: per1000(drop), Rounds: rounds}, nil
}
