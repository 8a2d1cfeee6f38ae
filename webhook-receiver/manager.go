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
	"crypto/tls"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/metricsauth"
	"github.com/openai-operator/openai-operator/internal/watchfilter"
)

// Scheme knows the built-in kinds and the project's API.
var Scheme = runtime.NewScheme()

func init() {
	mustAdd(clientgoscheme.AddToScheme(Scheme))
	mustAdd(openaiv1alpha1.AddToScheme(Scheme))
}

func mustAdd(err error) {
	if err != nil {
		panic(err)
	}
}

// ManagerOptions returns the controller-runtime manager options of the receiver: no
// leader election (every replica serves), a cache of OpenAIBatch, OpenAIResponse and
// OpenAIFineTuningJob stripped to what routing reads, the metrics (see metricsOptions)
// and the health probes.
func ManagerOptions(opts Options) ctrl.Options {
	opts = opts.withDefaults()
	// The receiver drains, then finishes its requests, before the manager gives up on it.
	graceful := opts.ShutdownTimeout() + 5*time.Second
	return ctrl.Options{
		GracefulShutdownTimeout: &graceful,
		Scheme:                  Scheme,
		Cache:                   CacheOptions(opts.Namespace),
		Metrics:                 metricsOptions(opts),
		HealthProbeBindAddress:  opts.HealthProbeBindAddress,
		PprofBindAddress:        opts.PprofBindAddress,
		LeaderElection:          false,
		Logger:                  opts.Logger,
	}
}

// metricsOptions serves the metrics as the manager does: over HTTPS (HTTP/1.1 only),
// to scrapers whose bearer token the API server authenticates and authorizes.
func metricsOptions(opts Options) metricsserver.Options {
	m := metricsserver.Options{BindAddress: opts.MetricsBindAddress}
	if opts.MetricsSecure {
		m.SecureServing = true
		m.FilterProvider = metricsauth.WithAuthenticationAndAuthorization
		m.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
		if opts.MetricsCertPath != "" {
			// controller-runtime serves these files through a certwatcher when they exist.
			m.CertDir, m.CertName, m.KeyName = opts.MetricsCertPath, opts.MetricsCertName, opts.MetricsCertKey
		}
	}
	return m
}

// NewManager returns a manager running the receiver, ready to Start.
func NewManager(cfg *rest.Config, opts Options) (manager.Manager, *Receiver, error) {
	if err := opts.withDefaults().validate(); err != nil {
		return nil, nil, err
	}
	mo := ManagerOptions(opts)
	// The cache's own HTTP client removes managedFields from watch events before they are
	// decoded (the cache would drop them after): most of a start is decoding, and they
	// are half of a small object's bytes.
	hc, err := watchfilter.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the cache's HTTP client: %w", err)
	}
	mo.Cache.HTTPClient = hc
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the manager: %w", err)
	}
	r, err := SetupWithManager(mgr, opts)
	if err != nil {
		return nil, nil, err
	}
	return mgr, r, nil
}

// SetupWithManager adds a receiver to mgr: its field indexes, its informer handlers,
// the webhook endpoint as a Runnable, and the health and readiness checks. The
// manager's cache should be configured with CacheOptions.
func SetupWithManager(mgr manager.Manager, opts Options) (*Receiver, error) {
	ctx := context.Background()
	if err := AddIndexes(ctx, mgr.GetCache()); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating a Kubernetes client: %w", err)
	}
	r, err := New(Deps{
		Cache:            mgr.GetCache(),
		APIReader:        mgr.GetAPIReader(),
		Client:           mgr.GetClient(),
		WaitForCacheSync: mgr.GetCache().WaitForCacheSync,
		Log:              mgr.GetLogger().WithName("webhook-receiver"),
		Kubernetes:       cs,
	}, opts)
	if err != nil {
		return nil, err
	}
	if err := r.WatchInformers(ctx, mgr.GetCache()); err != nil {
		return nil, fmt.Errorf("watching informers: %w", err)
	}
	if err := mgr.Add(r); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook-receiver", r.ReadyCheck); err != nil {
		return nil, err
	}
	return r, nil
}
