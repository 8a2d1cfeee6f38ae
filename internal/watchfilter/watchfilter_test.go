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

package watchfilter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	restclientwatch "k8s.io/client-go/rest/watch"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// batchEvent is an ADDED watch event of an InProgress OpenAIBatch, its object as a
// real API server served it (2,956 bytes, 1,550 of them managedFields).
func batchEvent(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/batch-event.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := openaiv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// decodeStream decodes a JSON watch stream as client-go's REST client does for a typed
// informer, and returns the objects.
func decodeStream(t testing.TB, r io.Reader) []*openaiv1alpha1.OpenAIBatch {
	t.Helper()
	codecs := serializer.WithoutConversionCodecFactory{CodecFactory: serializer.NewCodecFactory(scheme)}
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		t.Fatal("no JSON serializer")
	}
	frames := info.StreamSerializer.NewFrameReader(io.NopCloser(r))
	d := restclientwatch.NewDecoder(
		streaming.NewDecoder(frames, info.StreamSerializer.Serializer),
		codecs.DecoderToVersion(info.Serializer, openaiv1alpha1.GroupVersion),
	)
	var out []*openaiv1alpha1.OpenAIBatch
	for {
		_, obj, err := d.Decode()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj.(*openaiv1alpha1.OpenAIBatch))
	}
}

func TestStripDropsManagedFieldsAndNothingElse(t *testing.T) {
	event := batchEvent(t)
	want := decodeStream(t, bytes.NewReader(event))[0]
	if len(want.ManagedFields) == 0 {
		t.Fatal("the test event has no managedFields")
	}
	want.ManagedFields = nil

	stripped := Strip(bytes.Clone(event))
	if bytes.Contains(stripped, []byte("managedFields")) {
		t.Fatalf("managedFields left in %s", stripped)
	}
	got := decodeStream(t, bytes.NewReader(stripped))[0]
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded objects differ beyond managedFields:\n got %+v\nwant %+v", got, want)
	}
	t.Logf("event %d bytes, %d without managedFields", len(event), len(stripped))
}

func TestStripCutsOnlyObjectMetadataManagedFields(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"first member",
			`{"type":"ADDED","object":{"metadata":{"managedFields":[{"a":"]}"}],"name":"x"}}}`,
			`{"type":"ADDED","object":{"metadata":{"name":"x"}}}`},
		{"middle member",
			`{"type":"ADDED","object":{"metadata":{"generation":1,"managedFields":[],"name":"x"}}}`,
			`{"type":"ADDED","object":{"metadata":{"generation":1,"name":"x"}}}`},
		{"last member",
			`{"type":"ADDED","object":{"metadata":{"name":"x","managedFields":[{"f":{"\"}":1}}]}}}`,
			`{"type":"ADDED","object":{"metadata":{"name":"x"}}}`},
		{"only member",
			`{"type":"ADDED","object":{"metadata":{"managedFields":null}}}`,
			`{"type":"ADDED","object":{"metadata":{}}}`},
		{"spaces and a newline",
			"{ \"type\" : \"ADDED\" , \"object\" : { \"metadata\" : { \"name\" : \"x\" , \"managedFields\" : [ ] } } }\n",
			"{ \"type\" : \"ADDED\" , \"object\" : { \"metadata\" : { \"name\" : \"x\"  } } }\n"}, // the spaces around the member stay
		{"object before type",
			`{"object":{"kind":"K","metadata":{"managedFields":[1],"uid":"u"}},"type":"MODIFIED"}`,
			`{"object":{"kind":"K","metadata":{"uid":"u"}},"type":"MODIFIED"}`},
		{"the same names deeper in the object stay",
			`{"type":"ADDED","object":{"spec":{"metadata":{"managedFields":[1]}},"metadata":{"name":"x"}}}`,
			`{"type":"ADDED","object":{"spec":{"metadata":{"managedFields":[1]}},"metadata":{"name":"x"}}}`},
		{"a string that names the member stays",
			`{"type":"ERROR","object":{"message":"\"managedFields\":[]","metadata":{}}}`,
			`{"type":"ERROR","object":{"message":"\"managedFields\":[]","metadata":{}}}`},
		{"an escaped name is not compared",
			`{"type":"ADDED","object":{"metadata":{"managed\u0046ields":[1]}}}`,
			`{"type":"ADDED","object":{"metadata":{"managed\u0046ields":[1]}}}`},
		{"a bookmark",
			`{"type":"BOOKMARK","object":{"kind":"OpenAIBatch","metadata":{"resourceVersion":"12"}}}`,
			`{"type":"BOOKMARK","object":{"kind":"OpenAIBatch","metadata":{"resourceVersion":"12"}}}`},
		{"cut short", `{"type":"ADDED","object":{"metadata":{"managedFields":[{"a":`, `{"type":"ADDED","object":{"metadata":{"managedFields":[{"a":`},
		{"not an object", `["object",{"metadata":{"managedFields":[]}}]`, `["object",{"metadata":{"managedFields":[]}}]`},
		{"object is not an object", `{"object":"metadata"}`, `{"object":"metadata"}`},
		{"empty", ``, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Strip([]byte(tc.in))); got != tc.want {
				t.Fatalf("Strip(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzStrip holds Strip to its promise on any input: valid JSON stays valid and decodes
// to the same value less object.metadata.managedFields; anything else comes back
// unchanged or shorter, and nothing panics.
func FuzzStrip(f *testing.F) {
	f.Add(batchEvent(f))
	f.Add([]byte(`{"type":"ADDED","object":{"metadata":{"name":"x","managedFields":[{"f":{"\"}":1}}]}}}`))
	f.Add([]byte(`{"object":{"metadata":{"managedFields":null}}}`))
	f.Add([]byte(`{"type":"DELETED","object":{"metadata":{"a":[{},[]],"managedFields":"x" }} }`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := Strip(bytes.Clone(in))
		if !json.Valid(in) {
			if len(out) > len(in) {
				t.Fatalf("Strip grew invalid input %q to %q", in, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Strip(%q) = %q: not JSON", in, out)
		}
		if hasDuplicateNames(in) {
			return // decoders disagree on which one counts; the API server writes none
		}
		var want, got any
		for _, v := range []struct {
			data []byte
			into *any
		}{{in, &want}, {out, &got}} {
			d := json.NewDecoder(bytes.NewReader(v.data))
			d.UseNumber() // numbers as written: any size
			if err := d.Decode(v.into); err != nil {
				t.Fatal(err)
			}
		}
		if event, ok := want.(map[string]any); ok {
			if obj, ok := event["object"].(map[string]any); ok {
				if meta, ok := obj["metadata"].(map[string]any); ok {
					delete(meta, "managedFields")
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Strip(%q) = %q, which decodes to %v, want %v", in, out, got, want)
		}
	})
}

// hasDuplicateNames reports whether an object in data (valid JSON) names a member twice.
func hasDuplicateNames(data []byte) bool {
	d := json.NewDecoder(bytes.NewReader(data))
	type level struct {
		names   map[string]bool
		wantKey bool
	}
	var stack []*level
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		top := (*level)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.names != nil {
					top.wantKey = true
				}
				stack = append(stack, &level{names: map[string]bool{}, wantKey: true})
				continue
			case '[':
				if top != nil && top.names != nil {
					top.wantKey = true
				}
				stack = append(stack, &level{})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.names != nil && top.wantKey {
				if top.names[v] {
					return true
				}
				top.names[v] = true
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.names != nil {
			top.wantKey = true
		}
	}
}

func TestReaderFiltersEachLineOfAStream(t *testing.T) {
	event := batchEvent(t)
	var stream bytes.Buffer
	for i := range 3 {
		stream.Write(bytes.Replace(event, []byte(`"name":"hang-00001"`), fmt.Appendf(nil, `"name":"b-%d"`, i), 1))
	}
	stream.WriteString(`{"type":"BOOKMARK","object":{"kind":"OpenAIBatch","apiVersion":"openai.operator.dev/v1alpha1","metadata":{"resourceVersion":"9"}}}`) // no newline: passes as it is

	// A small buffer makes every event span several reads of the body.
	r := &reader{body: io.NopCloser(&stream), in: bufio.NewReaderSize(&stream, 64)}
	got := decodeStream(t, r)
	if len(got) != 4 {
		t.Fatalf("decoded %d objects, want 4", len(got))
	}
	for i, b := range got[:3] {
		if b.Name != fmt.Sprintf("b-%d", i) || b.ManagedFields != nil || b.Status.BatchID == "" {
			t.Fatalf("object %d: name %q, %d managedFields, batch id %q", i, b.Name, len(b.ManagedFields), b.Status.BatchID)
		}
	}
	if got[3].ResourceVersion != "9" {
		t.Fatalf("bookmark's resourceVersion %q", got[3].ResourceVersion)
	}
}

func TestRoundTripperFiltersOnlyJSONWatches(t *testing.T) {
	event := batchEvent(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.URL.Query().Get("ct"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if ce := r.URL.Query().Get("ce"); ce != "" {
			w.Header().Set("Content-Encoding", ce)
		}
		_, _ = w.Write(event)
	}))
	defer srv.Close()
	c := &http.Client{Transport: DropManagedFields(http.DefaultTransport)}
	for _, tc := range []struct {
		method, query string
		filtered      bool
	}{
		{"GET", "watch=true&ct=application/json", true},
		{"GET", "watch=1&ct=application/json%3Bstream=watch", true},
		{"GET", "ct=application/json", false},                               // a list or a get
		{"GET", "watch=false&ct=application/json", false},                   // not a watch
		{"GET", "watch=true&ct=application/vnd.kubernetes.protobuf", false}, // not JSON
		{"GET", "watch=true&ct=application/json&ce=identity", false},        // encoded
		{"POST", "watch=true&ct=application/json", false},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+"/apis?"+tc.query, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if filtered := !bytes.Equal(body, event); filtered != tc.filtered {
			t.Errorf("%s ?%s: filtered %v, want %v", tc.method, tc.query, filtered, tc.filtered)
		}
		if tc.filtered && strings.Contains(string(body), "managedFields") {
			t.Errorf("%s ?%s: managedFields left", tc.method, tc.query)
		}
	}
}

// BenchmarkWatchDecode decodes a watch stream of 1,000 InProgress OpenAIBatches as
// client-go does, as the API server sent it and through the filter (whose cost it
// includes): what a manager's cache spends per object while it fills.
func BenchmarkWatchDecode(b *testing.B) {
	event := batchEvent(b)
	var stream bytes.Buffer
	const n = 1000
	for i := range n {
		stream.Write(bytes.Replace(event, []byte(`"name":"hang-00001"`), fmt.Appendf(nil, `"name":"b-%05d"`, i), 1))
	}
	for _, v := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"as-sent", func(r io.Reader) io.Reader { return r }},
		{"filtered", func(r io.Reader) io.Reader { return &reader{body: io.NopCloser(r), in: bufio.NewReaderSize(r, 32<<10)} }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(stream.Len()))
			for b.Loop() {
				if got := decodeStream(b, v.wrap(bytes.NewReader(stream.Bytes()))); len(got) != n {
					b.Fatalf("decoded %d objects", len(got))
				}
			}
		})
	}
}
