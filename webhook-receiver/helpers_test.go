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
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// testSecret returns a distinct, valid signing secret for each n.
func testSecret(t testing.TB, n int) standardwebhooks.Secret {
	t.Helper()
	s, err := standardwebhooks.ParseSecret(testSecretString(n))
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return s
}

func testSecretString(n int) string {
	return standardwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte('a' + n)}, 32))
}

// webhook is a webhook request under construction.
type webhook struct {
	method    string
	path      string
	id        string
	timestamp string
	signature string // when empty, computed with secrets
	secrets   []standardwebhooks.Secret
	body      []byte
	noHeaders bool
	noSig     bool // send no webhook-signature header
}

// eventBody returns an OpenAI event body.
func eventBody(evtID, typ string, created time.Time, objectID string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","created_at":%d,"type":%q,"data":{"id":%q}}`, evtID, created.Unix(), typ, objectID)
}

// signedEvent returns a webhook for an event, signed with sec at now.
func signedEvent(sec standardwebhooks.Secret, webhookID string, now time.Time, body []byte) webhook {
	return webhook{id: webhookID, timestamp: strconv.FormatInt(now.Unix(), 10), secrets: []standardwebhooks.Secret{sec}, body: body}
}

func (w webhook) request(url string) *http.Request {
	method := w.method
	if method == "" {
		method = http.MethodPost
	}
	req := httptest.NewRequest(method, url, bytes.NewReader(w.body))
	if !w.noHeaders {
		sig := w.signature
		if sig == "" {
			var sigs []string
			for _, s := range w.secrets {
				sigs = append(sigs, s.SignRaw(w.id, w.timestamp, w.body))
			}
			sig = strings.Join(sigs, " ")
		}
		standardwebhooks.Headers{ID: w.id, Timestamp: w.timestamp, Signature: sig}.Set(req.Header)
		if w.noSig {
			req.Header.Del(standardwebhooks.HeaderSignature)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)")
	return req
}

// serve sends w to the receiver's handler and returns the recorded response.
func (w webhook) serve(r *Receiver) *httptest.ResponseRecorder {
	path := w.path
	if path == "" {
		path = r.opts.Path
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, w.request("http://receiver.test"+path))
	return rec
}

// send posts w to a running receiver and returns the status code.
func (w webhook) send(t testing.TB, baseURL string) int {
	t.Helper()
	req := w.request(baseURL)
	req.RequestURI = ""
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sending webhook: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// events returns the value of openai_webhook_events_total{type,outcome}.
func events(m *Metrics, typ, outcome string) float64 {
	return testutil.ToFloat64(m.Events.WithLabelValues(typ, outcome))
}

// eventsTotal returns the sum of openai_webhook_events_total over all series.
func eventsTotal(t testing.TB, m *Metrics) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	m.Events.Collect(ch)
	close(ch)
	var sum float64
	for metric := range ch {
		var pb dto.Metric
		if err := metric.Write(&pb); err != nil {
			t.Fatal(err)
		}
		sum += pb.GetCounter().GetValue()
	}
	return sum
}

// histogramCount returns how many observations a histogram series holds.
func histogramCount(t testing.TB, h *prometheus.HistogramVec, labels ...string) uint64 {
	t.Helper()
	var pb dto.Metric
	if err := h.WithLabelValues(labels...).(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}

// newBatch returns an OpenAIBatch whose status carries batchID.
func newBatch(namespace, name, batchID string) *openaiv1alpha1.OpenAIBatch {
	return &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: openaiv1alpha1.OpenAIBatchSpec{
			Endpoint:         openaiv1alpha1.BatchEndpointEmbeddings,
			CompletionWindow: "24h",
			Input: openaiv1alpha1.BatchInput{Requests: []openaiv1alpha1.BatchRequest{{
				CustomID: "one",
				Body:     runtime.RawExtension{Raw: []byte(`{"model":"text-embedding-3-small","input":"hello"}`)},
			}}},
		},
		Status: openaiv1alpha1.OpenAIBatchStatus{BatchID: batchID, Phase: openaiv1alpha1.BatchPhaseInProgress},
	}
}

// newResponse returns an OpenAIResponse whose status carries responseID.
func newResponse(namespace, name, responseID string) *openaiv1alpha1.OpenAIResponse {
	return &openaiv1alpha1.OpenAIResponse{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: openaiv1alpha1.OpenAIResponseSpec{
			Model: "gpt-4.1-mini",
			Input: openaiv1alpha1.ResponseInput{Text: "Say hello"},
		},
		Status: openaiv1alpha1.OpenAIResponseStatus{ResponseID: responseID, Phase: openaiv1alpha1.ResponsePhaseInProgress},
	}
}

// newFineTuningJob returns an OpenAIFineTuningJob whose status carries jobID.
func newFineTuningJob(namespace, name, jobID string) *openaiv1alpha1.OpenAIFineTuningJob {
	return &openaiv1alpha1.OpenAIFineTuningJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: openaiv1alpha1.OpenAIFineTuningJobSpec{
			Model:        "gpt-4o-mini",
			TrainingData: openaiv1alpha1.TrainingData{FileID: "file-train"},
		},
		Status: openaiv1alpha1.OpenAIFineTuningJobStatus{JobID: jobID, Phase: openaiv1alpha1.FineTuningPhaseRunning},
	}
}

// newFakeReceiver returns a receiver over a fake client holding objs, verifying with
// the secrets of opts (testSecret 0 when unset) and counting into a fresh registry.
func newFakeReceiver(t testing.TB, opts Options, funcs *interceptor.Funcs, objs ...client.Object) (*Receiver, client.Client) {
	t.Helper()
	var c = fake.NewClientBuilder().
		WithScheme(Scheme).
		WithStatusSubresource(&openaiv1alpha1.OpenAIBatch{}, &openaiv1alpha1.OpenAIResponse{}, &openaiv1alpha1.OpenAIFineTuningJob{}).
		WithIndex(&openaiv1alpha1.OpenAIBatch{}, IndexBatchID, batchIDOf).
		WithIndex(&openaiv1alpha1.OpenAIResponse{}, IndexResponseID, responseIDOf).
		WithIndex(&openaiv1alpha1.OpenAIFineTuningJob{}, IndexJobID, jobIDOf).
		WithObjects(objs...).
		Build()
	if funcs != nil {
		c = interceptor.NewClient(c, *funcs)
	}
	if opts.Secrets == nil {
		opts.Secrets = StaticSecrets{testSecret(t, 0)}
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	r, err := New(Deps{Cache: c, Client: c}, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, c
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func testutilGauge(g prometheus.Gauge) float64 { return testutil.ToFloat64(g) }
