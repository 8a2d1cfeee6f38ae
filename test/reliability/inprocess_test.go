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

package reliability

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	"github.com/openai-operator/openai-operator/internal/testenv"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// newNamespace creates a namespace with the default credentials Secret.
func newNamespace(t *testing.T, c client.Client, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "openai-credentials"},
		StringData: map[string]string{"apiKey": emulator.DefaultAPIKey},
	}
	if err := c.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// runManager runs both controllers in process for namespace ns until the test ends,
// calling OpenAI through hc.
func runManager(t *testing.T, e *testenv.Env, ns string, baseURL string, hc *http.Client, opts controllers.Options) {
	t.Helper()
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	factory := &openaiclient.Factory{BaseURL: baseURL, HTTPClient: hc, RequestTimeout: 30 * time.Second, Observe: controllers.ObserveAPICall}
	if err := controllers.SetupWithManager(mgr, factory, opts); err != nil {
		t.Fatal(err)
	}
	start(t, "manager", mgr.Start)
}

// runReceiver runs the webhook receiver in process for namespace ns until the test ends
// and returns its webhook URL once it is ready.
func runReceiver(t *testing.T, e *testenv.Env, ns string, secret string) string {
	t.Helper()
	sec, err := standardwebhooks.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	mgr, r, err := receiver.NewManager(e.Config, receiver.Options{
		BindAddress: "127.0.0.1:0", MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		Namespace: ns, Secrets: receiver.StaticSecrets{sec}, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, "receiver", mgr.Start)
	deadline := time.Now().Add(30 * time.Second)
	for r.ReadyCheck(nil) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver is not ready after 30s: %v", r.ReadyCheck(nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + r.Addr() + receiver.DefaultPath
}

// start runs fn until the test ends.
func start(t *testing.T, name string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s", name)
		}
	})
}

// apiCall is one OpenAI API call as the manager made it.
type apiCall struct {
	at     time.Time
	op     string
	object string // the resource tag or OpenAI id the call is about; "" for lists
	status int
}

// callLog is an http.RoundTripper that records every API call and which object it was
// about: the id in the path, or the operator's tag in a create's body.
type callLog struct {
	next  http.RoundTripper
	mu    sync.Mutex
	calls []apiCall
}

var (
	idInPath  = regexp.MustCompile(`/v1/(?:batches|responses|files)/([A-Za-z0-9_\-]+)`)
	tagInBody = regexp.MustCompile(`openai\.operator\.dev/resource"?\s*:\s*"([^"]+)"|openai-operator_([^"]+?)\.jsonl`)
)

func (l *callLog) RoundTrip(req *http.Request) (*http.Response, error) {
	object := ""
	if m := idInPath.FindStringSubmatch(req.URL.Path); m != nil {
		object = m[1]
	} else if req.Body != nil && req.Method == http.MethodPost {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if m := tagInBody.FindSubmatch(body); m != nil {
			object = string(m[1]) + string(m[2])
		}
	}
	resp, err := l.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	l.mu.Lock()
	l.calls = append(l.calls, apiCall{at: time.Now(), op: openaiclient.Operation(req.Method, req.URL.Path), object: object, status: status})
	l.mu.Unlock()
	return resp, err
}

func (l *callLog) snapshot() []apiCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]apiCall(nil), l.calls...)
}
