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

	"github.com/openai/openai-go/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// Kind is what the harness knows about one resource kind: how to make a resource, what
// its status says, and what OpenAI holds for it. The schedule, the faults, the crashes,
// the common user actions and the invariants are the same for every kind.
type Kind interface {
	// Kind is the resource kind, e.g. "OpenAIBatch"; Prefix starts its resources' names.
	Kind() string
	Prefix() string
	// Plan fills in the kind's own part of a drawn plan, drawing from r. It must draw
	// the same numbers for the same plan, so that schedules replay.
	Plan(r *rand.Rand, p *ResourcePlan)
	// Objects returns the resource for plan p in namespace ns, and the objects it needs
	// that must exist first (an input ConfigMap).
	Objects(ns string, p ResourcePlan) (client.Object, []client.Object)
	// NewList returns an empty list of the kind.
	NewList() client.ObjectList
	// Observe reads what the invariants compare from a resource of the kind.
	Observe(obj client.Object) Observed
	// Remote returns what OpenAI holds for each resource of the namespace, by resource
	// name, read from the emulator (never through the manager's transport).
	Remote(ctx context.Context, t *Truth) (map[string][]Remote, error)
	// EditInput changes the input source of the resource of plan p (ActEditInput and
	// ActRestoreInput); kinds without an input source outside the resource do nothing.
	EditInput(ctx context.Context, c client.Client, ns string, p ResourcePlan, edit string) error
	// CanSearch reports whether OpenAI can list objects of the kind by the operator's
	// tag, so that an interrupted create can always be adopted: then a second object
	// for one resource is never acceptable (I1).
	CanSearch() bool
	// ArmableOps are the operations a resource of the kind calls, for crashes armed to
	// follow OpenAI's answer to one (repeated ones are drawn more often).
	ArmableOps() []string
	// BaseCalls is the most calls a resource of the kind needs when nothing goes wrong,
	// reads of its progress apart (I6).
	BaseCalls() int
	// CallsPerRead is how many calls one read of a resource's progress makes (I6).
	CallsPerRead() int
	// Lifetime is how long, at most, the OpenAI work of plan p takes at time scale 1
	// (hang: until cancelled; then the time a cancel takes).
	Lifetime(p ResourcePlan) float64
}

// Kinds are the kinds a run can exercise (FAULT_KINDS selects among them; all by
// default). Every run's managers run all of their controllers, and the harness watches
// and checks every kind.
//
// To add a kind: write one file with a type implementing Kind, and add it here. Its
// remote truth comes from the emulator's API (list by the operator's metadata tag where
// OpenAI can list, or the ids the wire saw created where it cannot, as for responses).
var Kinds = []Kind{batchKind{}, responseKind{}, fineTuneKind{}, endpointKind{}}

// standing is a kind whose OpenAI object is configuration that lives as long as its
// resource (a webhook endpoint), not work that ends: it has no phase, so it states its
// own I5 and I7 in place of the phase-based ones (I1 and I2 apply as to work that never
// ends on its own).
type standing interface {
	// Disagree describes how the conditions of o disagree (I5), or returns "".
	Disagree(o *Observed) string
	// Unsettled describes how r, live or deleted, has not settled (I7), or returns "".
	Unsettled(s *Snapshot, r *ResourceState) string
}

// actor is a kind that performs some of the schedule's per-resource actions in its own
// terms (stamp is a value unique to the action); it reports false for the actions it
// leaves to the common code.
type actor interface {
	UserAction(ctx context.Context, c client.Client, obj client.Object, action, stamp string) (bool, error)
}

// disagree describes how the conditions of o, of kind k, disagree (I5), or returns "".
func disagree(k Kind, o *Observed) string {
	if st, ok := k.(standing); ok {
		return st.Disagree(o)
	}
	return conditionsDisagree(o)
}

// The emulator's model that never finishes on its own (LifetimeHang).
const modelHang = "emulator-hang"

// Phases the harness names: Completed ends work successfully; a phase Cancelled, or a
// Failed reason Cancelled, says the user cancelled it.
const (
	phaseCompleted = "Completed"
	phaseCancelled = "Cancelled"
	phaseFailed    = "Failed"
)

// OpenAI's statuses of ended work that several kinds share.
const (
	statusCompleted = "completed"
	statusCancelled = "cancelled"
	statusFailed    = "failed"
	statusSucceeded = "succeeded"
)

// Observed is a resource's status, as the invariants compare it.
type Observed struct {
	Kind, Name string
	UID        types.UID
	// ResourceVersion identifies the write.
	ResourceVersion                string
	Generation, ObservedGeneration int64
	Deleting                       bool
	Phase                          string
	// Terminal: the phase is one that ends the resource; Successful: it is Completed.
	Terminal, Successful bool
	// Complete and Failed are the conditions' truth; FailedReason the Failed reason.
	Complete, Failed bool
	FailedReason     string
	Message          string
	// RemoteID is the OpenAI id the status names.
	RemoteID string
	// Cancel is spec.cancel; CancelOnDelete spec.cancelOnDelete (default true).
	Cancel, CancelOnDelete bool
	// ResultsWanted: spec.results is set; ResultsStored: condition ResultsStored True.
	ResultsWanted, ResultsStored bool
	// Reconciling, Stalled and Ready are those conditions' truth (what kstatus reads).
	Reconciling, Stalled, Ready bool
	// CreateAttempts is status.createAttempts (responses): the create calls that may
	// have created the object, each counted before it was sent.
	CreateAttempts int
	// OutcomeUnknown: condition ObjectFound is Unknown with reason OutcomeUnknown, the
	// status's durable announcement that OpenAI may hold an object the operator cannot
	// find (the Warning of the same name may be lost with the process).
	OutcomeUnknown bool
	// Endpoint is what an OpenAIWebhookEndpoint says beyond these (nil for other kinds).
	Endpoint *EndpointObserved
}

// workStatus is what the status of a work kind (a batch, a response, a fine-tuning job)
// says, in the same terms for every kind.
type workStatus struct {
	phase, message, remoteID string
	observedGeneration       int64
	conditions               []metav1.Condition
	// cancel is spec.cancel; cancelOnDelete spec.cancelOnDelete; resultsWanted: spec.results is set.
	cancel         bool
	cancelOnDelete *bool
	resultsWanted  bool
	// terminal: the phase ends the resource; successful: it is the phase of success.
	terminal, successful bool
}

// observeCommon reads what the invariants compare from a resource of a work kind.
func observeCommon(kind string, obj client.Object, st workStatus) Observed {
	o := Observed{
		Kind: kind, Name: obj.GetName(), UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
		Generation: obj.GetGeneration(), ObservedGeneration: st.observedGeneration,
		Deleting: !obj.GetDeletionTimestamp().IsZero(), Phase: st.phase, Message: st.message,
		RemoteID: st.remoteID, Cancel: st.cancel, CancelOnDelete: ptr.Deref(st.cancelOnDelete, true),
		ResultsWanted: st.resultsWanted, Terminal: st.terminal, Successful: st.successful,
	}
	observeConditions(&o, st.conditions)
	return o
}

// observeConditions fills in the condition fields of o.
func observeConditions(o *Observed, conds []metav1.Condition) {
	o.Complete = meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionComplete)
	if c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionFailed); c != nil && c.Status == metav1.ConditionTrue {
		o.Failed, o.FailedReason = true, c.Reason
	}
	o.ResultsStored = meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionResultsStored)
	o.Reconciling = meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionReconciling)
	o.Stalled = meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionStalled)
	o.Ready = meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionReady)
	if c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionObjectFound); c != nil {
		o.OutcomeUnknown = c.Status == metav1.ConditionUnknown && c.Reason == openaiv1alpha1.ReasonOutcomeUnknown
	}
}

// Remote is an object on OpenAI that belongs to a resource.
type Remote struct {
	ID string
	// Status is OpenAI's status; Terminal says it will not change any more.
	Status   string
	Terminal bool
	// Phase is the resource phase that mirrors Status.
	Phase string
	// InputFileIDs are the input files the object uses: a batch's input file, a
	// fine-tuning job's training and validation files.
	InputFileIDs []string
	// HasOutput: OpenAI holds results to store (an output or error file, or a response's
	// output).
	HasOutput bool
	// SecretHint and EventTypes are a webhook endpoint's signing_secret_hint (of the
	// secret it signs with now) and event types.
	SecretHint string
	EventTypes []string
}

// Truth reads what OpenAI holds, straight from the emulator.
type Truth struct {
	// API is an SDK client on the emulator with a key the schedule never revokes.
	API openai.Client
	// Namespace of the seed.
	Namespace string
	// Wire knows the responses the manager created (OpenAI cannot list them).
	Wire *Wire
}
