package controllers

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"
	"unsafe"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

// cachedBatch reads the named batch from the manager's cache (not the API server).
func (f *fixture) cachedBatch(name string) func() *openaiv1alpha1.OpenAIBatch {
	return func() *openaiv1alpha1.OpenAIBatch {
		b := &openaiv1alpha1.OpenAIBatch{}
		if err := f.cache.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, b); err != nil {
			return nil
		}
		return b
	}
}

// sentRequests is the number of requests OpenAI received in the named batch's input.
func (f *fixture) sentRequests(name string) int64 {
	f.t.Helper()
	b := f.getBatch(name)
	f.g.Expect(b.Status.BatchID).NotTo(BeEmpty())
	remote, err := f.sdk().Batches.Get(f.ctx, b.Status.BatchID)
	f.g.Expect(err).NotTo(HaveOccurred())
	return remote.RequestCounts.Total
}

func TestBatchCacheDropsInlineRequestsOnceSubmitted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	// One batch runs on OpenAI; the other waits for a Secret that does not exist yet.
	f.create(f.batch("running", 3, emulator.ModelHang))
	waiting := f.batch("waiting", 2, "text-embedding-3-small")
	waiting.Spec.CredentialsRef = &openaiv1alpha1.CredentialsReference{Name: "later"}
	f.create(waiting)

	f.g.Eventually(func() string { return f.getBatch("running").Status.BatchID }, 20*time.Second, 20*time.Millisecond).ShouldNot(BeEmpty())
	f.g.Eventually(f.cachedBatch("running"), 10*time.Second, 20*time.Millisecond).Should(And(
		Not(BeNil()),
		WithTransform(func(b *openaiv1alpha1.OpenAIBatch) string { return b.Status.BatchID }, Not(BeEmpty())),
		WithTransform(func(b *openaiv1alpha1.OpenAIBatch) []openaiv1alpha1.BatchRequest { return b.Spec.Input.Requests }, BeEmpty()),
	), "a submitted batch's inline requests are not cached")
	f.g.Expect(f.getBatch("running").Spec.Input.Requests).To(HaveLen(3), "the API server keeps them")

	f.g.Eventually(f.condition(waiting, openaiv1alpha1.ConditionSubmitted), 10*time.Second, 20*time.Millisecond).ShouldNot(BeNil())
	f.g.Expect(f.cachedBatch("waiting")()).To(WithTransform(func(b *openaiv1alpha1.OpenAIBatch) int { return len(b.Spec.Input.Requests) }, Equal(2)),
		"a batch not yet submitted keeps its requests in the cache")

	// The waiting batch is submitted once its Secret exists, with all its requests.
	f.createSecret("later", map[string]string{"apiKey": emulator.DefaultAPIKey})
	f.g.Eventually(f.condition(waiting, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.sentRequests("waiting")).To(Equal(int64(2)))
}

// The reconciler never relies on the cache for inline requests: with a cache that holds
// none at all, a batch is still submitted with all of them.
func TestBatchSubmitsInlineRequestsTheCacheDoesNotHold(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	f.batchTransform = func(obj any) (any, error) {
		if b, ok := obj.(*openaiv1alpha1.OpenAIBatch); ok {
			b.Spec.Input.Requests = nil
			b.ManagedFields = nil
		}
		return obj, nil
	}
	f.startManager(testOptions(), nil)
	// The finalizer is there already (as after a restart), so that no write of the pass
	// hands the reconciler the full object before it submits.
	b := f.batch("stripped", 3, "text-embedding-3-small")
	b.Finalizers = []string{Finalizer}
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("stripped").Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseCompleted))
	f.g.Expect(f.sentRequests("stripped")).To(Equal(int64(3)))
	f.g.Expect(f.cachedBatch("stripped")()).To(WithTransform(func(b *openaiv1alpha1.OpenAIBatch) int { return len(b.Spec.Input.Requests) }, Equal(0)),
		"the test's cache holds no requests")
}

// A manager restarted while a submission was under way (intent recorded, nothing
// uploaded) sends the batch's inline requests.
func TestBatchSubmissionAfterRestartSendsTheInlineRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	b := f.batch("resumed", 2, "text-embedding-3-small")
	b.Finalizers = []string{Finalizer}
	f.create(b)
	b = f.getBatch("resumed")
	b.Status.Phase = openaiv1alpha1.BatchPhaseSubmitting
	f.g.Expect(f.c.Status().Update(f.ctx, b)).To(Succeed())

	f.startManager(testOptions(), nil)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(1)))
	f.g.Expect(f.sentRequests("resumed")).To(Equal(int64(2)))
	f.g.Eventually(f.cachedBatch("resumed"), 10*time.Second, 20*time.Millisecond).Should(
		WithTransform(func(b *openaiv1alpha1.OpenAIBatch) int { return len(b.Spec.Input.Requests) }, Equal(0)))
}

// Two managers with disjoint shard selectors share a namespace: each handles only its
// own resources, and a resource in neither shard is left alone.
func TestShardedManagersHandleDisjointSets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noManager: true})
	var mu sync.Mutex
	wrote := map[string]map[string]bool{"a": {}, "b": {}}
	for _, shard := range []string{"a", "b"} {
		f.selector = labels.SelectorFromSet(labels.Set{"shard": shard})
		f.startManager(testOptions(), func(c client.Client) client.Client {
			return failingStatusWrites{Client: c, fail: func(obj client.Object) error {
				mu.Lock()
				defer mu.Unlock()
				wrote[shard][obj.GetName()] = true
				return nil
			}}
		})
	}
	f.selector = nil
	names := map[string]string{"a-1": "a", "a-2": "a", "b-1": "b", "b-2": "b", "none": ""}
	for name, shard := range names {
		b := f.batch(name, 1, "text-embedding-3-small")
		if shard != "" {
			b.Labels = map[string]string{"shard": shard}
		}
		f.create(b)
	}
	for name, shard := range names {
		if shard == "" {
			continue
		}
		b := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}}
		f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 50*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	}
	mu.Lock()
	f.g.Expect(wrote["a"]).To(And(HaveKey("a-1"), HaveKey("a-2"), Not(HaveKey("b-1")), Not(HaveKey("b-2")), Not(HaveKey("none"))))
	f.g.Expect(wrote["b"]).To(And(HaveKey("b-1"), HaveKey("b-2"), Not(HaveKey("a-1")), Not(HaveKey("a-2")), Not(HaveKey("none"))))
	mu.Unlock()
	f.g.Expect(f.emu.Calls("batches.create")).To(Equal(int64(4)), "each labelled batch is submitted once, the unlabelled one never")
	f.g.Consistently(func() openaiv1alpha1.BatchPhase { return f.getBatch("none").Status.Phase }, time.Second, 100*time.Millisecond).Should(BeEmpty())
}

// kubectl apply keeps the whole applied manifest in an annotation, inline requests
// included: no cached object keeps it (the manager never reads it, and writes objects
// only by patches and status patches, which leave it alone on the API server).
func TestCacheDropsLastAppliedConfiguration(t *testing.T) {
	g := NewWithT(t)
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	opts := CacheOptions(nil, nil)
	objs := []client.Object{
		&openaiv1alpha1.OpenAIBatch{}, &openaiv1alpha1.OpenAIResponse{}, &openaiv1alpha1.OpenAIFineTuningJob{}, &openaiv1alpha1.OpenAIWebhookEndpoint{},
	}
	for _, o := range objs {
		o.SetAnnotations(map[string]string{lastApplied: `{"spec":{"input":{"requests":["..."]}}}`, "team": "a"})
		transform := opts.DefaultTransform
		for k, by := range opts.ByObject {
			if reflect.TypeOf(k) == reflect.TypeOf(o) && by.Transform != nil {
				transform = by.Transform
			}
		}
		out, err := transform(o)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out.(client.Object).GetAnnotations()).To(Equal(map[string]string{"team": "a"}), "%T", o)
	}
}

// Every cached batch repeats the same condition types, reasons and messages, phase,
// namespace and finalizer: the cache keeps one copy of each.
func TestBatchCacheSharesRepeatedStrings(t *testing.T) {
	g := NewWithT(t)
	decode := func(id string) *openaiv1alpha1.OpenAIBatch {
		b := &openaiv1alpha1.OpenAIBatch{}
		g.Expect(json.Unmarshal([]byte(`{"metadata":{"name":"`+id+`","namespace":"team-a","finalizers":["openai.operator.dev/cleanup"]},
			"spec":{"endpoint":"/v1/embeddings","completionWindow":"24h"},
			"status":{"batchID":"`+id+`","phase":"InProgress","conditions":[
				{"type":"Ready","status":"False","reason":"InProgress","message":"The work is not finished: phase InProgress"},
				{"type":"Submitted","status":"True","reason":"Accepted","message":"OpenAI accepted batch `+id+`"}]}}`), b)).To(Succeed())
		out, err := batchTransform(t)(b)
		g.Expect(err).NotTo(HaveOccurred())
		return out.(*openaiv1alpha1.OpenAIBatch)
	}
	a, b := decode("batch_a"), decode("batch_b")
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	g.Expect(same(a.Namespace, b.Namespace)).To(BeTrue(), "namespace")
	g.Expect(same(a.Finalizers[0], b.Finalizers[0])).To(BeTrue(), "finalizer")
	g.Expect(same(string(a.Spec.Endpoint), string(b.Spec.Endpoint))).To(BeTrue(), "endpoint")
	g.Expect(same(string(a.Status.Phase), string(b.Status.Phase))).To(BeTrue(), "phase")
	for i, field := range []func(c metav1.Condition) string{
		func(c metav1.Condition) string { return c.Type },
		func(c metav1.Condition) string { return string(c.Status) },
		func(c metav1.Condition) string { return c.Reason },
	} {
		g.Expect(same(field(a.Status.Conditions[1]), field(b.Status.Conditions[1]))).To(BeTrue(), "condition field %d", i)
	}
	g.Expect(same(a.Status.Conditions[0].Message, b.Status.Conditions[0].Message)).To(BeTrue(), "a repeated message")
	g.Expect(a.Status.Conditions[1].Message).To(Equal("OpenAI accepted batch batch_a"), "values are unchanged")
	g.Expect(b.Status.Conditions[1].Message).To(Equal("OpenAI accepted batch batch_b"))
}

func batchTransform(t *testing.T) func(any) (any, error) {
	for k, by := range CacheOptions(nil, nil).ByObject {
		if _, ok := k.(*openaiv1alpha1.OpenAIBatch); ok {
			return by.Transform
		}
	}
	t.Fatal("no OpenAIBatch in CacheOptions")
	return nil
}
