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
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// A pass that changed nothing writes nothing and, since a restarted manager runs one
// such pass per resource, does not build a merge patch to find that out (a JSON
// round trip of the whole object, hundreds of allocations).
func TestPatchStatusUnchanged(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	obj := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", Finalizers: []string{Finalizer}},
		Status: openaiv1alpha1.OpenAIBatchStatus{
			BatchID: "batch_1", Phase: openaiv1alpha1.BatchPhaseInProgress,
			Conditions: []metav1.Condition{{Type: openaiv1alpha1.ConditionCredentialsReady, Status: metav1.ConditionTrue, Reason: "Loaded"}},
		},
	}
	patches := 0
	c := fake.NewClientBuilder().WithScheme(testenv.Scheme).WithObjects(obj).WithStatusSubresource(obj).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourcePatch: func(
				ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption,
			) error {
				patches++
				return c.SubResource(sub).Patch(ctx, o, p, opts...)
			},
		}).Build()
	d := &Deps{Client: c}
	stored := &openaiv1alpha1.OpenAIBatch{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), stored)).To(Succeed())

	// The first pass derives the health conditions and writes them.
	s := newPass(ctx, stored, nil, &stored.Status.Conditions)
	g.Expect(s.patchStatus(ctx, d)).To(Succeed())
	g.Expect(patches).To(Equal(1))

	fresh := func() pass[*openaiv1alpha1.OpenAIBatch] {
		o := &openaiv1alpha1.OpenAIBatch{}
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), o)).To(Succeed())
		return newPass(ctx, o, nil, &o.Status.Conditions)
	}
	allocs := testing.AllocsPerRun(20, func() {
		s := fresh()
		g.Expect(s.patchStatus(ctx, d)).To(Succeed())
	})
	g.Expect(patches).To(Equal(1), "an unchanged status is not written")
	base := testing.AllocsPerRun(20, func() { _ = fresh() })
	g.Expect(allocs-base).To(BeNumerically("<", 50), "allocations of patchStatus beyond reading the object")

	// A change is still written.
	s = fresh()
	s.obj.Status.Phase = openaiv1alpha1.BatchPhaseFinalizing
	g.Expect(s.patchStatus(ctx, d)).To(Succeed())
	g.Expect(patches).To(Equal(2))
	got := &openaiv1alpha1.OpenAIBatch{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
	g.Expect(got.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseFinalizing))
}
