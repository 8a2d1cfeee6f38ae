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
)

// ResourceMetadataKey is the OpenAI metadata key under which the operator tags every
// object it creates with "<namespace>/<name>/<uid>" of the owning resource. It is how a
// restarted controller finds (adopts) a batch it created but had not yet recorded, and
// it is why spec.metadata may hold one pair fewer than OpenAI's limit of 16.
const ResourceMetadataKey = "openai.operator.dev/resource"

// MaxUserMetadataPairs is the number of metadata pairs a user may set: OpenAI's 16
// minus the one the operator uses (ResourceMetadataKey).
const MaxUserMetadataPairs = 15

// Condition types shared by OpenAIBatch and OpenAIResponse.
const (
	// ConditionCredentialsReady is True when the credentials Secret holds an API key and
	// OpenAI accepts it. When False, the reason says why: the Secret or its key is
	// missing (SecretNotFound, KeyNotFound), its baseURL is not one the manager may call
	// (BaseURLNotAllowed), or OpenAI refused the key (Unauthorized,
	// Forbidden, WrongProject, InsufficientQuota, RequestRefused). A refusal never ends
	// the resource: it keeps its phase, the controller retries with backoff, and
	// continues by itself once OpenAI accepts the key again.
	ConditionCredentialsReady = "CredentialsReady"

	// ConditionSubmitted is True once OpenAI has accepted the work and its id is in status.
	ConditionSubmitted = "Submitted"

	// ConditionComplete is True when the work finished successfully. Like a Job's
	// condition of the same name, it is what `kubectl wait --for=condition=Complete` waits for.
	ConditionComplete = "Complete"

	// ConditionFailed is True when the work ended without success: failed, expired,
	// cancelled or incomplete; the reason says which.
	ConditionFailed = "Failed"

	// ConditionResultsStored is True once the results are in the object spec.results names.
	// It is absent when spec.results is not set.
	ConditionResultsStored = "ResultsStored"

	// ConditionObjectFound is False (reason NotFound) when OpenAI answers 404 for the
	// batch or response whose id is in status: it was deleted, or the API key now
	// belongs to another project. The resource keeps its phase and the controller keeps
	// reading the object on the polling schedule; it is True again once OpenAI shows
	// the object. The resource does not end by itself: a 404 is also what a key of
	// another project sees. Delete the resource to give up on the object. Absent until
	// a 404 first happens. For a response, it is Unknown (reason OutcomeUnknown) when
	// the resource ended while a create call's answer had been lost: OpenAI may hold a
	// response the operator cannot find (responses cannot be listed).
	ConditionObjectFound = "ObjectFound"

	// ConditionReconciling is True, with the phase as its reason, while the work is
	// unfinished, and absent once it ended. With Stalled it is what kstatus (Flux, and
	// the Argo CD health check in docs/OPERATIONS.md) reads: InProgress while it is
	// True.
	ConditionReconciling = "Reconciling"

	// ConditionStalled is True beside Failed=True, with its reason, when the work ended
	// without success: nothing more will happen (kstatus: Failed). Absent otherwise, and
	// for work the user cancelled (Failed reason Cancelled), which ended as asked.
	ConditionStalled = "Stalled"

	// ConditionReady is True when the work finished successfully (beside Complete) or as
	// the user asked (cancelled), and False, with the phase or the failure as its
	// reason, otherwise (kstatus reads Ready=False without Stalled as InProgress).
	ConditionReady = "Ready"
)

// Condition reasons.
const (
	// ReasonSecretNotFound means the credentials Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonKeyNotFound means the credentials Secret lacks the apiKey key.
	ReasonKeyNotFound = "KeyNotFound"
	// ReasonFound means the credentials were found (CredentialsReady), or the OpenAI
	// object is visible again (ObjectFound).
	ReasonFound = "Found"
	// ReasonUnauthorized means OpenAI answered 401: the key is wrong, revoked, or lacks a
	// permission the call needs.
	ReasonUnauthorized = "Unauthorized"
	// ReasonForbidden means OpenAI answered 403: the key may not make the call.
	ReasonForbidden = "Forbidden"
	// ReasonWrongProject means OpenAI refused the key for the organization or project
	// the credentials Secret names (mismatched_project, mismatched_organization, ...).
	ReasonWrongProject = "WrongProject"
	// ReasonInsufficientQuota means OpenAI answered 429 insufficient_quota: the account
	// has no credit left. The controller retries every few minutes.
	ReasonInsufficientQuota = "InsufficientQuota"
	// ReasonRequestRefused means OpenAI refused a call about work it already has (a read,
	// a cancel, a download) with another 4xx answer.
	ReasonRequestRefused = "RequestRefused"
	// ReasonNotFound means OpenAI answers 404 for the object whose id is in status.
	ReasonNotFound = "NotFound"
	// ReasonOutcomeUnknown means a create call's answer was lost, so OpenAI may hold an
	// object the operator cannot find (ObjectFound=Unknown; responses cannot be listed).
	ReasonOutcomeUnknown = "OutcomeUnknown"
	// ReasonBaseURLNotAllowed means the credentials Secret's baseURL is not one the
	// manager may call (its --allowed-base-urls flag).
	ReasonBaseURLNotAllowed = "BaseURLNotAllowed"

	// ReasonPending means the work has not been sent to OpenAI yet.
	ReasonPending = "Pending"
	// ReasonAccepted means OpenAI accepted the work.
	ReasonAccepted = "Accepted"
	// ReasonRejected means OpenAI refused the request with an error that no retry can fix.
	ReasonRejected = "Rejected"
	// ReasonInputNotFound means the ConfigMap, Secret or key holding the input is missing.
	ReasonInputNotFound = "InputNotFound"
	// ReasonSearchIncomplete means the controller has not finished looking, on OpenAI,
	// for a batch that an interrupted earlier attempt may have created; it creates
	// nothing until it has.
	ReasonSearchIncomplete = "SearchIncomplete"
	// ReasonInvalidInput means the input could not be turned into a valid request.
	ReasonInvalidInput = "InvalidInput"

	// ReasonInProgress means OpenAI is still working.
	ReasonInProgress = "InProgress"
	// ReasonCompleted means OpenAI finished the work successfully.
	ReasonCompleted = "Completed"
	// ReasonFailed means OpenAI reports the work as failed.
	ReasonFailed = "Failed"
	// ReasonExpired means a batch did not finish within its completion window (Failed),
	// or a result file is no longer on OpenAI (ResultsStored).
	ReasonExpired = "Expired"
	// ReasonCancelled means the work was cancelled.
	ReasonCancelled = "Cancelled"
	// ReasonIncomplete means a response ended early (for example at max_output_tokens).
	ReasonIncomplete = "Incomplete"

	// ReasonStored means the results were written.
	ReasonStored = "Stored"
	// ReasonTooLarge means the results exceed what one ConfigMap or Secret can hold;
	// the OpenAI file ids stay in status.
	ReasonTooLarge = "TooLarge"
	// ReasonTargetConflict means the results object exists and belongs to someone else.
	ReasonTargetConflict = "TargetConflict"
)

// CredentialsReference names the Secret, in the resource's namespace, that holds the
// OpenAI credentials. The Secret's keys are: apiKey (required), organization, project and
// baseURL (optional; baseURL overrides the manager's OpenAI base URL, for example to use
// a proxy, and must be one the manager's --allowed-base-urls flag lists).
type CredentialsReference struct {
	// name is the name of the Secret in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`
}

// ResultsKind is the kind of object that receives results.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type ResultsKind string

const (
	// ResultsKindConfigMap stores results in a ConfigMap.
	ResultsKindConfigMap ResultsKind = "ConfigMap"
	// ResultsKindSecret stores results in a Secret (use it when outputs are sensitive).
	ResultsKindSecret ResultsKind = "Secret"
)

// ResultsTarget names the ConfigMap or Secret, in the resource's namespace, that the
// operator creates, owns and fills with the results. An existing object of that name
// that the resource does not own is never overwritten.
type ResultsTarget struct {
	// kind is ConfigMap (the default) or Secret.
	// +kubebuilder:default=ConfigMap
	// +optional
	Kind ResultsKind `json:"kind,omitempty"`

	// name is the name of the ConfigMap or Secret to create.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`
}

// KeyReference selects a key of a ConfigMap or Secret in the resource's namespace.
type KeyReference struct {
	// name is the name of the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`

	// key is the data key that holds the content.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +required
	Key string `json:"key"`
}

// WebhookEvent is the record of a verified OpenAI webhook event, written by the webhook
// receiver. The controller treats a new record as a trigger to fetch the object from
// the OpenAI API, which stays the source of truth.
type WebhookEvent struct {
	// id is the event id (evt_...).
	// +kubebuilder:validation:MaxLength=256
	// +required
	ID string `json:"id"`

	// type is the event type, for example batch.completed.
	// +kubebuilder:validation:MaxLength=128
	// +required
	Type string `json:"type"`

	// createdAt is when OpenAI created the event.
	// +required
	CreatedAt metav1.Time `json:"createdAt"`

	// receivedAt is when the webhook receiver accepted the event.
	// +required
	ReceivedAt metav1.MicroTime `json:"receivedAt"`
}

// Usage counts the tokens consumed.
type Usage struct {
	// inputTokens is the number of input tokens.
	// +optional
	InputTokens int64 `json:"inputTokens,omitempty"`

	// cachedInputTokens is the number of input tokens served from the prompt cache.
	// +optional
	CachedInputTokens int64 `json:"cachedInputTokens,omitempty"`

	// outputTokens is the number of output tokens.
	// +optional
	OutputTokens int64 `json:"outputTokens,omitempty"`

	// reasoningTokens is the number of output tokens spent on reasoning.
	// +optional
	ReasoningTokens int64 `json:"reasoningTokens,omitempty"`

	// totalTokens is the number of tokens consumed in all.
	// +optional
	TotalTokens int64 `json:"totalTokens,omitempty"`
}

// SyncStatus is the controller's bookkeeping of its reads from the OpenAI API. It makes
// polling back off across restarts and lets a new webhook event trigger exactly one read.
type SyncStatus struct {
	// lastSyncTime is when the controller last read the object from the OpenAI API. Without
	// webhooks the next read follows after as long again as the object had existed at
	// this one (bounded by the manager's poll interval flags): exponential backoff that
	// survives restarts.
	// +optional
	LastSyncTime *metav1.MicroTime `json:"lastSyncTime,omitempty"`

	// handledWebhookEventID is the id of the last webhook event the controller acted on.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	HandledWebhookEventID string `json:"handledWebhookEventID,omitempty"`
}
