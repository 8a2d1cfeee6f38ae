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

// RotateRequestAnnotation asks for a rotation of an OpenAIWebhookEndpoint's signing
// secret now: set it to any new value (for example the current time) and the controller
// rotates once for that value, keeping the old secret accepted for the overlap. Use it
// when a secret may have leaked.
const RotateRequestAnnotation = "openai.operator.dev/rotate-requested-at"

// MaxWebhookEndpointNameLength bounds the name of an OpenAIWebhookEndpoint, so that the
// keys derived from namespace and name ("<namespace>_<name>_previous") fit in a Secret
// key (253 characters).
const MaxWebhookEndpointNameLength = 180

// Condition types of OpenAIWebhookEndpoint. Its Ready condition (ConditionReady) is True
// when the endpoint exists on OpenAI as the spec asks and its current signing secret is in
// the webhook receiver's Secret.
const (
	// ConditionVerified is True when OpenAI's test delivery, sent after the current
	// secret was in place, was answered with a 2xx by the receiver: the public URL, the
	// ingress, the receiver and the secret all work. When False, its reason and message
	// say what the status code suggests.
	ConditionVerified = "Verified"
)

// Condition reasons of OpenAIWebhookEndpoint.
const (
	// ReasonCreating means the endpoint is being created or adopted on OpenAI.
	ReasonCreating = "Creating"
	// ReasonNoURL means neither spec.url nor the manager's default receiver URL is set.
	ReasonNoURL = "NoURL"
	// ReasonReceiverSecretFailed means the signing secret could not be written to the
	// receiver's Secret.
	ReasonReceiverSecretFailed = "ReceiverSecretFailed"
	// ReasonConfigured means the endpoint is configured and its secret is in place.
	ReasonConfigured = "Configured"

	// ReasonTestPending means no test delivery has been made since the current secret
	// was put in place.
	ReasonTestPending = "TestPending"
	// ReasonDelivered means the test delivery was answered with a 2xx.
	ReasonDelivered = "Delivered"
	// ReasonSignatureRejected means the receiver answered 401: it has not loaded the
	// secret yet, or holds a different one.
	ReasonSignatureRejected = "SignatureRejected"
	// ReasonReceiverUnavailable means the receiver answered 503: it has no signing secret at
	// all, or cannot work (for example its cache has not synced).
	ReasonReceiverUnavailable = "ReceiverUnavailable"
	// ReasonNotRouted means the URL answered 404 or 405: the ingress or the path does
	// not lead to the receiver.
	ReasonNotRouted = "NotRouted"
	// ReasonUnreachable means OpenAI got no HTTP answer from the URL.
	ReasonUnreachable = "Unreachable"
	// ReasonUnexpectedStatus means the URL answered another status code.
	ReasonUnexpectedStatus = "UnexpectedStatus"
)

// WebhookRotation configures the scheduled rotation of the signing secret.
type WebhookRotation struct {
	// every is how often the signing secret is rotated, as a Go duration of at least one
	// hour, for example 720h (30 days). The old secret stays accepted for the overlap
	// (24 hours, as OpenAI keeps it); a rotation never starts while the previous
	// overlap runs.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="rotation.every must be at least 1h"
	// +required
	Every metav1.Duration `json:"every"`
}

// OpenAIWebhookEndpointSpec describes a webhook endpoint of an OpenAI project.
type OpenAIWebhookEndpointSpec struct {
	// credentialsRef names the Secret, in this namespace, holding the API key of the
	// OpenAI project whose events the endpoint receives (the same Secret the project's
	// OpenAIBatch and OpenAIResponse resources use). When unset, the manager's default
	// Secret name (flag --default-credentials-secret, "openai-credentials") is used.
	// +optional
	CredentialsRef *CredentialsReference `json:"credentialsRef,omitempty"`

	// url is the HTTPS URL OpenAI delivers the events to: the webhook receiver's public
	// endpoint, for example https://hooks.example.com/openai/webhook. When unset, the
	// manager's default (flag --webhook-receiver-url) is used, so most endpoints leave
	// it out.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+([/?#]\S*)?$`
	// +optional
	URL string `json:"url,omitempty"`

	// eventTypes are the event types delivered, for example batch.completed. When unset,
	// every type the operator's kinds use: batch.completed, batch.failed, batch.expired,
	// batch.cancelled, response.completed, response.failed, response.cancelled,
	// response.incomplete, fine_tuning.job.succeeded, fine_tuning.job.failed and
	// fine_tuning.job.cancelled. At most 64.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`
	// +listType=set
	// +optional
	EventTypes []string `json:"eventTypes,omitempty"`

	// rotation, when set, rotates the signing secret on a schedule. Annotate the
	// resource with openai.operator.dev/rotate-requested-at=<any new value> to rotate at
	// once.
	// +optional
	Rotation *WebhookRotation `json:"rotation,omitempty"`

	// displayName is the endpoint's name on OpenAI, shown in the dashboard (default:
	// "<namespace>/<name>"). The operator appends the resource's UID in parentheses,
	// which is how it finds the endpoint again after a restart.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	DisplayName string `json:"displayName,omitempty"`
}

// WebhookRotationStatus records the last rotation of the signing secret.
type WebhookRotationStatus struct {
	// time is when OpenAI rotated the secret.
	// +required
	Time metav1.Time `json:"time"`

	// reason is why: Scheduled (spec.rotation.every), Requested (the
	// openai.operator.dev/rotate-requested-at annotation) or SecretLost (the current
	// secret was not in the receiver's Secret, for example after the manager stopped
	// between OpenAI's answer and writing the secret).
	// +kubebuilder:validation:Enum=Scheduled;Requested;SecretLost
	// +required
	Reason string `json:"reason"`

	// previousSecretExpiresAt is when the previous secret stops being accepted: OpenAI
	// signs with both until then, and the receiver holds both. Unset once it is removed.
	// +optional
	PreviousSecretExpiresAt *metav1.Time `json:"previousSecretExpiresAt,omitempty"`

	// request is the value of the openai.operator.dev/rotate-requested-at annotation the
	// last requested rotation answered.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Request string `json:"request,omitempty"`

	// count is the number of rotations of this endpoint.
	// +optional
	Count int64 `json:"count,omitempty"`
}

// WebhookTestStatus is the outcome of the last test delivery.
type WebhookTestStatus struct {
	// time is when the test was made.
	// +required
	Time metav1.Time `json:"time"`

	// eventType is the type of the test event OpenAI sent.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	EventType string `json:"eventType,omitempty"`

	// statusCode is the HTTP status the URL answered; 0 when there was no answer.
	// +optional
	StatusCode int32 `json:"statusCode"`
}

// OpenAIWebhookEndpointStatus is the observed state of an OpenAIWebhookEndpoint. The
// signing secret itself never appears here: it goes only to the receiver's Secret.
type OpenAIWebhookEndpointStatus struct {
	// endpointID is the OpenAI webhook endpoint id.
	// +optional
	EndpointID string `json:"endpointID,omitempty"`

	// url is the URL configured on OpenAI.
	// +optional
	URL string `json:"url,omitempty"`

	// eventTypes are the event types configured on OpenAI.
	// +listType=set
	// +optional
	EventTypes []string `json:"eventTypes,omitempty"`

	// signingSecretHint is OpenAI's masked hint of the current signing secret.
	// +optional
	SigningSecretHint string `json:"signingSecretHint,omitempty"`

	// receiverSecretKey is the key of the webhook receiver's Secret (in the operator's
	// namespace) that holds the current signing secret: "<namespace>_<name>". During a
	// rotation's overlap the previous one is under "<namespace>_<name>_previous".
	// +optional
	ReceiverSecretKey string `json:"receiverSecretKey,omitempty"`

	// secretWrittenAt is when the current signing secret was written to the receiver's
	// Secret; the test that sets Verified follows it once the receivers have had time to
	// load it.
	// +optional
	SecretWrittenAt *metav1.MicroTime `json:"secretWrittenAt,omitempty"`

	// lastRotation is the last rotation of the signing secret.
	// +optional
	LastRotation *WebhookRotationStatus `json:"lastRotation,omitempty"`

	// lastTest is the last test delivery.
	// +optional
	LastTest *WebhookTestStatus `json:"lastTest,omitempty"`

	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are CredentialsReady, Ready and Verified.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=oaiwh,categories=openai
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 180",message="metadata.name must be at most 180 characters: the receiver's Secret keys are derived from namespace and name"
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpointID`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Verified",type=string,JSONPath=`.status.conditions[?(@.type=="Verified")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Test",type=integer,JSONPath=`.status.lastTest.statusCode`,priority=10
// +kubebuilder:printcolumn:name="Rotated",type=date,JSONPath=`.status.lastRotation.time`,priority=10
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.signingSecretHint`,priority=10
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Verified")].message`,priority=10

// OpenAIWebhookEndpoint is an OpenAI webhook endpoint as a Kubernetes resource: the
// controller creates it on the OpenAI project of its credentials, puts its signing
// secret where the webhook receiver reads it, proves delivery end to end with a test
// event, rotates the secret, and deletes the endpoint with the resource.
type OpenAIWebhookEndpoint struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the endpoint to configure; an empty spec uses the manager's defaults.
	// +optional
	Spec OpenAIWebhookEndpointSpec `json:"spec,omitempty"`

	// status is the endpoint as last observed.
	// +optional
	Status OpenAIWebhookEndpointStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OpenAIWebhookEndpointList contains a list of OpenAIWebhookEndpoint.
type OpenAIWebhookEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenAIWebhookEndpoint `json:"items"`
}

func init() {
	register(&OpenAIWebhookEndpoint{}, &OpenAIWebhookEndpointList{})
}
