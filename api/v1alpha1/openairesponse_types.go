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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MaxOutputTextLength bounds status.outputText, in bytes; longer text is cut at a
// character boundary, status.outputTruncated is set and the full output goes to
// spec.results when set.
const MaxOutputTextLength = 32768

// OpenAIResponseSpec describes an OpenAI Response created in background mode: OpenAI
// runs it asynchronously and the operator tracks it to the end.
// +kubebuilder:validation:XValidation:rule="self.model == oldSelf.model",message="model is immutable: it defines the submitted response; create a new OpenAIResponse instead"
// +kubebuilder:validation:XValidation:rule="has(self.instructions) == has(oldSelf.instructions) && (!has(self.instructions) || self.instructions == oldSelf.instructions)",message="instructions is immutable: it defines the submitted response; create a new OpenAIResponse instead"
// +kubebuilder:validation:XValidation:rule="self.input == oldSelf.input",message="input is immutable: it defines the submitted response; create a new OpenAIResponse instead"
// +kubebuilder:validation:XValidation:rule="has(self.parameters) == has(oldSelf.parameters) && (!has(self.parameters) || self.parameters == oldSelf.parameters)",message="parameters is immutable: it defines the submitted response; create a new OpenAIResponse instead"
// +kubebuilder:validation:XValidation:rule="has(self.metadata) == has(oldSelf.metadata) && (!has(self.metadata) || self.metadata == oldSelf.metadata)",message="metadata is immutable: it is sent with the response; create a new OpenAIResponse instead"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="cancel cannot be undone once requested"
type OpenAIResponseSpec struct {
	// model is the model that generates the response, for example gpt-5-mini. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Model string `json:"model"`

	// instructions is the system (developer) message. Immutable.
	// +kubebuilder:validation:MaxLength=262144
	// +optional
	Instructions string `json:"instructions,omitempty"`

	// input is the prompt: exactly one of text or items. Immutable.
	// +required
	Input ResponseInput `json:"input"`

	// parameters are further fields of OpenAI's create-response request, passed through
	// as given: for example tools, reasoning, text, max_output_tokens, temperature. The
	// fields the operator sets itself (model, input, instructions, metadata, background,
	// stream, store) must not appear here; a response that sets them fails with reason
	// InvalidInput before anything is sent. Immutable.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`

	// metadata is passed to OpenAI with the response: at most 15 pairs (OpenAI allows 16
	// and the operator uses one to tag the response with this resource), keys of at most
	// 64 characters, values of at most 512. Immutable.
	// +kubebuilder:validation:MaxProperties=15
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 64)",message="metadata keys must be at most 64 characters (OpenAI's limit)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].size() <= 512)",message="metadata values must be at most 512 characters (OpenAI's limit)"
	// +kubebuilder:validation:XValidation:rule="!('openai.operator.dev/resource' in self)",message="metadata key openai.operator.dev/resource is reserved for the operator"
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`

	// credentialsRef names the Secret holding the OpenAI API key. When unset, the
	// manager's default Secret name (flag --default-credentials-secret, "openai-credentials")
	// in the resource's namespace is used.
	// +optional
	CredentialsRef *CredentialsReference `json:"credentialsRef,omitempty"`

	// results names the ConfigMap or Secret that receives the full output text (key
	// output.txt) and the response object as JSON (key response.json) once the response
	// ends.
	// +optional
	Results *ResultsTarget `json:"results,omitempty"`

	// cancel, when true, asks OpenAI to cancel the response. It cannot be set back to false.
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// cancelOnDelete, when true (the default), cancels the response on OpenAI if the
	// resource is deleted before it ends.
	// +kubebuilder:default=true
	// +optional
	CancelOnDelete *bool `json:"cancelOnDelete,omitempty"`
}

// ResponseInput is the prompt of a response: exactly one of text or items.
// +kubebuilder:validation:XValidation:rule="has(self.text) != has(self.items)",message="input needs exactly one of text or items"
type ResponseInput struct {
	// text is the prompt as plain text, sent as a single user message.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1048576
	// +optional
	Text string `json:"text,omitempty"`

	// items is the prompt as OpenAI input items (messages with roles, images, files,
	// earlier outputs), passed through as given. At most 1000.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Items []runtime.RawExtension `json:"items,omitempty"`
}

// ResponsePhase is where a response is in its life.
// +kubebuilder:validation:Enum=Pending;Submitting;Queued;InProgress;Completed;Failed;Cancelled;Incomplete
type ResponsePhase string

// Response phases. Pending and Submitting are the operator's; the rest mirror OpenAI.
const (
	ResponsePhasePending    ResponsePhase = "Pending"
	ResponsePhaseSubmitting ResponsePhase = "Submitting"
	ResponsePhaseQueued     ResponsePhase = "Queued"
	ResponsePhaseInProgress ResponsePhase = "InProgress"
	ResponsePhaseCompleted  ResponsePhase = "Completed"
	ResponsePhaseFailed     ResponsePhase = "Failed"
	ResponsePhaseCancelled  ResponsePhase = "Cancelled"
	ResponsePhaseIncomplete ResponsePhase = "Incomplete"
)

// ResponseError is the error OpenAI reported for a failed response.
type ResponseError struct {
	// code is OpenAI's error code, for example server_error.
	// +optional
	Code string `json:"code,omitempty"`
	// message is OpenAI's description of the error.
	// +optional
	Message string `json:"message,omitempty"`
}

// IncompleteDetails says why a response ended early.
type IncompleteDetails struct {
	// reason is OpenAI's reason: max_output_tokens or content_filter.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// OpenAIResponseStatus is the observed state of an OpenAIResponse.
type OpenAIResponseStatus struct {
	// phase is where the response is: Pending and Submitting before OpenAI has it, then
	// OpenAI's status (Queued, InProgress, Completed, Failed, Cancelled, Incomplete).
	// +optional
	Phase ResponsePhase `json:"phase,omitempty"`

	// responseID is the OpenAI response id (resp_...), at most 256 characters.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ResponseID string `json:"responseID,omitempty"`

	// createAttempts counts the create calls the operator sent for this response, each
	// recorded before it was sent. More than one means that an earlier call ended
	// without an answer (a crash, a timeout) and OpenAI may have run the response that
	// many times: responses cannot be listed, so an earlier one cannot be found. Each
	// call after the first is also announced by a PossibleDuplicate Warning Event.
	// +optional
	// +kubebuilder:validation:Minimum=0
	CreateAttempts int32 `json:"createAttempts,omitempty"`

	// outputText is the response's output text, at most 32768 bytes; see outputTruncated.
	// +optional
	OutputText string `json:"outputText,omitempty"`

	// outputTruncated is true when outputText holds only the start of the output; the
	// whole of it is in spec.results when that is set.
	// +optional
	OutputTruncated bool `json:"outputTruncated,omitempty"`

	// usage is the tokens the response consumed.
	// +optional
	Usage *Usage `json:"usage,omitempty"`

	// error is the error OpenAI reported when the response failed.
	// +optional
	Error *ResponseError `json:"error,omitempty"`

	// incompleteDetails says why the response ended early, when it did.
	// +optional
	IncompleteDetails *IncompleteDetails `json:"incompleteDetails,omitempty"`

	// message says, in words, why the response is in its phase when that is not obvious
	// (for example the error OpenAI returned when it refused the request).
	// +optional
	Message string `json:"message,omitempty"`

	// createdAt is when OpenAI created the response.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// completedAt is when the response reached a terminal status.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// storedResults is the ConfigMap or Secret the results were stored in (or found
	// unable to store in), so that they are stored once per finished response and
	// target, not again on other spec changes.
	// +optional
	StoredResults *ResultsTarget `json:"storedResults,omitempty"`

	// lastWebhookEvent is the newest verified webhook event for this response, written by
	// the webhook receiver.
	// +optional
	LastWebhookEvent *WebhookEvent `json:"lastWebhookEvent,omitempty"`

	SyncStatus `json:",inline"`

	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are CredentialsReady, Submitted, Complete, Failed, ResultsStored and
	// ObjectFound.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=oair,categories=openai
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Response",type=string,JSONPath=`.status.responseID`
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.spec.model`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Tokens",type=integer,JSONPath=`.status.usage.totalTokens`,priority=10
// +kubebuilder:printcolumn:name="Output",type=string,JSONPath=`.status.outputText`,priority=10
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=10

// OpenAIResponse is an OpenAI Response run in background mode, as a Kubernetes resource:
// the controller creates it, tracks it to the end and records its output.
type OpenAIResponse struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the response to create.
	// +required
	Spec OpenAIResponseSpec `json:"spec"`

	// status is the response as last observed.
	// +optional
	Status OpenAIResponseStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OpenAIResponseList contains a list of OpenAIResponse.
type OpenAIResponseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenAIResponse `json:"items"`
}

func init() {
	register(&OpenAIResponse{}, &OpenAIResponseList{})
}
