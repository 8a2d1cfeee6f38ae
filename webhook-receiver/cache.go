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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/namespaces"
)

// Field indexes of the receiver's cache.
const (
	// IndexBatchID indexes OpenAIBatches by status.batchID.
	IndexBatchID = "status.batchID"
	// IndexResponseID indexes OpenAIResponses by status.responseID.
	IndexResponseID = "status.responseID"
	// IndexJobID indexes OpenAIFineTuningJobs by status.jobID.
	IndexJobID = "status.jobID"
)

// AddIndexes registers the indexes the receiver routes by on the informers of c.
//
// They are informer indexes rather than controller-runtime's IndexField, which keeps
// every value twice, under the object's namespace and for all namespaces, with a set
// for each, while the receiver only ever looks an id up across all namespaces
// (Receiver.lookup). Registered under the name IndexField would use, with its
// all-namespaces key alone, the index serves the same cache List (client.MatchingFields,
// no namespace) with one entry per object instead of two: see
// BenchmarkRoutingIndexMemory. The name and key follow controller-runtime's cache
// reader (internal.FieldIndexName and KeyToNamespacedKey); every lookup test through a
// real cache fails if they ever change.
func AddIndexes(ctx context.Context, c cache.Informers) error {
	for _, ix := range []struct {
		obj   client.Object
		field string
		value func(client.Object) []string
	}{
		{&openaiv1alpha1.OpenAIBatch{}, IndexBatchID, batchIDOf},
		{&openaiv1alpha1.OpenAIResponse{}, IndexResponseID, responseIDOf},
		{&openaiv1alpha1.OpenAIFineTuningJob{}, IndexJobID, jobIDOf},
	} {
		informer, err := c.GetInformer(ctx, ix.obj)
		if err == nil {
			err = informer.AddIndexers(toolscache.Indexers{fieldIndexPrefix + ix.field: allNamespacesIndex(ix.value)})
		}
		if err != nil {
			return fmt.Errorf("indexing %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	return nil
}

// The name of a field index and the key of a value across all namespaces, as
// controller-runtime's cache reader looks them up.
const (
	fieldIndexPrefix    = "field:"
	allNamespacesPrefix = "__all_namespaces/"
)

// allNamespacesIndex indexes an object by the values of value, under the key that
// lists across all namespaces.
func allNamespacesIndex(value func(client.Object) []string) toolscache.IndexFunc {
	return func(raw any) ([]string, error) {
		obj, ok := raw.(client.Object)
		if !ok {
			return nil, fmt.Errorf("object of type %T is not an Object", raw)
		}
		vals := value(obj)
		for i, v := range vals {
			vals[i] = allNamespacesPrefix + v
		}
		return vals, nil
	}
}

func jobIDOf(o client.Object) []string {
	if j, ok := o.(*openaiv1alpha1.OpenAIFineTuningJob); ok && j.Status.JobID != "" {
		return []string{j.Status.JobID}
	}
	return nil
}

func batchIDOf(o client.Object) []string {
	if b, ok := o.(*openaiv1alpha1.OpenAIBatch); ok && b.Status.BatchID != "" {
		return []string{b.Status.BatchID}
	}
	return nil
}

func responseIDOf(o client.Object) []string {
	if r, ok := o.(*openaiv1alpha1.OpenAIResponse); ok && r.Status.ResponseID != "" {
		return []string{r.Status.ResponseID}
	}
	return nil
}

// CacheOptions returns cache options for the receiver: only OpenAIBatch,
// OpenAIResponse and OpenAIFineTuningJob, in the comma-separated namespaces (all
// namespaces when empty; see Options.Namespace), stripped of everything routing and
// recording do not read (spec, managed fields, labels, annotations and all of status but
// the OpenAI id and lastWebhookEvent).
func CacheOptions(namespace string) cache.Options {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&openaiv1alpha1.OpenAIBatch{}:         {Transform: StripForRouting},
			&openaiv1alpha1.OpenAIResponse{}:      {Transform: StripForRouting},
			&openaiv1alpha1.OpenAIFineTuningJob{}: {Transform: StripForRouting},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	served, _ := namespaces.Parse(namespace) // Options.validate refused invalid ones
	opts.DefaultNamespaces = namespaces.CacheConfig(served)
	return opts
}

// StripForRouting is a cache transform that keeps of an OpenAIBatch, OpenAIResponse or
// OpenAIFineTuningJob only what the receiver reads. Other objects pass unchanged.
func StripForRouting(obj any) (any, error) {
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		return &openaiv1alpha1.OpenAIBatch{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: routingMeta(&o.ObjectMeta),
			Status: openaiv1alpha1.OpenAIBatchStatus{
				BatchID:          o.Status.BatchID,
				LastWebhookEvent: o.Status.LastWebhookEvent,
			},
		}, nil
	case *openaiv1alpha1.OpenAIResponse:
		return &openaiv1alpha1.OpenAIResponse{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: routingMeta(&o.ObjectMeta),
			Status: openaiv1alpha1.OpenAIResponseStatus{
				ResponseID:       o.Status.ResponseID,
				LastWebhookEvent: o.Status.LastWebhookEvent,
			},
		}, nil
	case *openaiv1alpha1.OpenAIFineTuningJob:
		return &openaiv1alpha1.OpenAIFineTuningJob{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: routingMeta(&o.ObjectMeta),
			Status: openaiv1alpha1.OpenAIFineTuningJobStatus{
				JobID:            o.Status.JobID,
				LastWebhookEvent: o.Status.LastWebhookEvent,
			},
		}, nil
	default:
		return obj, nil
	}
}

func routingMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Generation:        m.Generation,
		CreationTimestamp: m.CreationTimestamp,
		DeletionTimestamp: m.DeletionTimestamp,
	}
}
