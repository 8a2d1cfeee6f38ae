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
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	corev1 "k8s.io/api/core/v1"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// WatchBatches calls fn, on one goroutine, with every OpenAIBatch of ns that a watch
// (as a user's `kubectl get -w` sees them) delivers from now on, and the time it
// arrived. It re-establishes the watch when the server closes it. Stop it with the
// returned function.
func (l *Lab) WatchBatches(ctx context.Context, ns string, fn func(b *openaiv1alpha1.OpenAIBatch, at time.Time)) (stop func(), err error) {
	return WatchBatches(ctx, l.Client, ns, fn)
}

// WatchBatches is Lab.WatchBatches with any client.
func WatchBatches(ctx context.Context, c client.WithWatch, ns string, fn func(b *openaiv1alpha1.OpenAIBatch, at time.Time)) (stop func(), err error) {
	list := &openaiv1alpha1.OpenAIBatchList{}
	if err := c.List(ctx, list, client.InNamespace(ns), client.Limit(1)); err != nil {
		return nil, err
	}
	rv := list.ResourceVersion
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	open := func() (watch.Interface, error) {
		return c.Watch(ctx, &openaiv1alpha1.OpenAIBatchList{}, &client.ListOptions{
			Namespace: ns, Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true},
		})
	}
	w, err := open()
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(done)
		for {
			for ev := range w.ResultChan() {
				at := time.Now()
				b, ok := ev.Object.(*openaiv1alpha1.OpenAIBatch)
				if !ok {
					continue
				}
				rv = b.ResourceVersion
				if ev.Type == watch.Added || ev.Type == watch.Modified {
					fn(b, at)
				}
			}
			if ctx.Err() != nil {
				return
			}
			for {
				if w, err = open(); err == nil {
					break
				}
				if sleep(ctx, 100*time.Millisecond) != nil {
					return
				}
			}
		}
	}()
	return func() {
		cancel()
		w.Stop()
		<-done
	}, nil
}

// isComplete reports whether b's Complete condition is True.
func isComplete(b *openaiv1alpha1.OpenAIBatch) bool {
	return meta.IsStatusConditionTrue(b.Status.Conditions, openaiv1alpha1.ConditionComplete)
}

// timeSet is a concurrency-safe map from a key to the first time it was set.
type timeSet struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func newTimeSet() *timeSet { return &timeSet{m: map[string]time.Time{}} }

// first records at under key unless a time is already recorded.
func (s *timeSet) first(key string, at time.Time) {
	s.mu.Lock()
	if _, ok := s.m[key]; !ok {
		s.m[key] = at
	}
	s.mu.Unlock()
}

func (s *timeSet) get(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[key]
	return t, ok
}

// count is how many of keys have a time.
func (s *timeSet) count(keys []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := s.m[k]; ok {
			n++
		}
	}
	return n
}

func (s *timeSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// CreateCredentials creates the openai-credentials Secret the controllers read in ns.
func (l *Lab) CreateCredentials(ctx context.Context, ns, apiKey string) error {
	return l.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: controllers.DefaultOptions().DefaultCredentialsSecret},
		StringData: map[string]string{"apiKey": apiKey},
	})
}

// StartControllers runs both reconcilers for ns, in-process, as the manager binary
// wires them (Secrets and ConfigMaps uncached, managedFields stripped from the cache,
// the OpenAI transport's idle connections sized by managerTransport), against the
// OpenAI API at baseURL. transport, when set, carries the OpenAI calls (to count them).
func (l *Lab) StartControllers(
	ctx context.Context,
	ns, baseURL string,
	transport http.RoundTripper,
	opts controllers.Options,
) (stop func(), err error) {
	mgr, err := ctrl.NewManager(l.Config, ctrl.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}},
			DefaultTransform: cache.TransformStripManagedFields()},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
	})
	if err != nil {
		return nil, err
	}
	if transport == nil {
		transport = managerTransport(opts)
	}
	factory := &openaiclient.Factory{BaseURL: baseURL, HTTPClient: &http.Client{Transport: transport},
		RequestTimeout: 2 * time.Minute, Observe: controllers.ObserveAPICall}
	if err := controllers.SetupWithManager(mgr, factory, opts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	syncCtx, syncCancel := context.WithTimeout(ctx, time.Minute)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		cancel()
		return nil, fmt.Errorf("the controllers' cache did not sync: %w", <-done)
	}
	return func() {
		cancel()
		<-done //nolint:errcheck // stopping after the measurements: the manager's error no longer matters
	}, nil
}

// managerTransport is the manager binary's OpenAI transport: Go's default, keeping two
// idle connections per concurrent reconcile and host.
func managerTransport(opts controllers.Options) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * opts.MaxConcurrentReconciles
	return tr
}

// retrieveCounter is an http.RoundTripper that counts batches.retrieve calls per batch
// id, to attribute polls to batches.
type retrieveCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	byID map[string]int
}

func newRetrieveCounter(opts controllers.Options) *retrieveCounter {
	return &retrieveCounter{base: managerTransport(opts), byID: map[string]int{}}
}

// RoundTrip counts GET /v1/batches/{id} and passes every request on.
func (c *retrieveCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		if i := strings.Index(req.URL.Path, "/v1/batches/"); i >= 0 {
			id := req.URL.Path[i+len("/v1/batches/"):]
			if id != "" && !strings.Contains(id, "/") {
				c.mu.Lock()
				c.byID[id]++
				c.mu.Unlock()
			}
		}
	}
	return c.base.RoundTrip(req)
}

func (c *retrieveCounter) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}
