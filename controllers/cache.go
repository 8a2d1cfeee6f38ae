package controllers

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/namespaces"
)

// CacheOptions are the manager's cache options. managedFields and kubectl's
// last-applied-configuration annotation are dropped from every cached object (the
// reconcilers never read them) and a batch's inline requests once its
// status shows it submitted (DropSubmittedInput). served, when set, limit the cache to
// those namespaces; selector, when not nil, limits it to the OpenAIBatch, OpenAIResponse,
// OpenAIFineTuningJob and OpenAIWebhookEndpoint resources it matches, so that several managers can share a cluster
// on disjoint sets (credentials Secrets stay unfiltered: they carry no shard label).
func CacheOptions(served []string, selector labels.Selector) cache.Options {
	strip := chainTransforms(cache.TransformStripManagedFields(), DropLastApplied)
	opts := cache.Options{
		DefaultTransform: strip,
		ByObject: map[client.Object]cache.ByObject{
			&openaiv1alpha1.OpenAIBatch{}:           {Label: selector, Transform: chainTransforms(strip, DropSubmittedInput, shareBatchStrings)},
			&openaiv1alpha1.OpenAIResponse{}:        {Label: selector},
			&openaiv1alpha1.OpenAIFineTuningJob{}:   {Label: selector},
			&openaiv1alpha1.OpenAIWebhookEndpoint{}: {Label: selector},
		},
	}
	opts.DefaultNamespaces = namespaces.CacheConfig(served) // nil: all namespaces
	return opts
}

// DropSubmittedInput is a cache transform that drops spec.input.requests of an
// OpenAIBatch whose status shows it submitted (a batch id) or ended: OpenAI holds the
// input from then on, and up to ~1.5 MiB of inline requests per object would otherwise
// stay in memory for the batch's whole life. A batch not yet submitted keeps them. The
// reconciler reads inline requests from the API server, never from the cache, when it
// submits. Other objects pass unchanged.
func DropSubmittedInput(obj any) (any, error) {
	if b, ok := obj.(*openaiv1alpha1.OpenAIBatch); ok && (b.Status.BatchID != "" || batchTerminal(b.Status.Phase)) {
		b.Spec.Input.Requests = nil
	}
	return obj, nil
}

// DropLastApplied is a cache transform that drops the annotation in which kubectl apply
// keeps the whole applied manifest (inline requests included), which the manager never
// reads. It only ever patches these objects, so the annotation stays on the API server.
func DropLastApplied(obj any) (any, error) {
	if o, ok := obj.(metav1.Object); ok {
		if a := o.GetAnnotations(); a != nil {
			if _, found := a[corev1.LastAppliedConfigAnnotation]; found {
				delete(a, corev1.LastAppliedConfigAnnotation)
				if len(a) == 0 {
					a = nil
				}
				o.SetAnnotations(a)
			}
		}
	}
	return obj, nil
}

// maxShared bounds the strings the cache shares (a few hundred distinct ones in
// practice; a full table only stops sharing new ones).
const maxShared = 4096

// sharedStrings holds one copy of the strings every cached batch repeats.
var sharedStrings = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func share(s string) string {
	if s == "" || len(s) > 256 {
		return s
	}
	sharedStrings.Lock()
	defer sharedStrings.Unlock()
	if c, ok := sharedStrings.m[s]; ok {
		return c
	}
	if len(sharedStrings.m) < maxShared {
		sharedStrings.m[s] = s
	}
	return s
}

// shareBatchStrings is a cache transform that makes an OpenAIBatch's repeated strings
// (namespace, finalizers, endpoint, completion window, phase, conditions' type, status,
// reason and message) point to one shared copy: each decoded object has its own
// otherwise, and they are a large part of a cached batch. Values do not change.
func shareBatchStrings(obj any) (any, error) {
	b, ok := obj.(*openaiv1alpha1.OpenAIBatch)
	if !ok {
		return obj, nil
	}
	b.Namespace = share(b.Namespace)
	for i := range b.Finalizers {
		b.Finalizers[i] = share(b.Finalizers[i])
	}
	b.Spec.Endpoint = openaiv1alpha1.BatchEndpoint(share(string(b.Spec.Endpoint)))
	b.Spec.CompletionWindow = share(b.Spec.CompletionWindow)
	b.Status.Phase = openaiv1alpha1.BatchPhase(share(string(b.Status.Phase)))
	for i := range b.Status.Conditions {
		c := &b.Status.Conditions[i]
		c.Type, c.Reason, c.Message = share(c.Type), share(c.Reason), share(c.Message)
		c.Status = metav1.ConditionStatus(share(string(c.Status)))
	}
	return b, nil
}

func chainTransforms(fns ...func(any) (any, error)) func(any) (any, error) {
	return func(obj any) (any, error) {
		var err error
		for _, fn := range fns {
			if obj, err = fn(obj); err != nil {
				return nil, err
			}
		}
		return obj, nil
	}
}
