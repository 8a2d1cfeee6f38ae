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

package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	"github.com/openai-operator/openai-operator/internal/testenv"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// SetupLogging sends controller-runtime's and klog's logs to path as the binaries write
// them (zap, JSON, info level), so in-process parts pay the same logging cost.
func SetupLogging(path string) (io.Closer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	log := zap.New(zap.WriteTo(f), zap.Level(zapcore.InfoLevel))
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return f, nil
}

// Lab is the in-process environment of scenarios 2 to 4: a real API server (envtest)
// with the CRDs, clients on it, and the webhook receiver serving on a loopback port.
type Lab struct {
	// API is the API server.
	API *testenv.Env
	// Config is an admin config without client-side rate limiting, as the binaries use
	// (controller-runtime's GetConfig disables it).
	Config *rest.Config
	// Client is an uncached admin client: setup and the baselines use it.
	Client client.WithWatch
	// Kube is a clientset on Config, for the API server's own metrics.
	Kube kubernetes.Interface
	// Receiver is the webhook receiver (all namespaces) and ReceiverURL its endpoint.
	Receiver    *receiver.Receiver
	ReceiverURL string
	// Secret signs the webhooks the scenarios send; the receiver trusts it.
	Secret standardwebhooks.Secret
	// SecretString is Secret in its whsec_ form, for emulators.
	SecretString string

	receiverCache client.Reader
	stop          []func()
}

// StartLab starts the API server and the receiver.
func StartLab(ctx context.Context) (_ *Lab, err error) {
	l := &Lab{}
	defer func() {
		if err != nil {
			l.Stop()
		}
	}()
	if l.API, err = testenv.Start(); err != nil {
		return nil, err
	}
	l.stop = append(l.stop, func() { _ = l.API.Stop() })
	l.Config = rest.CopyConfig(l.API.Config)
	l.Config.QPS, l.Config.Burst = -1, 0
	if l.Client, err = client.NewWithWatch(l.Config, client.Options{Scheme: testenv.Scheme}); err != nil {
		return nil, err
	}
	if l.Kube, err = kubernetes.NewForConfig(l.Config); err != nil {
		return nil, err
	}
	l.SecretString = standardwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("bench-signing-key-"), 2))
	if l.Secret, err = standardwebhooks.ParseSecret(l.SecretString); err != nil {
		return nil, err
	}
	mgr, r, err := receiver.NewManager(l.Config, receiver.Options{
		BindAddress:            "127.0.0.1:0",
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		Secrets:                receiver.StaticSecrets{l.Secret},
		Registerer:             prometheus.NewRegistry(),
	})
	if err != nil {
		return nil, err
	}
	l.Receiver, l.receiverCache = r, mgr.GetCache()
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(rctx) }()
	l.stop = append(l.stop, func() {
		cancel()
		select {
		case <-done: //nolint:errcheck // the lab is stopping: the receiver's error no longer matters
		case <-time.After(30 * time.Second):
		}
	})
	deadline := time.Now().Add(time.Minute)
	for r.ReadyCheck(nil) != nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the receiver is not ready after a minute: %w", r.ReadyCheck(nil))
		}
		select {
		case err := <-done:
			return nil, fmt.Errorf("the receiver stopped: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	l.ReceiverURL = "http://" + r.Addr() + receiver.DefaultPath
	return l, nil
}

// Stop stops everything StartLab started, last first.
func (l *Lab) Stop() {
	for i := len(l.stop) - 1; i >= 0; i-- {
		l.stop[i]()
	}
	l.stop = nil
}

// NewNamespace creates a namespace named after prefix.
func (l *Lab) NewNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := l.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// Target is an OpenAIBatch that events are routed to.
type Target struct {
	Namespace, Name, BatchID string
}

// Key returns the object key of the target.
func (t Target) Key() client.ObjectKey { return client.ObjectKey{Namespace: t.Namespace, Name: t.Name} }

// newBatch returns an OpenAIBatch of the given number of inline embedding requests.
func newBatch(ns, name, model string, requests int) *openaiv1alpha1.OpenAIBatch {
	b := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
	}
	for i := range max(requests, 1) {
		b.Spec.Input.Requests = append(b.Spec.Input.Requests, openaiv1alpha1.BatchRequest{
			CustomID: fmt.Sprintf("r%d", i),
			Body:     runtime.RawExtension{Raw: fmt.Appendf(nil, `{"model":%q,"input":"document %d"}`, model, i)},
		})
	}
	return b
}

// CreateRoutedBatches creates OpenAIBatches from index to index+n-1 in ns and writes
// status.batchID and phase as the controller would (with no controller running).
func (l *Lab) CreateRoutedBatches(ctx context.Context, ns string, from, n int) ([]Target, error) {
	out := make([]Target, n)
	err := parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		idx := from + i
		t := Target{Namespace: ns, Name: fmt.Sprintf("b-%05d", idx), BatchID: fmt.Sprintf("batch_%s_%05d", ns, idx)}
		b := newBatch(ns, t.Name, "text-embedding-3-small", 1)
		if err := l.Client.Create(ctx, b); err != nil {
			return err
		}
		patch := fmt.Appendf(nil, `{"status":{"batchID":%q,"phase":"InProgress"}}`, t.BatchID)
		if err := l.Client.Status().Patch(ctx, b, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("openai-operator")); err != nil {
			return err
		}
		out[i] = t
		return nil
	})
	return out, err
}

// WaitReceiverCache waits until the receiver's cache holds every target at the given
// resource versions (or newer writes), so that a round starts from a settled cache.
func (l *Lab) WaitReceiverCache(ctx context.Context, rvs map[Target]string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		behind := 0
		for t, rv := range rvs {
			b := &openaiv1alpha1.OpenAIBatch{}
			if err := l.receiverCache.Get(ctx, t.Key(), b); err != nil || rvLess(b.ResourceVersion, rv) {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the receiver's cache is %d objects behind after a minute", behind)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// rvLess compares resource versions as etcd revisions (opaque to clients in general,
// numeric on this API server).
func rvLess(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	if errA != nil || errB != nil {
		return a != b
	}
	return x < y
}

// ResourceVersions lists the targets' namespaces and returns each target's version.
func (l *Lab) ResourceVersions(ctx context.Context, targets []Target) (map[Target]string, error) {
	byNS := map[string]map[string]string{}
	for _, t := range targets {
		if byNS[t.Namespace] != nil {
			continue
		}
		list := &openaiv1alpha1.OpenAIBatchList{}
		if err := l.Client.List(ctx, list, client.InNamespace(t.Namespace)); err != nil {
			return nil, err
		}
		byNS[t.Namespace] = map[string]string{}
		for _, b := range list.Items {
			byNS[t.Namespace][b.Name] = b.ResourceVersion
		}
	}
	out := make(map[Target]string, len(targets))
	for _, t := range targets {
		out[t] = byNS[t.Namespace][t.Name]
	}
	return out, nil
}

// Event is an OpenAI webhook event the scenarios send.
type Event struct {
	WebhookID string
	ID        string
	Type      string
	CreatedAt time.Time
	ObjectID  string
}

// Body returns the event's JSON as OpenAI sends it.
func (e Event) Body() []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","created_at":%d,"type":%q,"data":{"id":%q}}`, e.ID, e.CreatedAt.Unix(), e.Type, e.ObjectID)
}

// Sender posts signed events to the receiver over loopback HTTP, reusing connections.
type Sender struct {
	url    string
	secret standardwebhooks.Secret
	client *http.Client
}

// NewSender returns a sender for up to conns concurrent requests.
func (l *Lab) NewSender(conns int) *Sender { return newSender(l.ReceiverURL, l.Secret, conns) }

func newSender(url string, secret standardwebhooks.Secret, conns int) *Sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	tr.MaxIdleConns = conns
	return &Sender{url: url, secret: secret, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Send posts e and returns the status code and the answer's text.
func (s *Sender) Send(ctx context.Context, e Event) (int, string, error) {
	body := e.Body()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	now := time.Now()
	standardwebhooks.Headers{
		ID:        e.WebhookID,
		Timestamp: strconv.FormatInt(now.Unix(), 10),
		Signature: s.secret.Sign(e.WebhookID, now, body),
	}.Set(
		req.Header,
	)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode, string(bytes.TrimSpace(text)), nil
}

// CloseIdle closes the sender's idle connections.
func (s *Sender) CloseIdle() { s.client.CloseIdleConnections() }

// BarePatch writes the status patch the receiver sends for e (the resource version it
// decided on, then status.lastWebhookEvent) straight to the API server, and returns the
// new resource version. It is the baseline of the receiver's work.
func BarePatch(ctx context.Context, c client.Client, t Target, rv string, e Event) (string, error) {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": rv},
		"status": map[string]any{"lastWebhookEvent": openaiv1alpha1.WebhookEvent{
			ID: e.ID, Type: e.Type, CreatedAt: metav1.NewTime(e.CreatedAt), ReceivedAt: metav1.NowMicro(),
		}},
	})
	if err != nil {
		return "", err
	}
	obj := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name}}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("bench-baseline")); err != nil {
		return "", err
	}
	return obj.ResourceVersion, nil
}

// parallel runs fn for 0..n-1 on conc workers and returns the first error.
func parallel(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
