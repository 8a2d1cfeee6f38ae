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
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// The API server is started once, by the first test that needs it.
var (
	envOnce sync.Once
	env     *testenv.Env
	envErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv("RECEIVER_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	code := m.Run()
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

// apiServer returns the shared API server, starting it if needed.
func apiServer(t *testing.T) *testenv.Env {
	t.Helper()
	envOnce.Do(func() { env, envErr = testenv.Start() })
	if envErr != nil {
		t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", envErr)
	}
	return env
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "receiver-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// startReceiver runs a receiver (its own manager) against cfg until the test ends and
// returns it once it is ready. Unset options get test values: a loopback port, no
// metrics or probe servers, testSecret 0 (unless SecretsPath is set), a fresh metrics
// registry.
func startReceiver(t *testing.T, cfg *rest.Config, opts Options) *Receiver {
	t.Helper()
	opts.BindAddress = "127.0.0.1:0"
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	if opts.Secrets == nil && opts.SecretsPath == "" {
		opts.Secrets = StaticSecrets{testSecret(t, 0)}
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	mgr, r, err := NewManager(cfg, opts)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the receiver did not stop within 30s")
		}
	})
	NewWithT(t).Eventually(func() error { return r.ReadyCheck(nil) }, 20*time.Second, 20*time.Millisecond).Should(Succeed())
	return r
}

// url returns the receiver's webhook URL.
func url(r *Receiver) string { return "http://" + r.Addr() + r.opts.Path }

// create creates obj and then writes its status as the controller would.
func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	status := obj.DeepCopyObject().(client.Object)
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %s: %v", obj.GetName(), err)
	}
	setStatus(t, c, obj, status)
}

// setStatus copies the status of from into obj with a merge patch as the controller's
// field owner.
func setStatus(t *testing.T, c client.Client, obj, from client.Object) {
	t.Helper()
	base := obj.DeepCopyObject().(client.Object)
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		o.Status = from.(*openaiv1alpha1.OpenAIBatch).Status
	case *openaiv1alpha1.OpenAIResponse:
		o.Status = from.(*openaiv1alpha1.OpenAIResponse).Status
	case *openaiv1alpha1.OpenAIFineTuningJob:
		o.Status = from.(*openaiv1alpha1.OpenAIFineTuningJob).Status
	}
	if err := c.Status().Patch(context.Background(), obj, client.MergeFrom(base), client.FieldOwner("openai-operator")); err != nil {
		t.Fatalf("writing the status of %s: %v", obj.GetName(), err)
	}
}

func lastEvent(g Gomega, c client.Client, obj client.Object) *openaiv1alpha1.WebhookEvent {
	g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		return o.Status.LastWebhookEvent
	case *openaiv1alpha1.OpenAIResponse:
		return o.Status.LastWebhookEvent
	case *openaiv1alpha1.OpenAIFineTuningJob:
		return o.Status.LastWebhookEvent
	}
	return nil
}

// TestRecordsEventsInStatus checks the record against a real API server: its fields,
// that it touches status.lastWebhookEvent alone under its own field owner, that
// duplicates write nothing, and the cache holds only what routing needs.
func TestRecordsEventsInStatus(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ctx := context.Background()
	ns := newNamespace(t, e.Client)
	batch := newBatch(ns, "nightly", "batch_"+ns)
	create(t, e.Client, batch)
	resp := newResponse(ns, "hello", "resp_"+ns)
	create(t, e.Client, resp)
	r := startReceiver(t, e.Config, Options{Namespace: ns})
	sec := testSecret(t, 0)
	created := time.Unix(time.Now().Unix()-30, 0)

	before := time.Now()
	g.Expect(signedEvent(sec, "wh_b", time.Now(), eventBody("evt_b", "batch.completed", created, "batch_"+ns)).send(t, url(r))).
		To(Equal(http.StatusOK))
	g.Expect(signedEvent(sec, "wh_r", time.Now(), eventBody("evt_r", "response.completed", created, "resp_"+ns)).send(t, url(r))).
		To(Equal(http.StatusOK))

	got := lastEvent(g, e.Client, batch)
	g.Expect(got).NotTo(BeNil())
	g.Expect(got.ID).To(Equal("evt_b"))
	g.Expect(got.Type).To(Equal("batch.completed"))
	g.Expect(got.CreatedAt.Time.Equal(created)).To(BeTrue(), "createdAt %s, want %s", got.CreatedAt, created)
	g.Expect(got.ReceivedAt.Time).To(BeTemporally("~", before, 5*time.Second))
	g.Expect(batch.Status.Phase).To(Equal(openaiv1alpha1.BatchPhaseInProgress), "the controller's fields stay")
	g.Expect(batch.Status.BatchID).To(Equal("batch_" + ns))
	g.Expect(lastEvent(g, e.Client, resp).ID).To(Equal("evt_r"))

	var owned []string
	for _, mf := range batch.ManagedFields {
		if mf.Manager == FieldOwner {
			g.Expect(mf.Subresource).To(Equal("status"))
			owned = append(owned, mf.FieldsV1.GetRawString())
		}
	}
	g.Expect(owned).To(HaveLen(1))
	g.Expect(owned[0]).To(Equal(`{"f:status":{"f:lastWebhookEvent":{".":{},"f:createdAt":{},"f:id":{},"f:receivedAt":{},"f:type":{}}}}`))

	rv := batch.ResourceVersion
	g.Expect(signedEvent(sec, "wh_b", time.Now(), eventBody("evt_b", "batch.completed", created, "batch_"+ns)).send(t, url(r))).
		To(Equal(http.StatusOK))
	g.Expect(signedEvent(sec, "wh_b2", time.Now(), eventBody("evt_b", "batch.completed", created, "batch_"+ns)).send(t, url(r))).
		To(Equal(http.StatusOK))
	lastEvent(g, e.Client, batch)
	g.Expect(batch.ResourceVersion).To(Equal(rv), "duplicates write nothing")

	m := r.Metrics()
	g.Expect(events(m, "batch.completed", OutcomeAccepted)).To(Equal(1.0))
	g.Expect(events(m, "response.completed", OutcomeAccepted)).To(Equal(1.0))
	g.Expect(events(m, "batch.completed", OutcomeDuplicate)).To(Equal(2.0))
	g.Expect(histogramCount(t, m.EventToStatus, fromReceived)).To(Equal(uint64(2)))
	g.Expect(histogramCount(t, m.EventToStatus, fromCreated)).To(Equal(uint64(2)))

	var cached openaiv1alpha1.OpenAIBatch
	g.Expect(r.deps.Cache.Get(ctx, client.ObjectKeyFromObject(batch), &cached)).To(Succeed())
	g.Expect(cached.Status.BatchID).To(Equal("batch_" + ns))
	g.Expect(cached.Spec.Input.Requests).To(BeEmpty(), "the cache drops the spec")
	g.Expect(cached.ManagedFields).To(BeEmpty())
	g.Expect(cached.Status.Phase).To(BeEmpty())
}

// TestEarlyEventAppliedWhenIDAppears checks that an event for an id no resource carries
// yet is held (202) and recorded as soon as the controller writes the id.
func TestEarlyEventAppliedWhenIDAppears(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ns := newNamespace(t, e.Client)
	r := startReceiver(t, e.Config, Options{Namespace: ns})
	sec := testSecret(t, 0)
	now := time.Now()
	id := "batch_early_" + ns
	w := signedEvent(sec, "wh_early", now, eventBody("evt_early", "batch.completed", now, id))

	g.Expect(w.send(t, url(r))).To(Equal(http.StatusAccepted))
	g.Expect(w.send(t, url(r))).To(Equal(http.StatusAccepted), "a retry while held")
	g.Expect(testutilGauge(r.Metrics().EarlyEvents)).To(Equal(1.0))

	batch := newBatch(ns, "late", "")
	create(t, e.Client, batch) // submitted, id not yet recorded
	withID := batch.DeepCopy()
	withID.Status.BatchID = id
	setStatus(t, e.Client, batch, withID)

	g.Eventually(func(g Gomega) {
		got := lastEvent(g, e.Client, batch)
		g.Expect(got).NotTo(BeNil())
		g.Expect(got.ID).To(Equal("evt_early"))
		g.Expect(got.ReceivedAt.Time).To(BeTemporally("~", now, time.Second), "receivedAt is the receipt, not the apply")
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	m := r.Metrics()
	g.Eventually(func() float64 { return testutilGauge(m.EarlyEvents) }).Should(BeZero())
	g.Expect(events(m, "batch.completed", OutcomeEarly)).To(Equal(1.0))
	g.Expect(events(m, "batch.completed", OutcomeDuplicate)).To(Equal(1.0))
	g.Expect(events(m, "batch.completed", OutcomeAccepted)).To(Equal(1.0))
	g.Expect(w.send(t, url(r))).To(Equal(http.StatusOK), "a retry after it landed")
	g.Expect(events(m, "batch.completed", OutcomeDuplicate)).To(Equal(2.0))
}

// TestUnclaimedEventExpires checks that an event for an id no resource ever carries is
// acknowledged, held for the configured time, then counted as unmanaged.
func TestUnclaimedEventExpires(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ns := newNamespace(t, e.Client)
	bystander := newResponse(ns, "bystander", "resp_other_"+ns)
	create(t, e.Client, bystander)
	r := startReceiver(t, e.Config, Options{Namespace: ns, EarlyEventTTL: 300 * time.Millisecond})
	now := time.Now()
	w := signedEvent(testSecret(t, 0), "wh_x", now, eventBody("evt_x", "response.failed", now, "resp_nobody_"+ns))

	g.Expect(w.send(t, url(r))).To(Equal(http.StatusAccepted))
	m := r.Metrics()
	g.Eventually(func() float64 { return events(m, "response.failed", OutcomeUnmanaged) }, 10*time.Second, 20*time.Millisecond).Should(Equal(1.0))
	g.Expect(testutilGauge(m.EarlyEvents)).To(BeZero())
	g.Expect(lastEvent(g, e.Client, bystander)).To(BeNil())
}

// TestNamespaceScope checks that --namespace limits what the receiver sees.
func TestNamespaceScope(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	watched, other := newNamespace(t, e.Client), newNamespace(t, e.Client)
	batch := newBatch(other, "elsewhere", "batch_"+other)
	create(t, e.Client, batch)
	r := startReceiver(t, e.Config, Options{Namespace: watched})
	now := time.Now()
	w := signedEvent(testSecret(t, 0), "wh_ns", now, eventBody("evt_ns", "batch.completed", now, "batch_"+other))
	g.Expect(w.send(t, url(r))).To(Equal(http.StatusAccepted))
	g.Expect(lastEvent(g, e.Client, batch)).To(BeNil())
}

// TestConcurrentReplicasNeverMoveBackwards sends events with increasing created_at in
// random order to two replicas at once: the newest wins, whatever the order.
func TestConcurrentReplicasNeverMoveBackwards(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ns := newNamespace(t, e.Client)
	id := "batch_race_" + ns
	batch := newBatch(ns, "raced", id)
	create(t, e.Client, batch)
	replicas := []*Receiver{startReceiver(t, e.Config, Options{Namespace: ns}), startReceiver(t, e.Config, Options{Namespace: ns})}
	sec := testSecret(t, 0)
	base := time.Unix(time.Now().Unix()-100, 0)

	const n = 16
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := signedEvent(
				sec,
				fmt.Sprintf("wh_%d", i),
				time.Now(),
				eventBody(fmt.Sprintf("evt_%02d", i), "batch.completed", base.Add(time.Duration(i)*time.Second), id),
			)
			codes[i] = w.send(t, url(replicas[i%2]))
		})
	}
	wg.Wait()
	for i, code := range codes {
		g.Expect(code).To(Equal(http.StatusOK), "event %d", i)
	}
	g.Expect(lastEvent(g, e.Client, batch).ID).To(Equal(fmt.Sprintf("evt_%02d", n-1)))
	var total float64
	for _, r := range replicas {
		for _, o := range []string{OutcomeAccepted, OutcomeSuperseded} {
			total += events(r.Metrics(), "batch.completed", o)
		}
		g.Expect(events(r.Metrics(), "batch.completed", OutcomeWriteError)).To(BeZero())
	}
	g.Expect(total).To(Equal(float64(n)))
}

// TestRBAC runs the receiver as a user holding exactly the receiver's RBAC, then as one
// without patch on status, which must be answered 503 so that OpenAI retries.
func TestRBAC(t *testing.T) {
	e := apiServer(t)
	ctx := context.Background()
	read := rbacv1.PolicyRule{
		APIGroups: []string{openaiv1alpha1.GroupVersion.Group},
		Resources: []string{"openaibatches", "openairesponses", "openaifinetuningjobs"},
		Verbs:     []string{"get", "list", "watch"},
	}
	patch := rbacv1.PolicyRule{
		APIGroups: []string{openaiv1alpha1.GroupVersion.Group},
		Resources: []string{"openaibatches/status", "openairesponses/status", "openaifinetuningjobs/status"},
		Verbs:     []string{"patch"},
	}
	cases := map[string]struct {
		rules    []rbacv1.PolicyRule
		wantCode int
		wantOut  string
	}{
		"the receiver's RBAC": {rules: []rbacv1.PolicyRule{read, patch}, wantCode: http.StatusOK, wantOut: OutcomeAccepted},
		"no patch on status":  {rules: []rbacv1.PolicyRule{read}, wantCode: http.StatusServiceUnavailable, wantOut: OutcomeWriteError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t, e.Client)
			user := "system:serviceaccount:" + ns + ":webhook-receiver"
			role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns}, Rules: tc.rules}
			g.Expect(e.Client.Create(ctx, role)).To(Succeed())
			g.Expect(e.Client.Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: ns},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ns},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
			})).To(Succeed())
			batch := newBatch(ns, "guarded", "batch_rbac_"+ns)
			create(t, e.Client, batch)

			cfg := rest.CopyConfig(e.Config)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
			r := startReceiver(t, cfg, Options{}) // all namespaces, as deployed
			now := time.Now()
			w := signedEvent(testSecret(t, 0), "wh_rbac", now, eventBody("evt_rbac", "batch.completed", now, "batch_rbac_"+ns))
			g.Eventually(func() int { return w.send(t, url(r)) }, 10*time.Second, 50*time.Millisecond).Should(Equal(tc.wantCode))
			g.Expect(events(r.Metrics(), "batch.completed", tc.wantOut)).To(BeNumerically(">=", 1))
			if tc.wantCode != http.StatusOK {
				g.Expect(lastEvent(g, e.Client, batch)).To(BeNil())
			} else {
				g.Expect(lastEvent(g, e.Client, batch).ID).To(Equal("evt_rbac"))
			}
		})
	}
}

// TestNotSyncedAnswers503 checks that a receiver whose cache has not synced refuses
// events with 503 and is not ready.
func TestNotSyncedAnswers503(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	_, r, err := NewManager(e.Config, Options{
		BindAddress: "127.0.0.1:0", MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		Secrets: StaticSecrets{testSecret(t, 0)}, Registerer: prometheus.NewRegistry(),
	})
	g.Expect(err).NotTo(HaveOccurred())
	w := signedEvent(testSecret(t, 0), "wh_1", time.Now(), eventBody("evt_1", "batch.completed", time.Now(), "batch_1"))
	rec := w.serve(r) // the manager has not started: no cache yet
	g.Expect(rec.Code).To(Equal(http.StatusServiceUnavailable))
	g.Expect(strings.ToLower(rec.Body.String())).To(ContainSubstring("cache"))
	g.Expect(events(r.Metrics(), typeUnknown, OutcomeUnavailable)).To(Equal(1.0))
	g.Expect(r.ReadyCheck(nil)).To(HaveOccurred())
}
