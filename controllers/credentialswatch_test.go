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

package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// TestCredentialsWatchCopiesNoResource: a change of a credentials Secret (and its first
// sight, when the manager starts) wakes every resource that uses it. Finding them must
// not copy them out of the cache: with one Secret for every batch, a copy of each is the
// whole cache again, live at once, at the start, when memory peaks.
func TestCredentialsWatchCopiesNoResource(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "creds-"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())

	const n = 200
	for i := range n {
		b := &openaiv1alpha1.OpenAIBatch{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: fmt.Sprintf("b-%03d", i)},
			Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
		}
		if i%2 == 1 { // half name another Secret
			b.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "other"}
		}
		b.Spec.Input.Requests = []openaiv1alpha1.BatchRequest{{CustomID: "r0", Body: runtime.RawExtension{Raw: []byte(`{"input":"x"}`)}}}
		g.Expect(env.Client.Create(ctx, b)).To(Succeed())
	}

	opts := CacheOptions([]string{ns.Name}, nil)
	opts.Scheme = testenv.Scheme
	c, err := cache.New(env.Config, opts)
	g.Expect(err).NotTo(HaveOccurred())
	d := &Deps{Options: Options{DefaultCredentialsSecret: "openai-credentials"}}
	d.shared = newSharedState(d.Options)
	g.Expect(c.IndexField(ctx, &openaiv1alpha1.OpenAIBatch{}, credentialsIndex, func(o client.Object) []string {
		return []string{credentialsName(o.(*openaiv1alpha1.OpenAIBatch).Spec.CredentialsRef, d.DefaultCredentialsSecret)}
	})).To(Succeed())
	go func() { _ = c.Start(ctx) }()
	_, err = c.GetInformer(ctx, &openaiv1alpha1.OpenAIBatch{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.WaitForCacheSync(ctx)).To(BeTrue())

	wake := d.credentialsWatch(c, &openaiv1alpha1.OpenAIBatchList{})
	secret := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "openai-credentials"}}
	g.Eventually(func() int { return len(wake(ctx, secret)) }).Should(Equal(n / 2))
	for _, r := range wake(ctx, secret) {
		var b openaiv1alpha1.OpenAIBatch
		g.Expect(c.Get(ctx, r.NamespacedName, &b)).To(Succeed())
		g.Expect(b.Spec.CredentialsRef).To(BeNil(), "%s woken for a Secret it does not use", r.Name)
	}

	// A deep copy of each cached batch was six allocations (601 for these 100); the
	// requests themselves share one slice. What remains per batch is the list's own bookkeeping.
	allocs := testing.AllocsPerRun(5, func() { wake(ctx, secret) })
	t.Logf("%.0f allocations to wake %d batches", allocs, n/2)
	g.Expect(allocs/(n/2)).To(BeNumerically("<", 3), "%.0f allocations for %d batches", allocs, n/2)
	// The cached objects are read, never written.
	var again openaiv1alpha1.OpenAIBatch
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "b-000"}, &again)).To(Succeed())
	g.Expect(again.Spec.Input.Requests).To(HaveLen(1))
}

func TestSecretChangedPassesOnlyChanges(t *testing.T) {
	secret := func(rv string) client.Object {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "openai-credentials", ResourceVersion: rv}}
	}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"found at start", secretChanged.Create(event.CreateEvent{Object: secret("1"), IsInInitialList: true}), false},
		{"created later", secretChanged.Create(event.CreateEvent{Object: secret("1")}), true},
		{"resynced", secretChanged.Update(event.UpdateEvent{ObjectOld: secret("1"), ObjectNew: secret("1")}), false},
		{"changed", secretChanged.Update(event.UpdateEvent{ObjectOld: secret("1"), ObjectNew: secret("2")}), true},
		{"deleted", secretChanged.Delete(event.DeleteEvent{Object: secret("2")}), true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: passed %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
