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

package faultschedule

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/openai/openai-go/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// fineTuneKind is the adapter of OpenAIFineTuningJob. OpenAI lists fine-tuning jobs by
// metadata, and the controller's adoption search does so by the operator's tag, so its
// truth is every job of the emulator that carries the namespace's tag (CanSearch).
type fineTuneKind struct{}

func (fineTuneKind) Kind() string   { return "OpenAIFineTuningJob" }
func (fineTuneKind) Prefix() string { return "f" }

// Plan: OpenAI's fewest examples (10) for one epoch when fast, up to 20 examples for up
// to three epochs when slow; half the jobs have validation data; training data inline
// or from a ConfigMap.
func (fineTuneKind) Plan(r *rand.Rand, p *ResourcePlan) {
	p.Examples, p.Epochs = 10, 1
	if p.Lifetime == LifetimeSlow {
		p.Examples, p.Epochs = 10+r.IntN(11), 2+r.IntN(2)
	}
	p.Validation = r.IntN(2) == 0
	p.Input = InputInline
	if r.IntN(2) == 0 {
		p.Input = InputConfigMap
	}
}

// Keys of a fine-tuning job's input ConfigMap.
const (
	trainingKey   = "training.jsonl"
	validationKey = "validation.jsonl"
)

// fineTuneExamples returns n chat examples of plan p; variant changes their text.
func fineTuneExamples(p ResourcePlan, set string, n int, variant string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"messages":[{"role":"user","content":"%s %s question %d%s"},{"role":"assistant","content":"answer %d"}]}`,
			p.Name, set, i, variant, i)
	}
	return out
}

func fineTuneInput(ns string, p ResourcePlan, variant string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name + "-input"},
		Data:       map[string]string{trainingKey: strings.Join(fineTuneExamples(p, "training", p.Examples, variant), "\n") + "\n"},
	}
	if p.Validation {
		cm.Data[validationKey] = strings.Join(fineTuneExamples(p, "validation", 2, variant), "\n") + "\n"
	}
	return cm
}

func (fineTuneKind) Objects(ns string, p ResourcePlan) (client.Object, []client.Object) {
	model := "gpt-4o-mini"
	if p.Lifetime == LifetimeHang {
		model = modelHang
	}
	epochs := intstr.FromInt(max(p.Epochs, 1))
	j := &openaiv1alpha1.OpenAIFineTuningJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name},
		Spec: openaiv1alpha1.OpenAIFineTuningJobSpec{
			Model: model,
			Method: &openaiv1alpha1.FineTuningMethod{
				Type: openaiv1alpha1.FineTuningSupervised, Hyperparameters: &openaiv1alpha1.Hyperparameters{NEpochs: &epochs},
			},
			CancelOnDelete: p.CancelOnDelete,
		},
	}
	if p.Results {
		j.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindConfigMap, Name: p.Name + "-results"}
	}
	var deps []client.Object
	switch p.Input {
	case InputConfigMap:
		cm := fineTuneInput(ns, p, "")
		deps = append(deps, cm)
		j.Spec.TrainingData.ConfigMapKeyRef = &openaiv1alpha1.KeyReference{Name: cm.Name, Key: trainingKey}
		if p.Validation {
			j.Spec.ValidationData = &openaiv1alpha1.TrainingData{ConfigMapKeyRef: &openaiv1alpha1.KeyReference{Name: cm.Name, Key: validationKey}}
		}
	default:
		raw := func(lines []string) []runtime.RawExtension {
			out := make([]runtime.RawExtension, len(lines))
			for i, l := range lines {
				out[i] = runtime.RawExtension{Raw: []byte(l)}
			}
			return out
		}
		j.Spec.TrainingData.Examples = raw(fineTuneExamples(p, "training", p.Examples, ""))
		if p.Validation {
			j.Spec.ValidationData = &openaiv1alpha1.TrainingData{Examples: raw(fineTuneExamples(p, "validation", 2, ""))}
		}
	}
	return j, deps
}

func (fineTuneKind) CanSearch() bool { return true }

func (fineTuneKind) NewList() client.ObjectList { return &openaiv1alpha1.OpenAIFineTuningJobList{} }

func (fineTuneKind) Observe(obj client.Object) Observed {
	j := obj.(*openaiv1alpha1.OpenAIFineTuningJob)
	st := j.Status
	ws := workStatus{
		phase: string(st.Phase), message: st.Message, remoteID: st.JobID, observedGeneration: st.ObservedGeneration,
		conditions: st.Conditions, cancel: j.Spec.Cancel, cancelOnDelete: j.Spec.CancelOnDelete, resultsWanted: j.Spec.Results != nil,
	}
	switch st.Phase {
	case openaiv1alpha1.FineTuningPhaseSucceeded:
		ws.terminal, ws.successful = true, true
	case openaiv1alpha1.FineTuningPhaseFailed, openaiv1alpha1.FineTuningPhaseCancelled:
		ws.terminal = true
	}
	return observeCommon("OpenAIFineTuningJob", j, ws)
}

// fineTunePhases maps OpenAI's fine-tuning job statuses to the phases that mirror them.
var fineTunePhases = map[string]string{
	"validating_files": "ValidatingFiles", "queued": "Queued", "running": "Running",
	"pausing": "Pausing", "paused": "Paused",
	statusSucceeded: "Succeeded", statusFailed: phaseFailed, statusCancelled: phaseCancelled,
}

func fineTuneStatusTerminal(s string) bool {
	switch s {
	case statusSucceeded, statusFailed, statusCancelled:
		return true
	}
	return false
}

func (fineTuneKind) Remote(ctx context.Context, t *Truth) (map[string][]Remote, error) {
	out := map[string][]Remote{}
	pager := t.API.FineTuning.Jobs.ListAutoPaging(ctx, openai.FineTuningJobListParams{Limit: openai.Int(100)})
	for n := 0; pager.Next() && n < 100_000; n++ {
		j := pager.Current()
		name, ok := tagged(j.Metadata[openaiv1alpha1.ResourceMetadataKey], t.Namespace)
		if !ok {
			continue
		}
		st := string(j.Status)
		rem := Remote{ID: j.ID, Status: st, Terminal: fineTuneStatusTerminal(st), Phase: fineTunePhases[st],
			InputFileIDs: []string{j.TrainingFile}, HasOutput: st == statusSucceeded}
		if j.ValidationFile != "" {
			rem.InputFileIDs = append(rem.InputFileIDs, j.ValidationFile)
		}
		out[name] = append(out[name], rem)
	}
	return out, pager.Err()
}

func (fineTuneKind) EditInput(ctx context.Context, c client.Client, ns string, p ResourcePlan, edit string) error {
	if p.Input != InputConfigMap {
		return nil
	}
	cm := fineTuneInput(ns, p, "")
	switch edit {
	case editContent:
		cm = fineTuneInput(ns, p, " edited")
	case editRemoveKey:
		cm.Data = map[string]string{"other": "x"}
	case editInvalid:
		cm.Data[trainingKey] = "these are not chat examples\n"
	case editRestore:
	default:
		return fmt.Errorf("unknown input edit %q", edit)
	}
	return c.Update(ctx, cm)
}

// ArmableOps: the creates most (the uploads and the job), as their answers are the ones
// a crash must not lose.
func (fineTuneKind) ArmableOps() []string {
	return []string{opFilesCreate, opFilesCreate, opFineTuneCreate, opFineTuneCreate, opFineTuneCreate,
		"fine_tuning.jobs.list", "fine_tuning.jobs.retrieve", "fine_tuning.jobs.events", "fine_tuning.jobs.cancel",
		"files.list", opFilesContent, opFilesDelete}
}

// BaseCalls: two uploads (training and validation data), the create, one search of
// jobs and one of files, a cancel, the deletes of the two uploads, and for the results
// the metrics download and the checkpoints.
func (fineTuneKind) BaseCalls() int { return 10 }

// CallsPerRead: a read of a job's progress is the job, its newest events and its latest
// checkpoint.
func (fineTuneKind) CallsPerRead() int { return 3 }

// Lifetime follows the emulator's timetable: validating files 2 s, queued 1 s, then
// 0.1 s a step (examples x epochs, batch size 1); a cancel ends it at once.
func (fineTuneKind) Lifetime(p ResourcePlan) float64 {
	if p.Lifetime == LifetimeHang {
		return 0
	}
	return 3 + 0.1*float64(p.Examples*max(p.Epochs, 1))
}
