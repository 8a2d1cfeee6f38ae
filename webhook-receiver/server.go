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
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
)

// HTTP server limits. OpenAI's requests are small and it waits only a few seconds.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 20 * time.Second
	earlyWorkers      = 2
)

// Start serves the webhook endpoint until ctx ends, then shuts down gracefully:
// requests in flight finish (within a bound), new connections are refused. It also
// re-reads the signing secrets and applies and expires held events.
func (r *Receiver) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", r.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", r.opts.BindAddress, err)
	}
	addr := ln.Addr().String()
	r.addr.Store(&addr)
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      readTimeout + r.opts.WriteTimeout + 5*time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}

	// The background tasks outlive ctx until the endpoint has drained and shut down.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	if r.files != nil {
		wg.Go(func() { _ = r.files.Start(runCtx) })
	}
	if r.watch != nil {
		wg.Go(func() { _ = r.watch.Start(runCtx) })
		wg.Go(func() {
			if toolscache.WaitForCacheSync(runCtx.Done(), r.watch.HasSynced) {
				r.secretsChanged()
			}
		})
	}
	if r.deps.WaitForCacheSync != nil {
		wg.Go(func() {
			if r.deps.WaitForCacheSync(runCtx) {
				r.synced.Store(true)
				r.log.Info("Cache synced: accepting webhook events")
			}
		})
	}
	for range earlyWorkers {
		wg.Go(func() { r.runEarlyWorker(runCtx) })
	}
	wg.Go(func() { r.runJanitor(runCtx) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	r.serving.Store(true)
	r.log.Info("Serving OpenAI webhooks", "address", addr, "path", r.opts.Path)

	var err2 error
	select {
	case <-ctx.Done():
		r.drain(srv)
	case err2 = <-serveErr:
	}
	r.serving.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		r.log.Error(err, "Shutting down the webhook endpoint")
	}
	stop()
	r.queue.ShutDown()
	if err2 == nil {
		err2 = <-serveErr
	}
	wg.Wait()
	if r.early.len() > 0 {
		r.log.Info("Stopping with held webhook events; the controller's polling covers them", "count", r.early.len())
	}
	if errors.Is(err2, http.ErrServerClosed) {
		return nil
	}
	return err2
}

// drain reports not ready and keeps serving for the drain period, so that the
// endpoints of the Service, and the ingress controllers reading them, move away before
// the listener closes: a delivery on a kept-alive connection then never meets a closed
// port (a 502 at the ingress). Answers carry "Connection: close" meanwhile, so that
// clients open their next connection elsewhere.
func (r *Receiver) drain(srv *http.Server) {
	r.draining.Store(true)
	if r.opts.DrainPeriod <= 0 {
		return
	}
	r.log.Info("Stopping: not ready, still serving for the drain period", "drainPeriod", r.opts.DrainPeriod)
	srv.SetKeepAlivesEnabled(false)
	time.Sleep(r.opts.DrainPeriod)
}

// ShutdownTimeout is the longest the receiver takes to stop once told to: the drain
// period, then the requests in flight. The Deployment's terminationGracePeriodSeconds
// must cover it.
func (o Options) ShutdownTimeout() time.Duration {
	return max(o.DrainPeriod, 0) + shutdownTimeout
}

// NeedLeaderElection reports false: every replica serves.
func (r *Receiver) NeedLeaderElection() bool { return false }
