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

package release

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// batchIn returns an OpenAIBatch in phase with the given conditions (set at generation 1).
func batchIn(phase openaiv1alpha1.BatchPhase, conds ...metav1.Condition) *unstructured.Unstructured {
	b := &openaiv1alpha1.OpenAIBatch{
		TypeMeta:   metav1.TypeMeta{APIVersion: openaiv1alpha1.GroupVersion.String(), Kind: "OpenAIBatch"},
		ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", Generation: 1},
	}
	b.Status.Phase = phase
	b.Status.ObservedGeneration = 1
	for _, c := range conds {
		c.ObservedGeneration, c.LastTransitionTime = 1, metav1.Now()
		b.Status.Conditions = append(b.Status.Conditions, c)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// trueCond is a condition of type typ, status True, with reason as its reason and message.
func trueCond(typ, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: reason}
}

// TestKstatusOfBatchPhases shows why the controllers write Reconciling and Stalled:
// with only the conditions of the work itself (Submitted, Complete, Failed), kstatus,
// which Flux and Argo CD's health checks use, calls a batch in flight and a failed one
// Current, as if all were well and done.
func TestKstatusOfBatchPhases(t *testing.T) {
	submitted := trueCond(openaiv1alpha1.ConditionSubmitted, "Submitted")
	tests := map[string]struct {
		obj  *unstructured.Unstructured
		want status.Status
	}{
		"Pending":    {batchIn(openaiv1alpha1.BatchPhasePending), status.CurrentStatus},
		"Submitting": {batchIn(openaiv1alpha1.BatchPhaseSubmitting), status.CurrentStatus},
		"InProgress": {batchIn(openaiv1alpha1.BatchPhaseInProgress, submitted), status.CurrentStatus},
		"Failed": {batchIn(openaiv1alpha1.BatchPhaseFailed, submitted,
			trueCond(openaiv1alpha1.ConditionFailed, "Failed")), status.CurrentStatus},
	}
	for name, tc := range tests {
		res, err := status.Compute(tc.obj)
		if err != nil || res.Status != tc.want {
			t.Errorf("%s without Reconciling or Stalled: kstatus says %v (%v), want %s", name, res, err, tc.want)
		}
	}
	// A spec change not yet observed is InProgress whatever the phase.
	stale := batchIn(openaiv1alpha1.BatchPhaseCompleted, trueCond(openaiv1alpha1.ConditionComplete, "Completed"))
	stale.SetGeneration(2)
	if res, err := status.Compute(stale); err != nil || res.Status != status.InProgressStatus {
		t.Errorf("a generation the manager has not observed: %v %v, want InProgress", res, err)
	}
}

// TestKstatusWithTheConditionsItReads: the conditions the controllers add (see
// docs/OPERATIONS.md) make kstatus truthful on the same objects.
func TestKstatusWithTheConditionsItReads(t *testing.T) {
	submitted := trueCond(openaiv1alpha1.ConditionSubmitted, "Submitted")
	tests := map[string]struct {
		obj  *unstructured.Unstructured
		want status.Status
	}{
		"Pending: Reconciling": {batchIn(openaiv1alpha1.BatchPhasePending, trueCond("Reconciling", "Pending")), status.InProgressStatus},
		"InProgress: Reconciling": {batchIn(openaiv1alpha1.BatchPhaseInProgress, submitted,
			trueCond("Reconciling", "InProgress")), status.InProgressStatus},
		"Completed: Ready": {batchIn(openaiv1alpha1.BatchPhaseCompleted, submitted,
			trueCond(openaiv1alpha1.ConditionComplete, "Completed"), trueCond("Ready", "Completed")), status.CurrentStatus},
		"Failed: Stalled": {batchIn(openaiv1alpha1.BatchPhaseFailed, submitted,
			trueCond(openaiv1alpha1.ConditionFailed, "Failed"), trueCond("Stalled", "Failed")), status.FailedStatus},
	}
	for name, tc := range tests {
		res, err := status.Compute(tc.obj)
		if err != nil || res.Status != tc.want {
			t.Errorf("%s: kstatus says %v (%v), want %s", name, res, err, tc.want)
		}
	}
}

// TestKstatusOfRealObjectsInEachPhase runs real objects of both kinds through their
// phases (the reconcilers against a real API server and the emulator) and asks kstatus
// at each: InProgress while the work is unfinished (waiting for its input, running),
// Current once it completed or the user cancelled it, Failed once it failed for good.
func TestKstatusOfRealObjectsInEachPhase(t *testing.T) {
	g := NewWithT(t)
	ctrl.SetLogger(logr.Discard())
	env, err := testenv.Start()
	if err != nil {
		t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	emu, err := emulator.Start(emulator.Options{TimeScale: 0.05})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(emu.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "kstatus-"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())
	c := env.Client
	g.Expect(c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "openai-credentials"},
		StringData: map[string]string{"apiKey": emulator.DefaultAPIKey}})).To(Succeed())

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: testenv.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns.Name: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	opts := controllers.DefaultOptions()
	opts.PollIntervalMin, opts.PollIntervalMax, opts.RetryInterval = 100*time.Millisecond, time.Second, 200*time.Millisecond
	g.Expect(controllers.SetupWithManager(mgr, &openaiclient.Factory{BaseURL: emu.URL()}, opts)).To(Succeed())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	requests := func(model string) []openaiv1alpha1.BatchRequest {
		return []openaiv1alpha1.BatchRequest{{CustomID: "a", Body: runtime.RawExtension{Raw: []byte(`{"model":"` + model + `","input":"x"}`)}}}
	}
	batch := func(name string, in openaiv1alpha1.BatchInput) *openaiv1alpha1.OpenAIBatch {
		return &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name},
			Spec: openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings, Input: in}}
	}
	response := func(name, model string) *openaiv1alpha1.OpenAIResponse {
		return &openaiv1alpha1.OpenAIResponse{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name},
			Spec: openaiv1alpha1.OpenAIResponseSpec{Model: model, Input: openaiv1alpha1.ResponseInput{Text: "hi"}}}
	}
	// verdict reads the object and returns its phase and kstatus's verdict.
	verdict := func(obj client.Object) func() string {
		return func() string {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err.Error()
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				return err.Error()
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: m})
			if err != nil {
				return err.Error()
			}
			phase, _, _ := unstructured.NestedString(m, "status", "phase")
			return phase + " " + string(res.Status)
		}
	}
	expect := func(obj client.Object, want string) {
		t.Helper()
		g.Eventually(verdict(obj), 30*time.Second, 50*time.Millisecond).Should(Equal(want), "%s", obj.GetName())
	}

	waiting := batch("waiting", openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "later", Key: "in.jsonl"}})
	running := batch("running", openaiv1alpha1.BatchInput{Requests: requests(emulator.ModelHang)})
	done1 := batch("done", openaiv1alpha1.BatchInput{Requests: requests("text-embedding-3-small")})
	// An input for another endpoint: refused before anything is spent, for good.
	g.Expect(c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "bad"}, Data: map[string]string{
		"in.jsonl": `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}`}})).To(Succeed())
	invalid := batch("invalid", openaiv1alpha1.BatchInput{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: "bad", Key: "in.jsonl"}})
	rRunning, rDone, rFailed := response("r-running", emulator.ModelHang), response("r-done", "gpt-5-mini"), response("r-failed", emulator.ModelFail)
	for _, o := range []client.Object{waiting, running, done1, invalid, rRunning, rDone, rFailed} {
		g.Expect(c.Create(ctx, o)).To(Succeed())
	}

	expect(waiting, "Pending InProgress")
	expect(running, "InProgress InProgress")
	expect(done1, "Completed Current")
	expect(invalid, "Failed Failed")
	expect(rRunning, "InProgress InProgress")
	expect(rDone, "Completed Current")
	expect(rFailed, "Failed Failed")

	// The input arrives: the waiting batch runs to completion.
	g.Expect(c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "later"}, Data: map[string]string{
		"in.jsonl": `{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"x"}}` + "\n"}})).To(Succeed())
	expect(waiting, "Completed Current")

	// Cancelled by the user: ended as asked, neither in progress nor failed.
	for _, o := range []client.Object{running, rRunning} {
		g.Expect(c.Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`)))).To(Succeed())
	}
	expect(running, "Cancelled Current")
	expect(rRunning, "Cancelled Current")

	// Once ended, the conditions say so in agreement: no Reconciling, Stalled beside
	// Failed, Ready beside Complete, all at the generation they were set for.
	for _, o := range []client.Object{done1, invalid, running, rFailed} {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
		var conds []metav1.Condition
		switch o := o.(type) {
		case *openaiv1alpha1.OpenAIBatch:
			conds = o.Status.Conditions
		case *openaiv1alpha1.OpenAIResponse:
			conds = o.Status.Conditions
		}
		g.Expect(meta.FindStatusCondition(conds, openaiv1alpha1.ConditionReconciling)).To(BeNil(), o.GetName())
		failed := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionFailed)
		final := failed != nil && failed.Status == metav1.ConditionTrue && failed.Reason != openaiv1alpha1.ReasonCancelled
		g.Expect(meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionStalled)).To(Equal(final), o.GetName())
		g.Expect(meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionReady)).To(Equal(!final), o.GetName())
		for _, typ := range []string{
			openaiv1alpha1.ConditionStalled, openaiv1alpha1.ConditionReady, openaiv1alpha1.ConditionComplete, openaiv1alpha1.ConditionFailed,
		} {
			if cd := meta.FindStatusCondition(conds, typ); cd != nil {
				g.Expect(cd.ObservedGeneration).To(Equal(o.GetGeneration()), "%s %s", o.GetName(), typ)
			}
		}
	}
}
