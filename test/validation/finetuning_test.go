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

package validation

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

const validFineTuningJob = `
apiVersion: openai.operator.dev/v1alpha1
kind: OpenAIFineTuningJob
metadata:
  name: ft
spec:
  model: gpt-4o-mini-2024-07-18
  trainingData:
    configMapKeyRef: {name: training, key: train.jsonl}
`

func example(i int) map[string]any {
	return map[string]any{"messages": []any{
		map[string]any{"role": "user", "content": fmt.Sprintf("q%d", i)},
		map[string]any{"role": "assistant", "content": "a"},
	}}
}

func examples(n int) []any {
	out := make([]any, n)
	for i := range n {
		out[i] = example(i)
	}
	return out
}

func TestInvalidFineTuningJobsAreRefusedOnCreate(t *testing.T) {
	cases := map[string]struct {
		edits []edit
		want  string
	}{
		"no model": {[]edit{del("model")}, "spec.model: Required value"},
		"no training data source": {[]edit{set("trainingData", map[string]any{})},
			"training data needs exactly one of examples, configMapKeyRef, secretKeyRef or fileID"},
		"two training data sources": {[]edit{set("trainingData.fileID", "file-abc")},
			"training data needs exactly one of examples, configMapKeyRef, secretKeyRef or fileID"},
		"two validation data sources": {[]edit{set("validationData", map[string]any{"fileID": "file-abc", "examples": examples(1)})},
			"training data needs exactly one of examples, configMapKeyRef, secretKeyRef or fileID"},
		"an example that is not an object": {[]edit{set("trainingData", map[string]any{"examples": []any{"hello"}})},
			"spec.trainingData.examples[0]: Invalid value: \"string\": spec.trainingData.examples[0] in body must be of type object"},
		"too many inline examples": {[]edit{set("trainingData", map[string]any{"examples": examples(1001)})},
			"spec.trainingData.examples: Too many: 1001: must have at most 1000 items"},
		"a malformed file id": {[]edit{set("trainingData", map[string]any{"fileID": "ftjob-1"})},
			`spec.trainingData.fileID in body should match '^file-[A-Za-z0-9_-]+$'`},
		"an unknown method": {[]edit{set("method.type", "distillation")},
			`spec.method.type: Unsupported value: "distillation": supported values: "supervised", "dpo", "reinforcement"`},
		"zero epochs":          {[]edit{set("method.hyperparameters.nEpochs", 0)}, `nEpochs must be "auto" or a whole number from 1 to 50`},
		"epochs as a word":     {[]edit{set("method.hyperparameters.nEpochs", "many")}, `nEpochs must be "auto" or a whole number from 1 to 50`},
		"epochs in quotes":     {[]edit{set("method.hyperparameters.nEpochs", "3")}, `nEpochs must be "auto" or a whole number from 1 to 50`},
		"batch size too large": {[]edit{set("method.hyperparameters.batchSize", 257)}, `batchSize must be "auto" or a whole number from 1 to 256`},
		"negative learning rate multiplier": {[]edit{set("method.hyperparameters.learningRateMultiplier", "-0.5")},
			`learningRateMultiplier must be "auto" or a positive number, such as "0.5" (in quotes when it has a fraction)`},
		"zero learning rate multiplier": {[]edit{set("method.hyperparameters.learningRateMultiplier", 0)},
			`learningRateMultiplier must be "auto" or a positive number`},
		"learning rate multiplier as a word": {[]edit{set("method.hyperparameters.learningRateMultiplier", "fast")},
			`learningRateMultiplier must be "auto" or a positive number`},
		"unquoted fraction": {[]edit{set("method.hyperparameters.learningRateMultiplier", 0.5)},
			"spec.method.hyperparameters.learningRateMultiplier"},
		"beta outside dpo": {[]edit{set("method.hyperparameters.beta", "0.1")},
			"hyperparameters.beta applies only to method type dpo"},
		"zero beta": {[]edit{set("method.type", "dpo"), set("method.hyperparameters.beta", "0")},
			`beta must be "auto" or a positive number`},
		"reinforcement without a grader": {[]edit{set("method.type", "reinforcement")},
			"method type reinforcement needs parameters with OpenAI's grader"},
		"a suffix with a colon": {[]edit{set("suffix", "team:bot")},
			`spec.suffix in body should match '^[A-Za-z0-9._-]+$'`},
		"a suffix too long": {[]edit{set("suffix", strings.Repeat("s", 65))},
			"spec.suffix: Too long: may not be more than 64 bytes"},
		"a negative seed": {[]edit{set("seed", -1)},
			"spec.seed in body should be greater than or equal to 0"},
		"16 metadata pairs": {[]edit{set("metadata", metadataPairs(16, 3, 1))},
			"spec.metadata: Too many: 16: must have at most 15 items"},
		"the reserved metadata key": {[]edit{set("metadata", map[string]any{"openai.operator.dev/resource": "x"})},
			"metadata key openai.operator.dev/resource is reserved for the operator"},
		"results of another kind": {[]edit{set("results", map[string]any{"kind": "Deployment", "name": "x"})},
			`spec.results.kind: Unsupported value: "Deployment"`},
	}
	ns := newNamespace(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := decode(t, validFineTuningJob, ns)
			spec := obj.Object["spec"].(map[string]any)
			for _, e := range tc.edits {
				e(spec)
			}
			err := env.Client.Create(context.Background(), obj)
			g.Expect(err).To(HaveOccurred(), "the API server accepted an invalid OpenAIFineTuningJob")
			g.Expect(err.Error()).To(ContainSubstring(tc.want))
		})
	}
}

func TestBoundaryFineTuningJobsAreAccepted(t *testing.T) {
	cases := map[string][]edit{
		"inline examples, 1000 of them": {set("trainingData", map[string]any{"examples": examples(1000)})},
		"a Secret key and a validation file": {
			set("trainingData", map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}),
			set("validationData", map[string]any{"fileID": "file-v1"}),
		},
		"every hyperparameter, as numbers": {
			set("method.hyperparameters", map[string]any{"nEpochs": 50, "batchSize": 1, "learningRateMultiplier": 2}),
		},
		"every hyperparameter, as auto": {
			set("method.hyperparameters", map[string]any{"nEpochs": "auto", "batchSize": "auto", "learningRateMultiplier": "auto"}),
		},
		"a fraction in quotes": {set("method.hyperparameters.learningRateMultiplier", "0.05")},
		"dpo with beta":        {set("method.type", "dpo"), set("method.hyperparameters.beta", ".1")},
		"reinforcement with a grader": {
			set("method.type", "reinforcement"),
			set(
				"method.parameters",
				map[string]any{
					"grader": map[string]any{
						"type":      "string_check",
						"name":      "exact",
						"input":     "{{sample.output_text}}",
						"reference": "{{item.answer}}",
						"operation": "eq",
					},
				},
			),
		},
		"suffix, seed and 15 metadata pairs": {
			set("suffix", strings.Repeat("s", 64)),
			set("seed", 2147483647),
			set("metadata", metadataPairs(15, 64, 512)),
		},
		"paused from the start, results in Secret": {set("paused", true), set("results", map[string]any{"kind": "Secret", "name": "model"})},
	}
	ns := newNamespace(t)
	for name, edits := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := decode(t, validFineTuningJob, ns)
			obj.SetName("")
			obj.SetGenerateName("ok-")
			for _, e := range edits {
				e(obj.Object["spec"].(map[string]any))
			}
			g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
		})
	}
}

func TestFineTuningJobDefaults(t *testing.T) {
	g := NewWithT(t)
	obj := decode(t, validFineTuningJob, newNamespace(t))
	set("method", map[string]any{})(obj.Object["spec"].(map[string]any))
	g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	g.Expect(obj.Object["spec"]).To(HaveKeyWithValue("cancelOnDelete", true))
	g.Expect(obj.Object["spec"]).To(HaveKeyWithValue("method", HaveKeyWithValue("type", "supervised")))
}

func TestFineTuningJobImmutableFields(t *testing.T) {
	cases := map[string]struct {
		before []edit
		edits  []edit
		want   string // empty: the update is allowed
	}{
		"model": {
			edits: []edit{set("model", "gpt-4.1-mini")},
			want:  "model is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead",
		},
		"training data": {edits: []edit{set("trainingData.configMapKeyRef.key", "other.jsonl")}, want: "trainingData is immutable"},
		"an inline example": {before: []edit{set("trainingData", map[string]any{"examples": examples(2)})},
			edits: []edit{set("trainingData", map[string]any{"examples": []any{example(0), example(9)}})}, want: "trainingData is immutable"},
		"validation data added": {edits: []edit{set("validationData", map[string]any{"fileID": "file-v"})}, want: "validationData is immutable"},
		"a hyperparameter": {before: []edit{set("method.hyperparameters.nEpochs", 3)}, edits: []edit{set("method.hyperparameters.nEpochs", 4)},
			want: "method is immutable"},
		"method parameters": {
			before: []edit{set("method.parameters", map[string]any{"x": 1})},
			edits:  []edit{set("method.parameters", map[string]any{"x": 2})},
			want:   "method is immutable",
		},
		"suffix added":   {edits: []edit{set("suffix", "v2")}, want: "suffix is immutable"},
		"seed changed":   {before: []edit{set("seed", 1)}, edits: []edit{set("seed", 2)}, want: "seed is immutable"},
		"metadata added": {edits: []edit{set("metadata", map[string]any{"team": "x"})}, want: "metadata is immutable: it is sent with the job"},
		"cancel undone": {
			before: []edit{set("cancel", true)},
			edits:  []edit{set("cancel", false)},
			want:   "cancel cannot be undone once requested",
		},
		"cancel requested":   {edits: []edit{set("cancel", true)}},
		"paused and resumed": {before: []edit{set("paused", true)}, edits: []edit{set("paused", false)}},
		"results target":     {edits: []edit{set("results", map[string]any{"name": "model-name"})}},
		"credentials":        {edits: []edit{set("credentialsRef", map[string]any{"name": "rotated"})}},
		"cancelOnDelete":     {edits: []edit{set("cancelOnDelete", false)}},
	}
	ns := newNamespace(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			obj := decode(t, validFineTuningJob, ns)
			obj.SetName("")
			obj.SetGenerateName("imm-")
			for _, e := range tc.before {
				e(obj.Object["spec"].(map[string]any))
			}
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			for _, e := range tc.edits {
				e(obj.Object["spec"].(map[string]any))
			}
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

func TestKubectlExplainTeachesFineTuning(t *testing.T) {
	g := NewWithT(t)
	kubectl := adminKubectl(g)
	for field, want := range map[string][]string{
		"openaifinetuningjob.spec.trainingData":                    {"exactly one of examples", "at least 10 examples"},
		"openaifinetuningjob.spec.method.hyperparameters":          {`"auto"`, "in quotes"},
		"openaifinetuningjob.spec.results":                         {"key model", "metrics.csv", "checkpoints.json"},
		"openaifinetuningjob.status.fineTunedModel":                {"fine-tuned model"},
		"oaift.spec.method.hyperparameters.learningRateMultiplier": {"positive number"},
	} {
		stdout, stderr, err := kubectl.Run("explain", field)
		out, _ := io.ReadAll(stdout)
		errOut, _ := io.ReadAll(stderr)
		g.Expect(err).NotTo(HaveOccurred(), "kubectl explain %s: %s", field, errOut)
		for _, w := range want {
			g.Expect(string(out)).To(ContainSubstring(w), "kubectl explain %s", field)
		}
	}
}
