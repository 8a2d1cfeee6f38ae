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
	"math/rand/v2"

	"github.com/openai/openai-go/v3/responses"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// responseKind is the adapter of OpenAIResponse. OpenAI cannot list responses, so its
// truth is every response the wire saw OpenAI create for the resource (answers that were
// lost included), each read back from the emulator.
type responseKind struct{}

func (responseKind) Kind() string   { return "OpenAIResponse" }
func (responseKind) Prefix() string { return "r" }

// Plan: responses have no input outside the resource; a slow one is a fast one.
func (responseKind) Plan(*rand.Rand, *ResourcePlan) {}

func (responseKind) Objects(ns string, p ResourcePlan) (client.Object, []client.Object) {
	model := "gpt-5-mini"
	if p.Lifetime == LifetimeHang {
		model = modelHang
	}
	r := &openaiv1alpha1.OpenAIResponse{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name},
		Spec: openaiv1alpha1.OpenAIResponseSpec{
			Model: model, Input: openaiv1alpha1.ResponseInput{Text: "Summarise " + p.Name},
			CancelOnDelete: p.CancelOnDelete,
		},
	}
	if p.Results {
		r.Spec.Results = &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindConfigMap, Name: p.Name + "-results"}
	}
	return r, nil
}

func (responseKind) CanSearch() bool { return false }

func (responseKind) NewList() client.ObjectList { return &openaiv1alpha1.OpenAIResponseList{} }

func (responseKind) Observe(obj client.Object) Observed {
	r := obj.(*openaiv1alpha1.OpenAIResponse)
	st := r.Status
	ws := workStatus{
		phase: string(st.Phase), message: st.Message, remoteID: st.ResponseID, observedGeneration: st.ObservedGeneration,
		conditions: st.Conditions, cancel: r.Spec.Cancel, cancelOnDelete: r.Spec.CancelOnDelete, resultsWanted: r.Spec.Results != nil,
	}
	switch st.Phase {
	case openaiv1alpha1.ResponsePhaseCompleted:
		ws.terminal, ws.successful = true, true
	case openaiv1alpha1.ResponsePhaseFailed, openaiv1alpha1.ResponsePhaseCancelled, openaiv1alpha1.ResponsePhaseIncomplete:
		ws.terminal = true
	}
	o := observeCommon("OpenAIResponse", r, ws)
	o.CreateAttempts = int(st.CreateAttempts)
	return o
}

var responsePhases = map[string]string{
	"queued": "Queued", "in_progress": "InProgress", statusCompleted: phaseCompleted,
	statusFailed: phaseFailed, statusCancelled: phaseCancelled, "incomplete": "Incomplete",
}

func responseStatusTerminal(s string) bool {
	switch s {
	case statusCompleted, statusFailed, statusCancelled, "incomplete":
		return true
	}
	return false
}

func (responseKind) Remote(ctx context.Context, t *Truth) (map[string][]Remote, error) {
	out := map[string][]Remote{}
	for name, ids := range t.Wire.ResponsesCreated() {
		for _, id := range ids {
			resp, err := t.API.Responses.Get(ctx, id, responses.ResponseGetParams{})
			if err != nil {
				return nil, err
			}
			st := string(resp.Status)
			out[name] = append(out[name], Remote{
				ID: id, Status: st, Terminal: responseStatusTerminal(st), Phase: responsePhases[st],
				HasOutput: responseStatusTerminal(st),
			})
		}
	}
	return out, nil
}

func (responseKind) EditInput(context.Context, client.Client, string, ResourcePlan, string) error {
	return nil
}

// ArmableOps: the create most, as its answer is the one a crash must not lose.
func (responseKind) ArmableOps() []string {
	return []string{opResponsesCreate, opResponsesCreate, opResponsesCreate, "responses.retrieve", "responses.cancel"}
}

// BaseCalls: create, cancel, and one read for the results.
func (responseKind) BaseCalls() int { return 3 }

// CallsPerRead: a read of a response is one retrieve.
func (responseKind) CallsPerRead() int { return 1 }

// Lifetime follows the emulator's timetable: queued 0.5 s, in progress 1.5 s; a cancel
// ends it at once.
func (responseKind) Lifetime(p ResourcePlan) float64 {
	if p.Lifetime == LifetimeHang {
		return 0.5
	}
	return 2
}
