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
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestParseEvent(t *testing.T) {
	fallback := time.Unix(1750000000, 0)
	cases := map[string]struct {
		body    string
		want    event
		wantErr bool
	}{
		"batch event": {
			body: `{"id":"evt_1","object":"event","created_at":1750861210,"type":"batch.completed","data":{"id":"batch_1"}}`,
			want: event{ID: "evt_1", Type: "batch.completed", CreatedAt: time.Unix(1750861210, 0), ObjectID: "batch_1"},
		},
		"response event": {
			body: `{"id":"evt_2","created_at":1750861210,"type":"response.incomplete","data":{"id":"resp_1"}}`,
			want: event{ID: "evt_2", Type: "response.incomplete", CreatedAt: time.Unix(1750861210, 0), ObjectID: "resp_1"},
		},
		"float created_at": {
			body: `{"id":"evt_1","created_at":1750861210.75,"type":"batch.failed","data":{"id":"batch_1"}}`,
			want: event{ID: "evt_1", Type: "batch.failed", CreatedAt: time.Unix(1750861210, 0), ObjectID: "batch_1"},
		},
		"no created_at": {
			body: `{"id":"evt_1","type":"batch.failed","data":{"id":"batch_1"}}`,
			want: event{ID: "evt_1", Type: "batch.failed", CreatedAt: fallback, ObjectID: "batch_1"},
		},
		"extra fields": {
			body: `{"id":"evt_1","created_at":1,"type":"batch.failed","data":{"id":"batch_1","more":[1,2]},"new":true}`,
			want: event{ID: "evt_1", Type: "batch.failed", CreatedAt: time.Unix(1, 0), ObjectID: "batch_1"},
		},
		"unmanaged, no data": {
			body: `{"id":"evt_1","created_at":1,"type":"eval.run.failed"}`,
			want: event{ID: "evt_1", Type: "eval.run.failed", CreatedAt: time.Unix(1, 0)},
		},
		"leading space": {
			body: " \n{\"id\":\"evt_1\",\"created_at\":1,\"type\":\"x\"}",
			want: event{ID: "evt_1", Type: "x", CreatedAt: time.Unix(1, 0)},
		},
		"null":              {body: `null`, wantErr: true},
		"string":            {body: `"evt_1"`, wantErr: true},
		"empty":             {body: ``, wantErr: true},
		"id not a string":   {body: `{"id":1,"created_at":1,"type":"batch.failed","data":{"id":"batch_1"}}`, wantErr: true},
		"created_at string": {body: `{"id":"evt_1","created_at":"yesterday","type":"batch.failed","data":{"id":"batch_1"}}`, wantErr: true},
		"created_at zero":   {body: `{"id":"evt_1","created_at":0,"type":"batch.failed","data":{"id":"batch_1"}}`, wantErr: true},
		"data.id empty":     {body: `{"id":"evt_1","created_at":1,"type":"response.failed","data":{"id":""}}`, wantErr: true},
		"data null":         {body: `{"id":"evt_1","created_at":1,"type":"response.failed","data":null}`, wantErr: true},
		"type too long":     {body: `{"id":"evt_1","created_at":1,"type":"` + longString(129) + `"}`, wantErr: true},
		"trailing garbage":  {body: `{"id":"evt_1","created_at":1,"type":"x"} {}`, wantErr: true},
		"data.id of 256": {
			body: `{"id":"evt_1","created_at":1,"type":"batch.failed","data":{"id":"` + longString(256) + `"}}`,
			want: event{ID: "evt_1", Type: "batch.failed", CreatedAt: time.Unix(1, 0), ObjectID: longString(256)},
		},
		"data.id too long": {body: `{"id":"evt_1","created_at":1,"type":"batch.failed","data":{"id":"` + longString(257) + `"}}`, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := parseEvent([]byte(tc.body), fallback)
			if tc.wantErr {
				g.Expect(err).To(MatchError(errMalformedEvent))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func longString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestTypeLabelIsBounded(t *testing.T) {
	g := NewWithT(t)
	g.Expect(typeLabel("batch.completed")).To(Equal("batch.completed"))
	g.Expect(typeLabel("eval.run.canceled")).To(Equal("eval.run.canceled"))
	g.Expect(typeLabel("batch.completed2")).To(Equal(typeOther))
	g.Expect(typeLabel("")).To(Equal(typeOther))
}

func TestKindOf(t *testing.T) {
	g := NewWithT(t)
	g.Expect(kindOf("batch.expired")).To(Equal(kindBatch))
	g.Expect(kindOf("response.cancelled")).To(Equal(kindResponse))
	g.Expect(kindOf("fine_tuning.job.succeeded")).To(Equal(kindFineTuningJob))
	g.Expect(kindOf("fine_tuning.job.cancelled")).To(Equal(kindFineTuningJob))
	g.Expect(kindOf("eval.run.succeeded")).To(Equal(kindNone))
	g.Expect(kindOf("responses.completed")).To(Equal(kindNone))
	g.Expect(kindOf("batch")).To(Equal(kindNone))
}
