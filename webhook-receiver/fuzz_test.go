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
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// documentedCodes are the only status codes the receiver answers with.
var documentedCodes = map[int]bool{200: true, 202: true, 400: true, 401: true, 404: true, 405: true, 408: true, 413: true, 503: true}

// FuzzHandler sends arbitrary requests to the handler. When sign is true the request
// is signed with the receiver's secret (after the fuzzer chose the headers and body),
// so that the fuzzer also explores what happens after verification. The handler must
// never panic, must answer only documented codes, and must never answer 2xx to a
// request it did not sign.
func FuzzHandler(f *testing.F) {
	const ts = "1750861210"
	now := time.Unix(1750861210, 0)
	f.Add(
		"POST",
		DefaultPath,
		"wh_1",
		ts,
		"",
		[]byte(`{"id":"evt_1","object":"event","created_at":1750861210,"type":"batch.completed","data":{"id":"batch_fuzz"}}`),
		true,
	)
	f.Add(
		"POST",
		DefaultPath,
		"wh_2",
		ts,
		"",
		[]byte(`{"id":"evt_2","created_at":1750861210,"type":"response.completed","data":{"id":"resp_unknown"}}`),
		true,
	)
	f.Add("POST", DefaultPath, "wh_3", ts, "v1,AAAA", []byte(`{"id":"evt_3"}`), false)
	f.Add("GET", "/", "", "", "", []byte(nil), false)

	sec := testSecret(f, 0)
	r, _ := newFakeReceiver(f, Options{
		MaxBodyBytes:   4096,
		MaxEarlyEvents: 64,
		Registerer:     prometheus.NewRegistry(),
		Now:            func() time.Time { return now },
	}, nil, newBatch("ns", "b", "batch_fuzz"), newResponse("ns", "r", "resp_fuzz"))

	f.Fuzz(func(t *testing.T, method, path, id, timestamp, signature string, body []byte, sign bool) {
		if sign {
			signature = strings.TrimSpace(signature + " " + sec.SignRaw(id, timestamp, body))
		}
		req := httptest.NewRequest(http.MethodPost, "http://receiver.test/", bytes.NewReader(body))
		req.Method = method
		req.URL.Path = path
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", timestamp)
		req.Header.Set("webhook-signature", signature)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if !documentedCodes[rec.Code] {
			t.Fatalf("undocumented status code %d", rec.Code)
		}
		if rec.Code < 300 && !sign {
			t.Fatalf("answered %d to a request without a valid signature", rec.Code)
		}
	})
}
