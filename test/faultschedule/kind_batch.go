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
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// batchKind is the adapter of OpenAIBatch.
type batchKind struct{}

func (batchKind) Kind() string   { return "OpenAIBatch" }
func (batchKind) Prefix() string { return "b" }

func (batchKind) Plan(r *rand.Rand, p *ResourcePlan) {
	switch p.Lifetime {
	case LifetimeFast:
		p.Requests = 1 + r.IntN(3)
	case LifetimeSlow:
		p.Requests = 15 + r.IntN(16)
	default:
		p.Requests = 2 // one of them never finishes
	}
	p.Input = InputInline
	if r.IntN(2) == 0 {
		p.Input = InputConfigMap
	}
}

// batchLines returns the request bodies of plan p; variant changes their text.
func batchLines(p ResourcePlan, variant string) []string {
	out := make([]string, p.Requests)
	for i := range out {
		model := "text-embedding-3-small"
		if p.Lifetime == LifetimeHang && i == p.Requests-1 {
			model = modelHang
		}
		out[i] = fmt.Sprintf(`{"model":%q,"input":"%s%s document %d"}`, model, p.Name, variant, i)
	}
	return out
}

func batchJSONL(p ResourcePlan, variant string) string {
	var b strings.Builder
	for i, body := range batchLines(p, variant) {
		fmt.Fprintf(&b, `{"custom_id":"req-%d","method":"POST","url":"/v1/embeddings","body":%s}`+"\n", i, body)
	}
	return b.String()
}

// inputKey is the key of an input ConfigMap.
const inputKey = "requests.jsonl"

func inputConfigMap(ns string, p ResourcePlan) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name + "-input"},
		Data:       map[string]string{inputKey: batchJSONL(p, "")},
	}
}

func (batchKind) Objects(ns string, p ResourcePlan) (client.Object, []client.Object) {
	b := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name},
		Spec: openaiv1alpha1.OpenAIBatchSpec{
			Endpoint:       openaiv1alpha1.BatchEndpointEmbeddings,
			CancelOnDelete: p.CancelOnDelete,
		},
	}
	if p.Results {
		b.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindConfigMap, Name: p.Name + "-results"}
	}
	var deps []client.Object
	switch p.Input {
	case InputConfigMap:
		cm := inputConfigMap(ns, p)
		deps = append(deps, cm)
		b.Spec.Input.ConfigMapKeyRef = &openaiv1alpha1.KeyReference{Name: cm.Name, Key: inputKey}
	default:
		for i, body := range batchLines(p, "") {
			b.Spec.Input.Requests = append(b.Spec.Input.Requests, openaiv1alpha1.BatchRequest{
				CustomID: fmt.Sprintf("req-%d", i), Body: runtime.RawExtension{Raw: []byte(body)},
			})
		}
	}
	return b, deps
}

func (batchKind) CanSearch() bool { return true }

func (batchKind) NewList() client.ObjectList { return &openaiv1alpha1.OpenAIBatchList{} }

func (batchKind) Observe(obj client.Object) Observed {
	b := obj.(*openaiv1alpha1.OpenAIBatch)
	st := b.Status
	ws := workStatus{
		phase: string(st.Phase), message: st.Message, remoteID: st.BatchID, observedGeneration: st.ObservedGeneration,
		conditions: st.Conditions, cancel: b.Spec.Cancel, cancelOnDelete: b.Spec.CancelOnDelete, resultsWanted: b.Spec.Results != nil,
	}
	switch st.Phase {
	case openaiv1alpha1.BatchPhaseCompleted:
		ws.terminal, ws.successful = true, true
	case openaiv1alpha1.BatchPhaseFailed, openaiv1alpha1.BatchPhaseExpired, openaiv1alpha1.BatchPhaseCancelled:
		ws.terminal = true
	}
	return observeCommon("OpenAIBatch", b, ws)
}

// batchPhases maps OpenAI's batch statuses to the phases that mirror them.
var batchPhases = map[string]string{
	"validating": "Validating", "in_progress": "InProgress", "finalizing": "Finalizing",
	statusCompleted: phaseCompleted, statusFailed: phaseFailed, "expired": "Expired",
	"cancelling": "Cancelling", statusCancelled: phaseCancelled,
}

func batchStatusTerminal(s string) bool {
	switch s {
	case statusCompleted, statusFailed, "expired", statusCancelled:
		return true
	}
	return false
}

func (batchKind) Remote(ctx context.Context, t *Truth) (map[string][]Remote, error) {
	out := map[string][]Remote{}
	pager := t.API.Batches.ListAutoPaging(ctx, openai.BatchListParams{Limit: openai.Int(100)})
	for n := 0; pager.Next() && n < 100_000; n++ {
		b := pager.Current()
		name, ok := tagged(b.Metadata[openaiv1alpha1.ResourceMetadataKey], t.Namespace)
		if !ok {
			continue
		}
		st := string(b.Status)
		out[name] = append(out[name], Remote{
			ID: b.ID, Status: st, Terminal: batchStatusTerminal(st), Phase: batchPhases[st],
			InputFileIDs: []string{b.InputFileID}, HasOutput: b.OutputFileID != "" || b.ErrorFileID != "",
		})
	}
	return out, pager.Err()
}

// tagged returns the resource name of an operator tag ("namespace/name/uid") of ns.
func tagged(tag, ns string) (string, bool) {
	parts := strings.Split(tag, "/")
	if len(parts) != 3 || parts[0] != ns {
		return "", false
	}
	return parts[1], true
}

func (batchKind) EditInput(ctx context.Context, c client.Client, ns string, p ResourcePlan, edit string) error {
	if p.Input != InputConfigMap {
		return nil
	}
	cm := inputConfigMap(ns, p)
	switch edit {
	case editContent:
		cm.Data[inputKey] = batchJSONL(p, " edited")
	case editRemoveKey:
		cm.Data = map[string]string{"other": "x"}
	case editInvalid:
		cm.Data[inputKey] = "this is not a batch\n"
	case editRestore:
	default:
		return fmt.Errorf("unknown input edit %q", edit)
	}
	return c.Update(ctx, cm)
}

// ArmableOps: the creates most, as their answers are the ones a crash must not lose.
func (batchKind) ArmableOps() []string {
	return []string{opFilesCreate, opFilesCreate, opBatchesCreate, opBatchesCreate, opBatchesCreate,
		"batches.list", "batches.retrieve", "batches.cancel", opFilesContent, opFilesDelete}
}

// BaseCalls: upload, create, one search of batches and one of files, cancel, delete of
// the input, and two downloads (output and error file).
func (batchKind) BaseCalls() int { return 8 }

// CallsPerRead: a read of a batch is one retrieve.
func (batchKind) CallsPerRead() int { return 1 }

// Lifetime follows the emulator's timetable: validating 1 s, in progress 1 s plus 0.2 s
// a request, finalizing 1 s; a cancel takes 1 s.
func (batchKind) Lifetime(p ResourcePlan) float64 {
	if p.Lifetime == LifetimeHang {
		return 1
	}
	return 3 + 0.2*float64(p.Requests)
}
