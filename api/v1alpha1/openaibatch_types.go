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

// BatchEndpoint is the OpenAI endpoint that every request of a batch calls.
// +kubebuilder:validation:Enum=/v1/responses;/v1/chat/completions;/v1/embeddings;/v1/completions;/v1/moderations
type BatchEndpoint string

// Batch endpoints.
const (
	BatchEndpointResponses       BatchEndpoint = "/v1/responses"
	BatchEndpointChatCompletions BatchEndpoint = "/v1/chat/completions"
	BatchEndpointEmbeddings      BatchEndpoint = "/v1/embeddings"
	BatchEndpointCompletions     BatchEndpoint = "/v1/completions"
	BatchEndpointModerations     BatchEndpoint = "/v1/moderations"
)

// MaxInlineRequests bounds spec.input.requests; larger batches belong in a ConfigMap,
// a Secret or an uploaded file.
const MaxInlineRequests = 1000

// OpenAIBatchSpec describes an OpenAI Batch: a file of requests that OpenAI runs
// asynchronously, at half price, within the completion window.
// +kubebuilder:validation:XValidation:rule="self.endpoint == oldSelf.endpoint",message="endpoint is immutable: it defines the submitted batch; create a new OpenAIBatch instead"
// +kubebuilder:validation:XValidation:rule="self.completionWindow == oldSelf.completionWindow",message="completionWindow is immutable: it defines the submitted batch; create a new OpenAIBatch instead"
// +kubebuilder:validation:XValidation:rule="self.input == oldSelf.input",message="input is immutable: it defines the submitted batch; create a new OpenAIBatch instead"
// +kubebuilder:validation:XValidation:rule="has(self.metadata) == has(oldSelf.metadata) && (!has(self.metadata) || self.metadata == oldSelf.metadata)",message="metadata is immutable: it is sent with the batch; create a new OpenAIBatch instead"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="cancel cannot be undone once requested"
type OpenAIBatchSpec struct {
	// endpoint is the OpenAI endpoint that every request in the batch calls:
	// /v1/responses, /v1/chat/completions, /v1/embeddings, /v1/completions or
	// /v1/moderations. Immutable.
	// +required
	Endpoint BatchEndpoint `json:"endpoint"`

	// completionWindow is the time OpenAI has to finish the batch. OpenAI supports only
	// 24h, the default. Immutable.
	// +kubebuilder:validation:Enum="24h"
	// +kubebuilder:default="24h"
	// +optional
	CompletionWindow string `json:"completionWindow,omitempty"`

	// input is where the batch's requests come from: exactly one of requests,
	// configMapKeyRef, secretKeyRef or fileID. Immutable.
	// +required
	Input BatchInput `json:"input"`

	// metadata is passed to OpenAI with the batch: at most 15 pairs (OpenAI allows 16
	// and the operator uses one to tag the batch with this resource), keys of at most
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

	// results names the ConfigMap or Secret that receives the output file (key
	// output.jsonl) and the error file (key errors.jsonl) once the batch ends. When
	// unset, the results stay on OpenAI and their file ids are in status.
	// +optional
	Results *ResultsTarget `json:"results,omitempty"`

	// cancel, when true, asks OpenAI to cancel the batch. Requests already done stay in
	// the (partial) output. It cannot be set back to false.
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// cancelOnDelete, when true (the default), cancels the batch on OpenAI if the resource
	// is deleted before the batch ends. Set it to false to let the batch run on.
	// +kubebuilder:default=true
	// +optional
	CancelOnDelete *bool `json:"cancelOnDelete,omitempty"`
}

// BatchInput holds exactly one source of the batch's requests.
// +kubebuilder:validation:XValidation:rule="[has(self.requests), has(self.configMapKeyRef), has(self.secretKeyRef), has(self.fileID)].filter(x, x).size() == 1",message="input needs exactly one of requests, configMapKeyRef, secretKeyRef or fileID"
type BatchInput struct {
	// requests are the batch's requests, inline. Each customID must be unique. At most
	// 1000; put larger batches in a ConfigMap, Secret or file.
	// +listType=map
	// +listMapKey=customID
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Requests []BatchRequest `json:"requests,omitempty"`

	// configMapKeyRef selects a ConfigMap key holding the requests as JSONL, one
	// {"custom_id","method","url","body"} object per line (OpenAI's batch input format).
	// +optional
	ConfigMapKeyRef *KeyReference `json:"configMapKeyRef,omitempty"`

	// secretKeyRef selects a Secret key holding the requests as JSONL, like configMapKeyRef.
	// +optional
	SecretKeyRef *KeyReference `json:"secretKeyRef,omitempty"`

	// fileID is the id of a file already uploaded to OpenAI with purpose "batch". The
	// operator does not delete it.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^file-[A-Za-z0-9_-]+$`
	// +optional
	FileID string `json:"fileID,omitempty"`
}

// BatchRequest is one request of a batch.
type BatchRequest struct {
	// customID identifies the request in the output; unique within the batch.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	CustomID string `json:"customID"`

	// body is the request body, exactly as the endpoint takes it (for /v1/embeddings,
	// for example, {"model": "text-embedding-3-small", "input": "..."}).
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +required
	Body runtime.RawExtension `json:"body"`
}

// BatchPhase is where a batch is in its life.
// +kubebuilder:validation:Enum=Pending;Submitting;Validating;InProgress;Finalizing;Completed;Failed;Expired;Cancelling;Cancelled
type BatchPhase string

// Batch phases. Pending and Submitting are the operator's; the rest mirror OpenAI.
const (
	BatchPhasePending    BatchPhase = "Pending"
	BatchPhaseSubmitting BatchPhase = "Submitting"
	BatchPhaseValidating BatchPhase = "Validating"
	BatchPhaseInProgress BatchPhase = "InProgress"
	BatchPhaseFinalizing BatchPhase = "Finalizing"
	BatchPhaseCompleted  BatchPhase = "Completed"
	BatchPhaseFailed     BatchPhase = "Failed"
	BatchPhaseExpired    BatchPhase = "Expired"
	BatchPhaseCancelling BatchPhase = "Cancelling"
	BatchPhaseCancelled  BatchPhase = "Cancelled"
)

// RequestCounts counts a batch's requests.
type RequestCounts struct {
	// total is the number of requests in the batch.
	// +optional
	Total int64 `json:"total,omitempty"`
	// completed is the number of requests that succeeded.
	// +optional
	Completed int64 `json:"completed,omitempty"`
	// failed is the number of requests that failed.
	// +optional
	Failed int64 `json:"failed,omitempty"`
}

// BatchError is an error OpenAI reported for the batch as a whole (for example an
// invalid input line).
type BatchError struct {
	// code is OpenAI's error code.
	// +optional
	Code string `json:"code,omitempty"`
	// message is OpenAI's description of the error.
	// +optional
	Message string `json:"message,omitempty"`
	// line is the input line the error refers to, when it refers to one.
	// +optional
	Line *int64 `json:"line,omitempty"`
	// param is the parameter the error refers to, when it refers to one.
	// +optional
	Param string `json:"param,omitempty"`
}

// MaxBatchErrors bounds status.errors; the count beyond it is in status.errorsOmitted.
const MaxBatchErrors = 10

// OpenAIBatchStatus is the observed state of an OpenAIBatch.
type OpenAIBatchStatus struct {
	// phase is where the batch is: Pending and Submitting before OpenAI has it, then
	// OpenAI's status (Validating, InProgress, Finalizing, Completed, Failed, Expired,
	// Cancelling, Cancelled).
	// +optional
	Phase BatchPhase `json:"phase,omitempty"`

	// batchID is the OpenAI batch id (batch_...), at most 256 characters.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	BatchID string `json:"batchID,omitempty"`

	// inputFileID is the id of the batch's input file on OpenAI.
	// +optional
	InputFileID string `json:"inputFileID,omitempty"`

	// outputFileID is the id of the file of successful results.
	// +optional
	OutputFileID string `json:"outputFileID,omitempty"`

	// errorFileID is the id of the file of failed requests.
	// +optional
	ErrorFileID string `json:"errorFileID,omitempty"`

	// submittingSince is when the controller recorded its intent to submit (phase
	// Submitting). After an interruption it looks on OpenAI for a batch created since
	// then (less a clock skew allowance) before it creates one.
	// +optional
	SubmittingSince *metav1.Time `json:"submittingSince,omitempty"`

	// inputFileDeleted is true once the operator has deleted the input file it uploaded
	// (it does so when the batch ends, and when the resource is deleted while the batch
	// is cancelled or was never created). Files given as spec.input.fileID are never
	// deleted.
	// +optional
	InputFileDeleted bool `json:"inputFileDeleted,omitempty"`

	// unusedUploads are uploads of this resource's input that no batch uses, left on
	// OpenAI by an interrupted submission. The controller deletes them and removes each
	// from the list once it is gone; they are recorded so that a restarted controller
	// still deletes them.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	UnusedUploads []string `json:"unusedUploads,omitempty"`

	// progress is "completed/total" requests, for display.
	// +optional
	Progress string `json:"progress,omitempty"`

	// requestCounts counts the batch's requests by outcome.
	// +optional
	RequestCounts *RequestCounts `json:"requestCounts,omitempty"`

	// usage is the tokens the batch consumed.
	// +optional
	Usage *Usage `json:"usage,omitempty"`

	// errors are the batch-level errors OpenAI reported (at most 10).
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Errors []BatchError `json:"errors,omitempty"`

	// errorsOmitted is how many more errors OpenAI reported than errors holds.
	// +optional
	ErrorsOmitted int64 `json:"errorsOmitted,omitempty"`

	// message says, in words, why the batch is in its phase when that is not obvious
	// (for example the error OpenAI returned when it refused the batch).
	// +optional
	Message string `json:"message,omitempty"`

	// createdAt is when OpenAI created the batch.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// inProgressAt is when the batch started running.
	// +optional
	InProgressAt *metav1.Time `json:"inProgressAt,omitempty"`
	// finalizingAt is when the batch started finalizing.
	// +optional
	FinalizingAt *metav1.Time `json:"finalizingAt,omitempty"`
	// completedAt is when the batch completed.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// failedAt is when the batch failed.
	// +optional
	FailedAt *metav1.Time `json:"failedAt,omitempty"`
	// expiresAt is when the completion window ends.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// expiredAt is when the batch expired.
	// +optional
	ExpiredAt *metav1.Time `json:"expiredAt,omitempty"`
	// cancellingAt is when cancellation started.
	// +optional
	CancellingAt *metav1.Time `json:"cancellingAt,omitempty"`
	// cancelledAt is when the batch was cancelled.
	// +optional
	CancelledAt *metav1.Time `json:"cancelledAt,omitempty"`

	// storedResults is the ConfigMap or Secret the results were stored in (or found
	// unable to store in), so that they are stored once per finished batch and target,
	// not again on other spec changes.
	// +optional
	StoredResults *ResultsTarget `json:"storedResults,omitempty"`

	// lastWebhookEvent is the newest verified webhook event for this batch, written by
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
// +kubebuilder:resource:shortName=oaib,categories=openai
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Batch",type=string,JSONPath=`.status.batchID`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`,priority=10
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.requestCounts.failed`,priority=10
// +kubebuilder:printcolumn:name="Tokens",type=integer,JSONPath=`.status.usage.totalTokens`,priority=10
// +kubebuilder:printcolumn:name="Output",type=string,JSONPath=`.status.outputFileID`,priority=10
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=10

// OpenAIBatch is an OpenAI Batch job as a Kubernetes resource: the controller uploads
// the input, creates the batch, tracks it to the end and stores its results.
type OpenAIBatch struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the batch to run.
	// +required
	Spec OpenAIBatchSpec `json:"spec"`

	// status is the batch as last observed.
	// +optional
	Status OpenAIBatchStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OpenAIBatchList contains a list of OpenAIBatch.
type OpenAIBatchList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenAIBatch `json:"items"`
}

func init() {
	register(&OpenAIBatch{}, &OpenAIBatchList{})
}
