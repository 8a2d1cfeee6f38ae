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
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// hold keeps d until a resource carries its object id. It reports false if an event
// with the same webhook-id is already held.
func (r *Receiver) hold(d delivery) bool {
	added, evicted := r.early.add(d, r.opts.Now())
	for _, h := range evicted {
		r.metrics.count(typeLabel(h.event.Type), OutcomeDropped)
		r.log.V(1).Info("Dropping the oldest held webhook event of its kind: the early-event store is full",
			"eventID", h.event.ID, "eventType", h.event.Type, "objectID", h.event.ObjectID, "max", r.opts.MaxEarlyEvents)
	}
	r.metrics.EarlyEvents.Set(float64(r.early.len()))
	if added {
		// Events for objects of other applications sharing the OpenAI project land here
		// too, and are counted in the metrics: the log tells about them only at debug level.
		r.log.V(1).Info("Holding webhook event until a resource carries its id",
			"eventID", d.event.ID, "eventType", d.event.Type, "objectID", d.event.ObjectID, "ttl", r.opts.EarlyEventTTL)
		// The resource may have appeared between the lookup and now, before the event
		// was held: look once more. Later appearances come through the informers.
		r.queue.Add(d.key())
	}
	return added
}

// WatchInformers makes the receiver apply held events as soon as a resource whose
// status carries their object id appears in the cache.
func (r *Receiver) WatchInformers(ctx context.Context, informers cache.Informers) error {
	for _, obj := range []client.Object{&openaiv1alpha1.OpenAIBatch{}, &openaiv1alpha1.OpenAIResponse{}, &openaiv1alpha1.OpenAIFineTuningJob{}} {
		inf, err := informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { r.ObjectChanged(o) },
			UpdateFunc: func(_, o any) { r.ObjectChanged(o) },
		}); err != nil {
			return err
		}
	}
	return nil
}

// ObjectChanged is called with an OpenAIBatch, OpenAIResponse or OpenAIFineTuningJob
// that was added or
// updated; if an event is held for its OpenAI id, it is queued to be applied. It does
// no I/O, so it never slows the informer down.
func (r *Receiver) ObjectChanged(obj any) {
	var k routeKey
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		k = routeKey{kind: kindBatch, objectID: o.Status.BatchID}
	case *openaiv1alpha1.OpenAIResponse:
		k = routeKey{kind: kindResponse, objectID: o.Status.ResponseID}
	case *openaiv1alpha1.OpenAIFineTuningJob:
		k = routeKey{kind: kindFineTuningJob, objectID: o.Status.JobID}
	default:
		return
	}
	if k.objectID != "" && r.early.has(k) {
		r.queue.Add(k)
	}
}

// runEarlyWorker applies held events whose key is queued, until the queue shuts down.
func (r *Receiver) runEarlyWorker(ctx context.Context) {
	for {
		k, shutdown := r.queue.Get()
		if shutdown {
			return
		}
		retry := r.applyHeld(ctx, k)
		if retry && r.early.has(k) {
			// Retried with backoff until it lands or its hold expires.
			r.queue.AddRateLimited(k)
		} else {
			r.queue.Forget(k)
		}
		r.queue.Done(k)
	}
}

// applyHeld records the events held for k on the resources that now carry its id. It
// reports whether to try again later (a failed read or write).
func (r *Receiver) applyHeld(ctx context.Context, k routeKey) (retry bool) {
	held := r.early.peek(k)
	if len(held) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.WriteTimeout)
	defer cancel()
	targets, err := r.lookup(ctx, k)
	if err != nil {
		r.log.Error(err, "Reading the cache for held webhook events", "objectID", k.objectID)
		return true
	}
	if len(targets) == 0 {
		return false // not there yet: the informer will queue k again
	}
	defer func() { r.metrics.EarlyEvents.Set(float64(r.early.len())) }()
	for _, d := range held { // oldest created first
		outcome, err := r.record(ctx, targets, d)
		if err != nil {
			r.metrics.count(typeLabel(d.event.Type), OutcomeWriteError)
			r.log.Error(err, "Recording a held webhook event failed; retrying",
				"eventID", d.event.ID, "eventType", d.event.Type, "objectID", d.event.ObjectID)
			return true
		}
		if !r.early.remove(d.webhookID) {
			continue // expired meanwhile, and counted then
		}
		r.recent.add(d.webhookID, r.opts.Now())
		r.metrics.count(typeLabel(d.event.Type), outcome)
	}
	return false
}

// runJanitor drops held events whose hold expired, counting them as unmanaged, until
// ctx ends.
func (r *Receiver) runJanitor(ctx context.Context) {
	interval := min(max(r.opts.EarlyEventTTL/4, 10*time.Millisecond), 10*time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			expired := r.early.expire(r.opts.Now())
			for _, h := range expired {
				r.metrics.count(typeLabel(h.event.Type), OutcomeUnmanaged)
				r.log.V(1).Info("No resource carries the id of a held webhook event; dropping it",
					"eventID", h.event.ID, "eventType", h.event.Type, "objectID", h.event.ObjectID, "heldFor", r.opts.EarlyEventTTL)
			}
			if len(expired) > 0 {
				r.metrics.EarlyEvents.Set(float64(r.early.len()))
			}
		}
	}
}
