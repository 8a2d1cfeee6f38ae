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
	"k8s.io/apimachinery/pkg/util/intstr"
)

// MaxInlineExamples bounds spec.trainingData.examples and spec.validationData.examples;
// larger data sets belong in a ConfigMap, a Secret or an uploaded file.
const MaxInlineExamples = 1000

// MaxFineTuningEvents bounds status.recentEvents.
const MaxFineTuningEvents = 5

// ReasonSucceeded is the reason of OpenAIFineTuningJob's Complete condition when the job
// succeeded and the model is ready. The other reasons are the shared ones.
const ReasonSucceeded = "Succeeded"

// FineTuningMethodType is a fine-tuning method.
// +kubebuilder:validation:Enum=supervised;dpo;reinforcement
type FineTuningMethodType string

// Fine-tuning methods.
const (
	// FineTuningSupervised trains on example conversations (the chat format).
	FineTuningSupervised FineTuningMethodType = "supervised"
	// FineTuningDPO trains on preference pairs (direct preference optimization).
	FineTuningDPO FineTuningMethodType = "dpo"
	// FineTuningReinforcement trains against a grader (reinforcement fine-tuning).
	FineTuningReinforcement FineTuningMethodType = "reinforcement"
)

// OpenAIFineTuningJobSpec describes an OpenAI fine-tuning job: OpenAI trains a new model
// from a base model and training data, and the operator hands its name to workloads.
// +kubebuilder:validation:XValidation:rule="self.model == oldSelf.model",message="model is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="self.trainingData == oldSelf.trainingData",message="trainingData is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="has(self.validationData) == has(oldSelf.validationData) && (!has(self.validationData) || self.validationData == oldSelf.validationData)",message="validationData is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="has(self.method) == has(oldSelf.method) && (!has(self.method) || self.method == oldSelf.method)",message="method is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="has(self.suffix) == has(oldSelf.suffix) && (!has(self.suffix) || self.suffix == oldSelf.suffix)",message="suffix is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="has(self.seed) == has(oldSelf.seed) && (!has(self.seed) || self.seed == oldSelf.seed)",message="seed is immutable: it defines the submitted job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="has(self.metadata) == has(oldSelf.metadata) && (!has(self.metadata) || self.metadata == oldSelf.metadata)",message="metadata is immutable: it is sent with the job; create a new OpenAIFineTuningJob instead"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="cancel cannot be undone once requested"
type OpenAIFineTuningJobSpec struct {
	// model is the base model to fine-tune, for example gpt-4o-mini-2024-07-18 or
	// gpt-4.1-mini (OpenAI's list of models that can be fine-tuned changes over time; a
	// model it refuses ends the resource with reason Rejected). Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Model string `json:"model"`

	// trainingData is the training set: exactly one of examples, configMapKeyRef,
	// secretKeyRef or fileID, in the format of the method (chat examples for
	// supervised, preference pairs for dpo). The operator checks it before uploading
	// anything; OpenAI needs at least 10 examples. Immutable.
	// +required
	TrainingData TrainingData `json:"trainingData"`

	// validationData is an optional validation set, in the same forms and format as
	// trainingData; OpenAI reports the model's loss on it as the job runs. Immutable.
	// +optional
	ValidationData *TrainingData `json:"validationData,omitempty"`

	// method is how the model is trained: supervised (the default), dpo or reinforcement,
	// with its hyperparameters. Immutable.
	// +optional
	Method *FineTuningMethod `json:"method,omitempty"`

	// suffix is added to the fine-tuned model's name
	// (ft:<base>:<organization>:<suffix>:<id>): at most 64 letters, digits, '-', '_' or
	// '.'. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._-]+$`
	// +optional
	Suffix string `json:"suffix,omitempty"`

	// seed makes the job reproducible: the same seed and parameters give the same
	// results (in all but rare cases). OpenAI picks one when unset. Immutable.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	Seed *int64 `json:"seed,omitempty"`

	// metadata is passed to OpenAI with the job: at most 15 pairs (OpenAI allows 16 and
	// the operator uses one to tag the job with this resource), keys of at most 64
	// characters, values of at most 512. Immutable.
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

	// results names the ConfigMap or Secret that receives, once the job succeeds, the
	// fine-tuned model's name (key model, for workloads to read, for example into an
	// environment variable), the job's metrics (key metrics.csv, OpenAI's result file)
	// and its checkpoints (key checkpoints.json). When unset, the model's name is in
	// status.fineTunedModel.
	// +optional
	Results *ResultsTarget `json:"results,omitempty"`

	// paused, when true, pauses the job once it runs (OpenAI keeps its progress);
	// setting it back to false resumes it.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// cancel, when true, asks OpenAI to cancel the job. It cannot be set back to false.
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// cancelOnDelete, when true (the default), cancels the job on OpenAI if the resource
	// is deleted before the job ends. Set it to false to let the job run on.
	// +kubebuilder:default=true
	// +optional
	CancelOnDelete *bool `json:"cancelOnDelete,omitempty"`
}

// TrainingData holds exactly one source of fine-tuning examples.
// +kubebuilder:validation:XValidation:rule="[has(self.examples), has(self.configMapKeyRef), has(self.secretKeyRef), has(self.fileID)].filter(x, x).size() == 1",message="training data needs exactly one of examples, configMapKeyRef, secretKeyRef or fileID"
type TrainingData struct {
	// examples are the examples, inline: each one JSON object, one line of OpenAI's
	// JSONL training file (for supervised, {"messages": [{"role": "user", "content":
	// "..."}, {"role": "assistant", "content": "..."}]}). At most 1000; put larger sets
	// in a ConfigMap, Secret or file.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Examples []runtime.RawExtension `json:"examples,omitempty"`

	// configMapKeyRef selects a ConfigMap key holding the examples as JSONL, one example
	// per line (OpenAI's training file format).
	// +optional
	ConfigMapKeyRef *KeyReference `json:"configMapKeyRef,omitempty"`

	// secretKeyRef selects a Secret key holding the examples as JSONL, like
	// configMapKeyRef. Use it when the examples are sensitive.
	// +optional
	SecretKeyRef *KeyReference `json:"secretKeyRef,omitempty"`

	// fileID is the id of a file already uploaded to OpenAI with purpose "fine-tune".
	// The operator neither checks nor deletes it.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^file-[A-Za-z0-9_-]+$`
	// +optional
	FileID string `json:"fileID,omitempty"`
}

// FineTuningMethod is how the model is trained.
// +kubebuilder:validation:XValidation:rule="!has(self.hyperparameters) || !has(self.hyperparameters.beta) || self.type == 'dpo'",message="hyperparameters.beta applies only to method type dpo"
// +kubebuilder:validation:XValidation:rule="self.type != 'reinforcement' || has(self.parameters)",message="method type reinforcement needs parameters with OpenAI's grader, for example parameters: {grader: {type: string_check, ...}}"
type FineTuningMethod struct {
	// type is supervised (learn from example conversations, the default), dpo (learn
	// from preference pairs) or reinforcement (learn against a grader, on reasoning
	// models).
	// +kubebuilder:default=supervised
	// +optional
	Type FineTuningMethodType `json:"type,omitempty"`

	// hyperparameters are the training hyperparameters the methods share; each is
	// "auto" (OpenAI chooses, the default) or a number. Write a number with a fraction
	// in quotes ("0.5"), as Kubernetes quantities are written.
	// +optional
	Hyperparameters *Hyperparameters `json:"hyperparameters,omitempty"`

	// parameters are further fields of the method's configuration, passed to OpenAI as
	// given under method.<type>: for reinforcement the grader (required) and
	// hyperparameters such as reasoning_effort or compute_multiplier. The hyperparameters
	// typed above must be set there, not here.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`
}

// Hyperparameters are fine-tuning hyperparameters. Each is "auto" (OpenAI chooses) or a
// number; write a number with a fraction in quotes ("0.5"), as Kubernetes quantities
// are written.
type Hyperparameters struct {
	// nEpochs is the number of passes over the training data: "auto" or 1 to 50.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 && self <= 50 : self == 'auto'",message="nEpochs must be \"auto\" or a whole number from 1 to 50"
	// +optional
	NEpochs *intstr.IntOrString `json:"nEpochs,omitempty"`

	// batchSize is the number of examples in each batch: "auto" or 1 to 256.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 && self <= 256 : self == 'auto'",message="batchSize must be \"auto\" or a whole number from 1 to 256"
	// +optional
	BatchSize *intstr.IntOrString `json:"batchSize,omitempty"`

	// learningRateMultiplier scales the learning rate: "auto" or a positive number
	// such as "0.5" (a fraction in quotes).
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self > 0 : (self == 'auto' || (self.matches('^[0-9]*\\\\.?[0-9]+$') && double(self) > 0.0))",message="learningRateMultiplier must be \"auto\" or a positive number, such as \"0.5\" (in quotes when it has a fraction)"
	// +optional
	LearningRateMultiplier *intstr.IntOrString `json:"learningRateMultiplier,omitempty"`

	// beta weighs the penalty between the policy and the reference model (dpo only):
	// "auto" or a positive number such as "0.1" (a fraction in quotes).
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self > 0 : (self == 'auto' || (self.matches('^[0-9]*\\\\.?[0-9]+$') && double(self) > 0.0))",message="beta must be \"auto\" or a positive number, such as \"0.1\" (in quotes when it has a fraction)"
	// +optional
	Beta *intstr.IntOrString `json:"beta,omitempty"`
}

// FineTuningPhase is where a fine-tuning job is in its life.
// +kubebuilder:validation:Enum=Pending;Submitting;ValidatingFiles;Queued;Running;Pausing;Paused;Succeeded;Failed;Cancelled
type FineTuningPhase string

// Fine-tuning phases. Pending and Submitting are the operator's; the rest mirror OpenAI.
const (
	FineTuningPhasePending         FineTuningPhase = "Pending"
	FineTuningPhaseSubmitting      FineTuningPhase = "Submitting"
	FineTuningPhaseValidatingFiles FineTuningPhase = "ValidatingFiles"
	FineTuningPhaseQueued          FineTuningPhase = "Queued"
	FineTuningPhaseRunning         FineTuningPhase = "Running"
	FineTuningPhasePausing         FineTuningPhase = "Pausing"
	FineTuningPhasePaused          FineTuningPhase = "Paused"
	FineTuningPhaseSucceeded       FineTuningPhase = "Succeeded"
	FineTuningPhaseFailed          FineTuningPhase = "Failed"
	FineTuningPhaseCancelled       FineTuningPhase = "Cancelled"
)

// FineTuningError is the error OpenAI reported for a failed job.
type FineTuningError struct {
	// code is OpenAI's error code, for example invalid_training_file.
	// +optional
	Code string `json:"code,omitempty"`
	// message is OpenAI's description of the error.
	// +optional
	Message string `json:"message,omitempty"`
	// param is the parameter at fault, for example training_file, when there is one.
	// +optional
	Param string `json:"param,omitempty"`
}

// FineTuningCheckpoint is a model checkpoint OpenAI saved during training.
type FineTuningCheckpoint struct {
	// step is the training step the checkpoint was saved at.
	// +optional
	Step int64 `json:"step,omitempty"`
	// model is the checkpoint's model name, usable like the fine-tuned model.
	// +optional
	Model string `json:"model,omitempty"`
	// createdAt is when OpenAI saved the checkpoint.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// metrics are the checkpoint's metrics as OpenAI reports them (train_loss,
	// train_mean_token_accuracy, valid_loss, valid_mean_token_accuracy,
	// full_valid_loss, full_valid_mean_token_accuracy), as decimal strings.
	// +optional
	Metrics map[string]string `json:"metrics,omitempty"`
}

// FineTuningEvent is one of a job's events, as OpenAI logs them.
type FineTuningEvent struct {
	// createdAt is when OpenAI logged the event.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// level is info, warn or error.
	// +optional
	Level string `json:"level,omitempty"`
	// message is the event's text, for example "Step 7/30: training loss=1.23".
	// +optional
	Message string `json:"message,omitempty"`
}

// OpenAIFineTuningJobStatus is the observed state of an OpenAIFineTuningJob.
type OpenAIFineTuningJobStatus struct {
	// phase is where the job is: Pending and Submitting before OpenAI has it, then
	// OpenAI's status (ValidatingFiles, Queued, Running, Pausing, Paused, Succeeded,
	// Failed, Cancelled).
	// +optional
	Phase FineTuningPhase `json:"phase,omitempty"`

	// jobID is the OpenAI fine-tuning job id (ftjob-...).
	// +optional
	JobID string `json:"jobID,omitempty"`

	// baseModel is the model OpenAI fine-tunes, as it reports it (a dated snapshot).
	// +optional
	BaseModel string `json:"baseModel,omitempty"`

	// fineTunedModel is the name of the fine-tuned model, set once the job succeeded.
	// +optional
	FineTunedModel string `json:"fineTunedModel,omitempty"`

	// trainingFileID is the id of the training file on OpenAI.
	// +optional
	TrainingFileID string `json:"trainingFileID,omitempty"`

	// validationFileID is the id of the validation file on OpenAI.
	// +optional
	ValidationFileID string `json:"validationFileID,omitempty"`

	// uploadedFilesDeleted is true once the operator has deleted the files it uploaded
	// (it does so when the job ends, and when the resource is deleted). Files given as
	// fileID are never deleted.
	// +optional
	UploadedFilesDeleted bool `json:"uploadedFilesDeleted,omitempty"`

	// trainedTokens is the number of billable tokens the job trained on, once it ended.
	// +optional
	TrainedTokens int64 `json:"trainedTokens,omitempty"`

	// estimatedFinish is when OpenAI expects the running job to finish.
	// +optional
	EstimatedFinish *metav1.Time `json:"estimatedFinish,omitempty"`

	// resultFiles are the ids of the job's result files (metrics per step, CSV).
	// +optional
	ResultFiles []string `json:"resultFiles,omitempty"`

	// error is what OpenAI reported when the job failed.
	// +optional
	Error *FineTuningError `json:"error,omitempty"`

	// latestCheckpoint is the newest checkpoint OpenAI saved.
	// +optional
	LatestCheckpoint *FineTuningCheckpoint `json:"latestCheckpoint,omitempty"`

	// recentEvents are the job's newest events (at most 5), newest first.
	// +kubebuilder:validation:MaxItems=5
	// +optional
	RecentEvents []FineTuningEvent `json:"recentEvents,omitempty"`

	// message says, in words, why the job is in its phase when that is not obvious (for
	// example the error OpenAI reported).
	// +optional
	Message string `json:"message,omitempty"`

	// createdAt is when OpenAI created the job.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// finishedAt is when the job ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`

	// submittingSince is when the operator recorded its intent to create the job. A
	// restarted manager searches OpenAI for a job created since then before it creates
	// one, so a crash never trains twice.
	// +optional
	SubmittingSince *metav1.Time `json:"submittingSince,omitempty"`

	// resultsStoredIn names the object the results were written to (or refused for): they
	// are written once per finished job and target, not again on later spec edits.
	// +optional
	ResultsStoredIn *ResultsTarget `json:"resultsStoredIn,omitempty"`

	// lastWebhookEvent is the newest verified webhook event for this job, written by the
	// webhook receiver.
	// +optional
	LastWebhookEvent *WebhookEvent `json:"lastWebhookEvent,omitempty"`

	SyncStatus `json:",inline"`

	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are CredentialsReady, Submitted, Complete, Failed and ResultsStored.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=oaift,categories=openai
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Job",type=string,JSONPath=`.status.jobID`
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.status.fineTunedModel`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Base",type=string,JSONPath=`.spec.model`,priority=10
// +kubebuilder:printcolumn:name="Tokens",type=integer,JSONPath=`.status.trainedTokens`,priority=10
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=10

// OpenAIFineTuningJob is an OpenAI fine-tuning job as a Kubernetes resource: the
// controller checks and uploads the training data, creates the job, tracks it to the
// end and hands the fine-tuned model's name to workloads.
type OpenAIFineTuningJob struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the fine-tuning job to run.
	// +required
	Spec OpenAIFineTuningJobSpec `json:"spec"`

	// status is the job as last observed.
	// +optional
	Status OpenAIFineTuningJobStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OpenAIFineTuningJobList contains a list of OpenAIFineTuningJob.
type OpenAIFineTuningJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenAIFineTuningJob `json:"items"`
}

func init() {
	register(&OpenAIFineTuningJob{}, &OpenAIFineTuningJobList{})
}
