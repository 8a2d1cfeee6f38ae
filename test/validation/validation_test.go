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

// Package validation checks, against a real API server, that the CRDs accept every
// sample and refuse bad manifests at `kubectl apply` time with a message that says what
// to fix.
package validation

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
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

// newNamespace creates a fresh namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "validation-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// decode turns a YAML manifest into an unstructured object in namespace ns.
func decode(t *testing.T, manifest, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatalf("bad test manifest: %v\n%s", err, manifest)
	}
	u.SetNamespace(ns)
	return u
}

func TestSamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var samples int
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			data, err := os.ReadFile(file)
			g.Expect(err).NotTo(HaveOccurred())
			reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
			for {
				doc, err := reader.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				g.Expect(err).NotTo(HaveOccurred())
				if len(bytes.TrimSpace(doc)) == 0 {
					continue
				}
				obj := decode(t, string(doc), ns)
				g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed(), "creating %s %s", obj.GetKind(), obj.GetName())
				if obj.GetAPIVersion() == "openai.operator.dev/v1alpha1" {
					samples++
				}
			}
		})
	}
	if samples < 2 {
		t.Fatalf("found %d OpenAI samples in config/samples, want at least one of each kind", samples)
	}
}

const validBatch = `
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIBatch
metadata:
  name: b
spec:
  endpoint: /v1/embeddings
  input:
    requests:
      - customID: a
        body: {model: text-embedding-3-small, input: hello}
`

const validResponse = `
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIResponse
metadata:
  name: r
spec:
  model: gpt-5-mini
  input:
    text: hello
`

const validEndpoint = `
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIWebhookEndpoint
metadata:
  name: w
spec: {}
`

// edit applies a change to a parsed manifest.
type edit func(spec map[string]any)

func set(path string, value any) edit {
	return func(spec map[string]any) {
		keys := strings.Split(path, ".")
		m := spec
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = value
	}
}

func del(path string) edit {
	return func(spec map[string]any) {
		keys := strings.Split(path, ".")
		m := spec
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		delete(m, keys[len(keys)-1])
	}
}

func metadataPairs(n, keyLen, valueLen int) map[string]any {
	out := map[string]any{}
	for i := range n {
		key := fmt.Sprintf("k%02d", i)
		if keyLen > len(key) {
			key += strings.Repeat("x", keyLen-len(key))
		}
		out[key] = strings.Repeat("v", valueLen)
	}
	return out
}

func request(id string) map[string]any {
	return map[string]any{"customID": id, "body": map[string]any{"model": "m", "input": "x"}}
}

func TestInvalidManifestsAreRefusedOnCreate(t *testing.T) {
	cases := map[string]struct {
		base  string
		edits []edit
		want  string
	}{
		"batch without input source": {validBatch, []edit{set("input", map[string]any{})},
			"input needs exactly one of requests, configMapKeyRef, secretKeyRef or fileID"},
		"batch with two input sources": {validBatch, []edit{set("input.fileID", "file-abc")},
			"input needs exactly one of requests, configMapKeyRef, secretKeyRef or fileID"},
		"batch with unknown endpoint": {validBatch, []edit{set("endpoint", "/v1/images/generations")},
			`spec.endpoint: Unsupported value: "/v1/images/generations": supported values: "/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations"`},
		"batch without endpoint": {validBatch, []edit{del("endpoint")},
			"spec.endpoint: Required value"},
		"batch with bad completion window": {validBatch, []edit{set("completionWindow", "48h")},
			`spec.completionWindow: Unsupported value: "48h": supported values: "24h"`},
		"batch with duplicate custom IDs": {validBatch, []edit{set("input.requests", []any{request("a"), request("a")})},
			`spec.input.requests[1]: Duplicate value: {"customID":"a"}`},
		"batch with empty custom ID": {validBatch, []edit{set("input.requests", []any{request("")})},
			"spec.input.requests[0].customID: Invalid value: \"\": spec.input.requests[0].customID in body should be at least 1 chars long"},
		"batch with no requests": {validBatch, []edit{set("input.requests", []any{})},
			"spec.input.requests: Invalid value: 0: spec.input.requests in body should have at least 1 items"},
		"batch with a request without body": {validBatch, []edit{set("input.requests", []any{map[string]any{"customID": "a"}})},
			"spec.input.requests[0].body: Required value"},
		"batch with too many inline requests": {validBatch, []edit{set("input.requests", func() []any {
			var rs []any
			for i := range 1001 {
				rs = append(rs, request(fmt.Sprintf("r%d", i)))
			}
			return rs
		}())}, "spec.input.requests: Too many: 1001: must have at most 1000 items"},
		"batch with 16 metadata pairs": {validBatch, []edit{set("metadata", metadataPairs(16, 3, 1))},
			"spec.metadata: Too many: 16: must have at most 15 items"},
		"batch with 17 metadata pairs": {validBatch, []edit{set("metadata", metadataPairs(17, 3, 1))},
			"spec.metadata: Too many: 17: must have at most 15 items"},
		"batch with an over-long metadata key": {validBatch, []edit{set("metadata", metadataPairs(1, 65, 1))},
			"metadata keys must be at most 64 characters (OpenAI's limit)"},
		"batch with an over-long metadata value": {validBatch, []edit{set("metadata", metadataPairs(1, 3, 513))},
			"metadata values must be at most 512 characters (OpenAI's limit)"},
		"batch with the reserved metadata key": {validBatch, []edit{set("metadata", map[string]any{"openai.operator.dev/resource": "x"})},
			"metadata key openai.operator.dev/resource is reserved for the operator"},
		"batch with a malformed file id": {validBatch, []edit{set("input", map[string]any{"fileID": "batch_123"})},
			`spec.input.fileID: Invalid value: "batch_123": spec.input.fileID in body should match '^file-[A-Za-z0-9_-]+$'`},
		"batch with a configMapKeyRef without key": {validBatch, []edit{set("input", map[string]any{"configMapKeyRef": map[string]any{"name": "x"}})},
			"spec.input.configMapKeyRef.key: Required value"},
		"batch with an uppercase credentials Secret name": {validBatch, []edit{set("credentialsRef", map[string]any{"name": "My_Secret"})},
			`spec.credentialsRef.name: Invalid value: "My_Secret": spec.credentialsRef.name in body should match`},
		"batch with an empty credentials Secret name": {validBatch, []edit{set("credentialsRef", map[string]any{"name": ""})},
			"spec.credentialsRef.name: Invalid value: \"\": spec.credentialsRef.name in body should be at least 1 chars long"},
		"batch with a results kind other than ConfigMap or Secret": {
			validBatch,
			[]edit{set("results", map[string]any{"kind": "PersistentVolumeClaim", "name": "x"})},
			`spec.results.kind: Unsupported value: "PersistentVolumeClaim": supported values: "ConfigMap", "Secret"`,
		},
		"response without model": {validResponse, []edit{del("model")},
			"spec.model: Required value"},
		"response without input": {validResponse, []edit{set("input", map[string]any{})},
			"input needs exactly one of text or items"},
		"response with text and items": {validResponse, []edit{set("input.items", []any{map[string]any{"role": "user", "content": "hi"}})},
			"input needs exactly one of text or items"},
		"response with 17 metadata pairs": {validResponse, []edit{set("metadata", metadataPairs(17, 3, 1))},
			"spec.metadata: Too many: 17: must have at most 15 items"},
		"response with an over-long metadata value": {validResponse, []edit{set("metadata", metadataPairs(1, 3, 513))},
			"metadata values must be at most 512 characters (OpenAI's limit)"},
		"webhook endpoint with a URL that is not http(s)": {validEndpoint, []edit{set("url", "ftp://hooks.example.com/openai")},
			`spec.url in body should match`},
		"webhook endpoint with a relative URL": {validEndpoint, []edit{set("url", "/openai/webhook")},
			`spec.url in body should match`},
		"webhook endpoint with a malformed event type": {validEndpoint, []edit{set("eventTypes", []any{"Batch Completed"})},
			`spec.eventTypes[0] in body should match`},
		"webhook endpoint with an event type twice": {validEndpoint, []edit{set("eventTypes", []any{"batch.completed", "batch.completed"})},
			`spec.eventTypes[1]: Duplicate value: "batch.completed"`},
		"webhook endpoint with no event types": {validEndpoint, []edit{set("eventTypes", []any{})},
			"spec.eventTypes in body should have at least 1 items"},
		"webhook endpoint rotating every minute": {validEndpoint, []edit{set("rotation", map[string]any{"every": "1m"})},
			"rotation.every must be at least 1h"},
		"webhook endpoint rotating every 30d": {validEndpoint, []edit{set("rotation", map[string]any{"every": "30d"})},
			"spec.rotation.every in body should match"},
		"webhook endpoint rotation without every": {validEndpoint, []edit{set("rotation", map[string]any{})},
			"spec.rotation.every: Required value"},
	}
	ns := newNamespace(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := decode(t, tc.base, ns)
			spec := obj.Object["spec"].(map[string]any)
			for _, e := range tc.edits {
				e(spec)
			}
			err := env.Client.Create(context.Background(), obj)
			g.Expect(err).To(HaveOccurred(), "the API server accepted an invalid %s", obj.GetKind())
			g.Expect(err.Error()).To(ContainSubstring(tc.want))
		})
	}
}

func TestBoundaryManifestsAreAccepted(t *testing.T) {
	cases := map[string]struct {
		base  string
		edits []edit
	}{
		"batch with 15 metadata pairs at the length limits": {validBatch, []edit{set("metadata", metadataPairs(15, 64, 512))}},
		"batch with 1000 inline requests": {validBatch, []edit{set("input.requests", func() []any {
			var rs []any
			for i := range 1000 {
				rs = append(rs, request(fmt.Sprintf("r%d", i)))
			}
			return rs
		}())}},
		"batch from a file id": {validBatch, []edit{set("input", map[string]any{"fileID": "file-abc123"})}},
		"batch from a Secret key": {
			validBatch,
			[]edit{set("input", map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "requests.jsonl"}})},
		},
		"response with items and parameters": {validResponse, []edit{
			set("input", map[string]any{"items": []any{map[string]any{"role": "user", "content": "hi"}}}),
			set("parameters", map[string]any{"max_output_tokens": 100, "reasoning": map[string]any{"effort": "low"}}),
		}},
		"webhook endpoint with an empty spec": {validEndpoint, nil},
		"webhook endpoint with every field": {validEndpoint, []edit{
			set("credentialsRef", map[string]any{"name": "team-a-openai"}),
			set("url", "https://hooks.example.com/openai/webhook"),
			set("eventTypes", []any{"batch.completed", "fine_tuning.job.succeeded"}),
			set("rotation", map[string]any{"every": "720h"}),
			set("displayName", "team A's batches"),
		}},
		"webhook endpoint rotating every hour and a half": {validEndpoint, []edit{set("rotation", map[string]any{"every": "1h30m"})}},
	}
	ns := newNamespace(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := decode(t, tc.base, ns)
			obj.SetName("")
			obj.SetGenerateName("ok-")
			spec := obj.Object["spec"].(map[string]any)
			for _, e := range tc.edits {
				e(spec)
			}
			g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
		})
	}
}

func TestDefaults(t *testing.T) {
	g := NewWithT(t)
	obj := decode(t, validBatch, newNamespace(t))
	g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	g.Expect(obj.Object["spec"]).To(HaveKeyWithValue("completionWindow", "24h"))
	g.Expect(obj.Object["spec"]).To(HaveKeyWithValue("cancelOnDelete", true))
}

func TestImmutableFieldsAreRefusedOnUpdate(t *testing.T) {
	cancelled := set("cancel", true)
	cases := map[string]struct {
		base   string
		before []edit // applied before the object is created
		edits  []edit // the update
		want   string // empty: the update is allowed
	}{
		"batch endpoint": {base: validBatch, edits: []edit{set("endpoint", "/v1/chat/completions")},
			want: "endpoint is immutable: it defines the submitted batch; create a new OpenAIBatch instead"},
		"batch request body": {base: validBatch, edits: []edit{set("input.requests", []any{request("a")})},
			want: "input is immutable: it defines the submitted batch; create a new OpenAIBatch instead"},
		"batch request added": {base: validBatch, edits: []edit{set("input.requests", []any{
			map[string]any{"customID": "a", "body": map[string]any{"model": "text-embedding-3-small", "input": "hello"}}, request("b")})},
			want: "input is immutable"},
		"batch input source": {base: validBatch, edits: []edit{set("input", map[string]any{"fileID": "file-abc"})},
			want: "input is immutable"},
		"batch metadata added": {base: validBatch, edits: []edit{set("metadata", map[string]any{"team": "x"})},
			want: "metadata is immutable: it is sent with the batch"},
		"batch metadata value": {
			base:   validBatch,
			before: []edit{set("metadata", map[string]any{"team": "x"})},
			edits:  []edit{set("metadata", map[string]any{"team": "y"})},
			want:   "metadata is immutable",
		},
		"batch cancel undone": {base: validBatch, before: []edit{cancelled}, edits: []edit{set("cancel", false)},
			want: "cancel cannot be undone once requested"},
		"batch cancel requested":                  {base: validBatch, edits: []edit{cancelled}},
		"batch cancelOnDelete is a control field": {base: validBatch, edits: []edit{set("cancelOnDelete", false)}},
		"batch results target is a control field": {base: validBatch, edits: []edit{set("results", map[string]any{"name": "elsewhere"})}},
		"batch credentials are a control field":   {base: validBatch, edits: []edit{set("credentialsRef", map[string]any{"name": "rotated"})}},
		"batch labels are not spec":               {base: validBatch, edits: nil},
		"response model": {base: validResponse, edits: []edit{set("model", "gpt-5")},
			want: "model is immutable: it defines the submitted response; create a new OpenAIResponse instead"},
		"response input text": {base: validResponse, edits: []edit{set("input.text", "other")},
			want: "input is immutable: it defines the submitted response"},
		"response instructions added": {base: validResponse, edits: []edit{set("instructions", "be brief")},
			want: "instructions is immutable"},
		"response parameters added": {base: validResponse, edits: []edit{set("parameters", map[string]any{"max_output_tokens": 10})},
			want: "parameters is immutable"},
		"response parameter value": {base: validResponse, before: []edit{set("parameters", map[string]any{"max_output_tokens": 10})},
			edits: []edit{set("parameters", map[string]any{"max_output_tokens": 20})}, want: "parameters is immutable"},
		"response nested parameter value": {
			base:   validResponse,
			before: []edit{set("parameters", map[string]any{"reasoning": map[string]any{"effort": "low"}})},
			edits:  []edit{set("parameters", map[string]any{"reasoning": map[string]any{"effort": "high"}})},
			want:   "parameters is immutable",
		},
		"response cancel undone": {base: validResponse, before: []edit{cancelled}, edits: []edit{set("cancel", false)},
			want: "cancel cannot be undone once requested"},
		"response cancel requested": {base: validResponse, edits: []edit{cancelled}},
	}
	ns := newNamespace(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			obj := decode(t, tc.base, ns)
			obj.SetName("")
			obj.SetGenerateName("imm-")
			for _, e := range tc.before {
				e(obj.Object["spec"].(map[string]any))
			}
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			for _, e := range tc.edits {
				e(obj.Object["spec"].(map[string]any))
			}
			obj.SetLabels(map[string]string{"edited": "yes"})
			err := env.Client.Update(ctx, obj)
			if tc.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(err).To(HaveOccurred(), "the API server accepted a change of an immutable field")
			g.Expect(err.Error()).To(ContainSubstring(tc.want))
		})
	}
}

func TestCRDsCarryDocsAndPrinterColumns(t *testing.T) {
	cases := map[string]struct {
		crd        string
		shortName  string
		columns    []string
		wideOnly   []string
		specFields []string
	}{
		"OpenAIBatch": {
			crd: "openaibatches.openai.operator.dev", shortName: "oaib",
			columns:    []string{"Phase", "Batch", "Progress", "Age"},
			wideOnly:   []string{"Endpoint", "Failed", "Tokens", "Output", "Message"},
			specFields: []string{"endpoint", "completionWindow", "input", "metadata", "credentialsRef", "results", "cancel", "cancelOnDelete"},
		},
		"OpenAIResponse": {
			crd: "openairesponses.openai.operator.dev", shortName: "oair",
			columns:    []string{"Phase", "Response", "Model", "Age"},
			wideOnly:   []string{"Tokens", "Output", "Message"},
			specFields: []string{"model", "instructions", "input", "parameters", "metadata", "credentialsRef", "results", "cancel", "cancelOnDelete"},
		},
		"OpenAIFineTuningJob": {
			crd: "openaifinetuningjobs.openai.operator.dev", shortName: "oaift",
			columns:  []string{"Phase", "Job", "Model", "Age"},
			wideOnly: []string{"Base", "Tokens", "Message"},
			specFields: []string{
				"model",
				"trainingData",
				"validationData",
				"method",
				"suffix",
				"seed",
				"metadata",
				"credentialsRef",
				"results",
				"paused",
				"cancel",
				"cancelOnDelete",
			},
		},
		"OpenAIWebhookEndpoint": {
			crd: "openaiwebhookendpoints.openai.operator.dev", shortName: "oaiwh",
			columns:    []string{"Endpoint", "URL", "Ready", "Verified", "Age"},
			wideOnly:   []string{"Test", "Rotated", "Secret", "Message"},
			specFields: []string{"credentialsRef", "url", "eventTypes", "rotation", "displayName"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			crd := &apiextensionsv1.CustomResourceDefinition{}
			g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: tc.crd}, crd)).To(Succeed())
			g.Expect(crd.Spec.Names.ShortNames).To(ConsistOf(tc.shortName))
			g.Expect(crd.Spec.Names.Categories).To(ConsistOf("openai"))
			version := crd.Spec.Versions[0]
			g.Expect(version.Subresources).NotTo(BeNil())
			g.Expect(version.Subresources.Status).NotTo(BeNil())
			var normal, wide []string
			for _, c := range version.AdditionalPrinterColumns {
				if c.Priority == 0 {
					normal = append(normal, c.Name)
				} else {
					wide = append(wide, c.Name)
				}
			}
			g.Expect(normal).To(Equal(tc.columns))
			g.Expect(wide).To(Equal(tc.wideOnly))
			spec := version.Schema.OpenAPIV3Schema.Properties["spec"]
			g.Expect(spec.Description).NotTo(BeEmpty())
			for _, f := range tc.specFields {
				g.Expect(spec.Properties).To(HaveKey(f))
				g.Expect(spec.Properties[f].Description).To(MatchRegexp(`^`+f+`\b`), "spec.%s must be documented, starting with its name", f)
			}
			status := version.Schema.OpenAPIV3Schema.Properties["status"]
			for f, p := range status.Properties {
				g.Expect(p.Description).NotTo(BeEmpty(), "status.%s must be documented", f)
			}
		})
	}
}

func TestKubectlExplainTeachesTheAPI(t *testing.T) {
	g := NewWithT(t)
	kubectl := adminKubectl(g)
	explain := func(field string) string {
		stdout, stderr, err := kubectl.Run("explain", field)
		out, _ := io.ReadAll(stdout)
		errOut, _ := io.ReadAll(stderr)
		g.Expect(err).NotTo(HaveOccurred(), "kubectl explain: %s", errOut)
		return string(out)
	}
	out := explain("openaibatch.spec.input")
	g.Expect(out).To(ContainSubstring("exactly one of requests"))
	g.Expect(out).To(ContainSubstring("fileID"))

	out = explain("openaiwebhookendpoint.spec")
	g.Expect(out).To(ContainSubstring("--webhook-receiver-url"))
	g.Expect(out).To(ContainSubstring("openai.operator.dev/rotate-requested-at"))
}

// The receiver's Secret keys are "<namespace>_<name>" and "<namespace>_<name>_previous":
// the name is bounded so that they always fit in a Secret key.
func TestWebhookEndpointNameIsBounded(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	obj := decode(t, validEndpoint, ns)
	obj.SetName(strings.Repeat("a", 181))
	err := env.Client.Create(context.Background(), obj)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("metadata.name must be at most 180 characters"))
	obj = decode(t, validEndpoint, ns)
	obj.SetName(strings.Repeat("a", 180))
	g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
}

// adminKubectl returns kubectl authenticated as an administrator (system:masters) of the
// test API server.
func adminKubectl(g Gomega) interface {
	Run(args ...string) (stdout, stderr io.Reader, err error)
} {
	admin, err := env.ControlPlane.AddUser(envtest.User{Name: "validation-admin", Groups: []string{"system:masters"}}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	kubectl, err := admin.Kubectl()
	g.Expect(err).NotTo(HaveOccurred())
	return kubectl
}
