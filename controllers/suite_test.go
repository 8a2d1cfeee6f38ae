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
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// testOptions poll fast, so polling-driven tests finish quickly.
func testOptions() Options {
	return Options{
		DefaultCredentialsSecret: "openai-credentials",
		PollIntervalMin:          100 * time.Millisecond,
		PollIntervalMax:          time.Second,
		RetryInterval:            200 * time.Millisecond,
		DeletionTimeout:          3 * time.Second,
		MaxConcurrentReconciles:  4,
		BackoffMin:               50 * time.Millisecond,
		BackoffMax:               time.Second,
		QuotaRetryInterval:       2 * time.Second,
	}
}

// fixture is one test's namespace, emulator and manager.
type fixture struct {
	t   *testing.T
	g   *WithT
	ctx context.Context
	ns  string
	emu *emulator.Server
	c   client.Client
	// wrapReader, when set, wraps the managers' direct reader (Secrets, ConfigMaps).
	wrapReader func(client.Reader) client.Reader
	// dropEvents, when it returns true, makes the next manager started lose every
	// Event it records, as a process that dies before its Events are sent does.
	dropEvents func() bool
	// selector, when set, is the managers' shard selector (CacheOptions).
	selector labels.Selector
	// batchTransform, when set, replaces the cache transform of OpenAIBatch objects.
	batchTransform func(any) (any, error)
	// cache is the cache of the manager started last.
	cache cache.Cache
}

type fixtureOptions struct {
	opts      Options
	emulator  emulator.Options
	noManager bool
	wrap      func(client.Client) client.Client
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if fo.emulator.TimeScale == 0 {
		fo.emulator.TimeScale = 0.05
	}
	if len(fo.emulator.APIKeys) == 0 {
		fo.emulator.APIKeys = []string{emulator.DefaultAPIKey, observerKey}
	}
	emu, err := emulator.Start(fo.emulator)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(emu.Close)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ctrl-"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())
	f := &fixture{t: t, g: g, ctx: ctx, ns: ns.Name, emu: emu, c: env.Client}
	f.createSecret("openai-credentials", map[string]string{"apiKey": emulator.DefaultAPIKey})
	if !fo.noManager {
		if fo.opts == (Options{}) {
			fo.opts = testOptions()
		}
		f.startManager(fo.opts, fo.wrap)
	}
	return f
}

// startManager runs both reconcilers for the fixture's namespace until the test ends
// or the returned stop is called.
func (f *fixture) startManager(opts Options, wrap func(client.Client) client.Client) (stop func()) {
	f.t.Helper()
	cacheOpts := CacheOptions([]string{f.ns}, f.selector)
	if f.batchTransform != nil {
		bo := cacheOpts.ByObject[batchKey(cacheOpts)]
		bo.Transform = f.batchTransform
		cacheOpts.ByObject[batchKey(cacheOpts)] = bo
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cacheOpts,
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
	})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.cache = mgr.GetCache()
	c := mgr.GetClient()
	if wrap != nil {
		c = wrap(c)
	}
	// The tests point credentials Secrets at proxies of the emulator: allow any base URL.
	anyBaseURL, err := openaiclient.ParseBaseURLs([]string{openaiclient.AnyBaseURL})
	f.g.Expect(err).NotTo(HaveOccurred())
	factory := &openaiclient.Factory{BaseURL: f.emu.URL(), AllowedBaseURLs: anyBaseURL, Observe: ObserveAPICall}
	if opts.Webhooks.SecretNamespace == "" {
		opts.Webhooks.SecretNamespace = f.ns // each test has its own receiver Secret
	}
	shared := newSharedState(opts)
	reader := mgr.GetAPIReader()
	if f.wrapReader != nil {
		reader = f.wrapReader(reader)
	}
	drop := f.dropEvents != nil && f.dropEvents()
	deps := func(name string) Deps {
		rec := mgr.GetEventRecorder(name)
		if drop {
			rec = lostEvents{}
		}
		return Deps{Client: c, APIReader: reader, Scheme: mgr.GetScheme(), Recorder: rec, OpenAI: factory, Options: opts, shared: shared}
	}
	f.g.Expect((&BatchReconciler{Deps: deps("openaibatch-controller")}).SetupWithManager(mgr)).To(Succeed())
	f.g.Expect((&ResponseReconciler{Deps: deps("openairesponse-controller")}).SetupWithManager(mgr)).To(Succeed())
	f.g.Expect((&FineTuningJobReconciler{Deps: deps("openaifinetuningjob-controller")}).SetupWithManager(mgr)).To(Succeed())
	f.g.Expect((&WebhookEndpointReconciler{Deps: deps("openaiwebhookendpoint-controller")}).SetupWithManager(mgr)).To(Succeed())
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Start(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	f.t.Cleanup(stop)
	return stop
}

// batchKey is the key of OpenAIBatch in the cache options' ByObject.
func batchKey(o cache.Options) client.Object {
	for k := range o.ByObject {
		if _, ok := k.(*openaiv1alpha1.OpenAIBatch); ok {
			return k
		}
	}
	return &openaiv1alpha1.OpenAIBatch{}
}

func (f *fixture) createSecret(name string, data map[string]string) {
	f.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, StringData: data}
	f.g.Expect(f.c.Create(f.ctx, s)).To(Succeed())
}

func (f *fixture) createConfigMap(name string, data map[string]string) {
	f.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, Data: data}
	f.g.Expect(f.c.Create(f.ctx, cm)).To(Succeed())
}

// observerKey is the emulator key of the tests' own client: it keeps working while the
// managers' key (emulator.DefaultAPIKey) is revoked.
const observerKey = "sk-test-observer-key"

// sdk is an OpenAI client on the emulator, for arranging and checking state.
func (f *fixture) sdk() *openai.Client {
	c := openai.NewClient(option.WithBaseURL(f.emu.URL()), option.WithAPIKey(observerKey), option.WithMaxRetries(0))
	return &c
}

// batch builds an OpenAIBatch of n inline embedding requests.
func (f *fixture) batch(name string, n int, model string) *openaiv1alpha1.OpenAIBatch {
	b := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
	}
	for i := range n {
		body := fmt.Sprintf(`{"model":%q,"input":"document %d"}`, model, i)
		b.Spec.Input.Requests = append(b.Spec.Input.Requests, openaiv1alpha1.BatchRequest{
			CustomID: fmt.Sprintf("req-%d", i), Body: runtime.RawExtension{Raw: []byte(body)},
		})
	}
	return b
}

func (f *fixture) response(name, model, text string) *openaiv1alpha1.OpenAIResponse {
	return &openaiv1alpha1.OpenAIResponse{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: openaiv1alpha1.OpenAIResponseSpec{
			Model: model, Input: openaiv1alpha1.ResponseInput{Text: text},
		},
	}
}

func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	f.g.Expect(f.c.Create(f.ctx, obj)).To(Succeed())
}

// edit reads obj afresh, applies mutate to it and updates it, again on a conflict: the
// manager's status writes change the resource version under a test's edit, as they do
// under a user's.
func (f *fixture) edit(obj client.Object, mutate func()) {
	f.t.Helper()
	f.g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := f.c.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return f.c.Update(f.ctx, obj)
	})).To(Succeed())
}

func (f *fixture) getBatch(name string) *openaiv1alpha1.OpenAIBatch {
	b := &openaiv1alpha1.OpenAIBatch{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, b)).To(Succeed())
	return b
}

func (f *fixture) getResponse(name string) *openaiv1alpha1.OpenAIResponse {
	r := &openaiv1alpha1.OpenAIResponse{}
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, r)).To(Succeed())
	return r
}

// condition returns a function that reads a condition of the named resource, for Eventually.
func (f *fixture) condition(obj client.Object, typ string) func() *metav1.Condition {
	return func() *metav1.Condition {
		if err := f.c.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return nil
		}
		switch o := obj.(type) {
		case *openaiv1alpha1.OpenAIBatch:
			return meta.FindStatusCondition(o.Status.Conditions, typ)
		case *openaiv1alpha1.OpenAIResponse:
			return meta.FindStatusCondition(o.Status.Conditions, typ)
		case *openaiv1alpha1.OpenAIFineTuningJob:
			return meta.FindStatusCondition(o.Status.Conditions, typ)
		}
		return nil
	}
}

// haveStatus matches a condition's status (and, optionally, reason).
func haveStatus(status metav1.ConditionStatus, reason ...string) OmegaMatcher {
	m := []OmegaMatcher{Not(BeNil()), HaveField("Status", status)}
	if len(reason) > 0 {
		m = append(m, HaveField("Reason", reason[0]))
	}
	return SatisfyAll(m...)
}

// events returns the Events about the named object.
func (f *fixture) events(name string) []eventsv1.Event {
	list := &eventsv1.EventList{}
	f.g.Expect(f.c.List(f.ctx, list, client.InNamespace(f.ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// reasons returns a function that lists the reasons of the Events about name, for
// Eventually: the recorder writes Events asynchronously, so one emitted with a status
// change can reach the API server after the status does.
func (f *fixture) reasons(name string) func() []string {
	return func() []string { return eventReasons(f.events(name)) }
}

func eventReasons(events []eventsv1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Reason)
	}
	return out
}

// miniReceiver stands in for the webhook receiver in these tests (the real one is
// tested on its own and end to end): it verifies the signature and records the event on
// the resource whose status carries the id, as the receiver does.
type miniReceiver struct {
	f        *fixture
	srv      *httptest.Server
	mu       sync.Mutex
	recorded map[string]time.Time // object id -> when the status write landed
}

// startMiniReceiver runs a mini receiver for the emulator's --webhook-url deliveries.
func (f *fixture) startMiniReceiver() *miniReceiver {
	secret, err := standardwebhooks.ParseSecret(f.emu.WebhookSecret())
	f.g.Expect(err).NotTo(HaveOccurred())
	mr := f.newMiniReceiver(func() []standardwebhooks.Secret { return []standardwebhooks.Secret{secret} })
	f.emu.AddWebhookURL(mr.srv.URL)
	return mr
}

// newMiniReceiver runs a mini receiver that verifies with the secrets it is given on
// each request (503 when there are none, as the receiver answers).
func (f *fixture) newMiniReceiver(secrets func() []standardwebhooks.Secret) *miniReceiver {
	mr := &miniReceiver{f: f, recorded: map[string]time.Time{}}
	mr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		keys := secrets()
		if len(keys) == 0 {
			http.Error(w, "no webhook signing secret is configured", http.StatusServiceUnavailable)
			return
		}
		if err := standardwebhooks.Verify(keys, standardwebhooks.HeadersFrom(r.Header), body, time.Now(), standardwebhooks.DefaultTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			CreatedAt int64  `json:"created_at"`
			Data      struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		record := openaiv1alpha1.WebhookEvent{ID: ev.ID, Type: ev.Type, CreatedAt: metav1.Unix(ev.CreatedAt, 0), ReceivedAt: metav1.NowMicro()}
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{"lastWebhookEvent": record}})
		var target client.Object
		batches := &openaiv1alpha1.OpenAIBatchList{}
		responses := &openaiv1alpha1.OpenAIResponseList{}
		_ = f.c.List(r.Context(), batches, client.InNamespace(f.ns))
		_ = f.c.List(r.Context(), responses, client.InNamespace(f.ns))
		for i := range batches.Items {
			if batches.Items[i].Status.BatchID == ev.Data.ID {
				target = &batches.Items[i]
			}
		}
		for i := range responses.Items {
			if responses.Items[i].Status.ResponseID == ev.Data.ID {
				target = &responses.Items[i]
			}
		}
		jobs := &openaiv1alpha1.OpenAIFineTuningJobList{}
		_ = f.c.List(r.Context(), jobs, client.InNamespace(f.ns))
		for i := range jobs.Items {
			if jobs.Items[i].Status.JobID == ev.Data.ID {
				target = &jobs.Items[i]
			}
		}
		if target == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		if err := f.c.Status().Patch(r.Context(), target, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		mr.mu.Lock()
		mr.recorded[ev.Data.ID] = time.Now()
		mr.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	f.t.Cleanup(mr.srv.Close)
	return mr
}

func (mr *miniReceiver) recordedAt(id string) (time.Time, bool) {
	mr.mu.Lock()
	defer mr.mu.Unlock()
	t, ok := mr.recorded[id]
	return t, ok
}

// lostEvents is the recorder of a process whose Events never reach the API server.
type lostEvents struct{}

func (lostEvents) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {}

func (lostEvents) AnnotatedEventf(runtime.Object, runtime.Object, map[string]string, string, string, string, string, ...any) {
}
