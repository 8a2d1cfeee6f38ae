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

package emulator

import (
	"sync/atomic"
	"time"
)

// Operation names counted in Stats.Calls.
const (
	OpFilesCreate       = "files.create"
	OpFilesRetrieve     = "files.retrieve"
	OpFilesContent      = "files.content"
	OpFilesDelete       = "files.delete"
	OpFilesList         = "files.list"
	OpBatchesCreate     = "batches.create"
	OpBatchesRetrieve   = "batches.retrieve"
	OpBatchesCancel     = "batches.cancel"
	OpBatchesList       = "batches.list"
	OpResponsesCreate   = "responses.create"
	OpResponsesRetrieve = "responses.retrieve"
	OpResponsesCancel   = "responses.cancel"
	OpResponsesDelete   = "responses.delete"

	OpFineTuningJobsCreate         = "fine_tuning.jobs.create"
	OpFineTuningJobsRetrieve       = "fine_tuning.jobs.retrieve"
	OpFineTuningJobsList           = "fine_tuning.jobs.list"
	OpFineTuningJobsCancel         = "fine_tuning.jobs.cancel"
	OpFineTuningJobsPause          = "fine_tuning.jobs.pause"
	OpFineTuningJobsResume         = "fine_tuning.jobs.resume"
	OpFineTuningJobsEvents         = "fine_tuning.jobs.events"
	OpFineTuningJobsCheckpoints    = "fine_tuning.jobs.checkpoints"
	OpWebhookEndpointsCreate       = "webhook_endpoints.create"
	OpWebhookEndpointsRetrieve     = "webhook_endpoints.retrieve"
	OpWebhookEndpointsUpdate       = "webhook_endpoints.update"
	OpWebhookEndpointsList         = "webhook_endpoints.list"
	OpWebhookEndpointsDelete       = "webhook_endpoints.delete"
	OpWebhookEndpointsRotateSecret = "webhook_endpoints.rotate_secret"
	OpWebhookEndpointsTest         = "webhook_endpoints.test"
	OpWebhookEventTypesList        = "webhook_event_types.list"
)

var allOps = []string{
	OpFilesCreate, OpFilesRetrieve, OpFilesContent, OpFilesDelete, OpFilesList,
	OpBatchesCreate, OpBatchesRetrieve, OpBatchesCancel, OpBatchesList,
	OpResponsesCreate, OpResponsesRetrieve, OpResponsesCancel, OpResponsesDelete,
	OpFineTuningJobsCreate, OpFineTuningJobsRetrieve, OpFineTuningJobsList, OpFineTuningJobsCancel,
	OpFineTuningJobsPause, OpFineTuningJobsResume, OpFineTuningJobsEvents, OpFineTuningJobsCheckpoints,
	OpWebhookEndpointsCreate, OpWebhookEndpointsRetrieve, OpWebhookEndpointsUpdate, OpWebhookEndpointsList,
	OpWebhookEndpointsDelete, OpWebhookEndpointsRotateSecret, OpWebhookEndpointsTest, OpWebhookEventTypesList,
}

// Stats is a snapshot of what the emulator saw and did.
type Stats struct {
	// Calls counts authenticated API calls by operation (for example "batches.create"),
	// including those answered with an injected fault.
	Calls map[string]int64 `json:"calls"`
	// Succeeded counts the calls of Calls answered 2xx, by operation (for a create: the
	// object was made, whether or not the caller got the answer). A call whose request
	// never arrived whole (its caller killed while sending it) is in Calls only.
	Succeeded map[string]int64 `json:"succeeded"`
	// Faults counts injected faults and refused calls.
	Faults FaultCounts `json:"faults"`
	// Webhooks records every webhook delivery (one per event and endpoint), oldest first.
	Webhooks []WebhookDelivery `json:"webhooks"`
}

// FaultCounts counts what the fault knobs did.
type FaultCounts struct {
	// RateLimited is the number of 429 rate_limit_exceeded answers (random faults and
	// enforced rate limits; injections are in Injected).
	RateLimited int64 `json:"rate_limited"`
	// InsufficientQuota is the number of random 429 insufficient_quota answers.
	InsufficientQuota int64 `json:"insufficient_quota"`
	// Injected counts the answers of Inject, by fault kind.
	Injected map[string]int64 `json:"injected"`
	// ServerErrors is the number of injected 500 answers.
	ServerErrors int64 `json:"server_errors"`
	// Unauthorized is the number of calls refused with 401 by authentication (a wrong,
	// revoked or read-only key).
	Unauthorized int64 `json:"unauthorized"`
	// WebhooksDropped is the number of deliveries never sent.
	WebhooksDropped int64 `json:"webhooks_dropped"`
	// WebhooksDuplicated is the number of deliveries sent twice.
	WebhooksDuplicated int64 `json:"webhooks_duplicated"`
	// WebhooksDelayed is the number of deliveries held back by the delay knob.
	WebhooksDelayed int64 `json:"webhooks_delayed"`
	// WebhooksReordered is the number of deliveries moved by the reorder knob.
	WebhooksReordered int64 `json:"webhooks_reordered"`
}

// Webhook delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its first or next attempt
	DeliveryDelivered = "delivered" // a 2xx answer was received
	DeliveryFailed    = "failed"    // every attempt of the retry schedule failed
	DeliveryDropped   = "dropped"   // dropped by the drop knob, never sent
	DeliveryAbandoned = "abandoned" // the endpoint was deleted before the delivery succeeded
)

// WebhookDelivery records the delivery of one event to one endpoint.
type WebhookDelivery struct {
	// WebhookID is the webhook-id header, the same on every attempt.
	WebhookID string `json:"webhook_id"`
	// EventID is the event's id ("evt_...").
	EventID string `json:"event_id"`
	// Type is the event type, such as "batch.completed".
	Type string `json:"type"`
	// DataID is the id of the batch or response the event is about.
	DataID string `json:"data_id"`
	// Endpoint is the receiving URL.
	Endpoint string `json:"endpoint"`
	// EndpointID is the id of the webhook endpoint ("whe_...").
	EndpointID string `json:"endpoint_id"`
	// Test is true for the sample delivery of POST /v1/webhook_endpoints/{id}/test,
	// which is attempted once and never retried.
	Test bool `json:"test,omitempty"`
	// Signatures is the number of "v1," signatures on the last attempt: one per active
	// secret of the endpoint (two while a rotation's overlap runs).
	Signatures int `json:"signatures,omitempty"`
	// State is one of pending, delivered, failed, dropped, abandoned.
	State string `json:"state"`
	// Attempts counts HTTP attempts, duplicates included.
	Attempts int `json:"attempts"`
	// Delivered counts 2xx answers (2 for a duplicated delivery).
	Delivered int `json:"delivered"`
	// LastStatus is the HTTP status of the last attempt; 0 when it got no answer.
	LastStatus int `json:"last_status"`
	// LastError describes the last failed attempt.
	LastError string `json:"last_error,omitempty"`
	// Duplicated, Delayed and Reordered say which knobs touched the delivery.
	Duplicated bool `json:"duplicated,omitempty"`
	Delayed    bool `json:"delayed,omitempty"`
	Reordered  bool `json:"reordered,omitempty"`
	// EnqueuedAt is when the event was queued for the endpoint.
	EnqueuedAt time.Time `json:"enqueued_at"`
	// LastAttemptAt is when the last attempt was made.
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
}

type statsBook struct {
	byOp                                         map[string]*atomic.Int64
	okByOp                                       map[string]*atomic.Int64
	byFault                                      map[FaultKind]*atomic.Int64
	rateLimited, serverErrors, unauthorized      atomic.Int64
	quota                                        atomic.Int64
	dropped, duplicated, delayed, reorderedCount atomic.Int64
}

func newStatsBook() *statsBook {
	s := &statsBook{
		byOp:    make(map[string]*atomic.Int64, len(allOps)),
		okByOp:  make(map[string]*atomic.Int64, len(allOps)),
		byFault: make(map[FaultKind]*atomic.Int64, len(faultKinds)),
	}
	for _, op := range allOps {
		s.byOp[op], s.okByOp[op] = new(atomic.Int64), new(atomic.Int64)
	}
	for _, f := range faultKinds {
		s.byFault[f] = new(atomic.Int64)
	}
	return s
}

func (s *statsBook) injected(f FaultKind) {
	if c := s.byFault[f]; c != nil {
		c.Add(1)
	}
}

func (s *statsBook) call(op string) {
	if c := s.byOp[op]; c != nil {
		c.Add(1)
	}
}

// answered counts a call of op by its status: a 2xx is a call that succeeded.
func (s *statsBook) answered(op string, status int) {
	if c := s.okByOp[op]; c != nil && status >= 200 && status < 300 {
		c.Add(1)
	}
}

func (s *statsBook) calls(op string) int64 {
	if c := s.byOp[op]; c != nil {
		return c.Load()
	}
	return 0
}

func (s *statsBook) snapshot() Stats {
	out := Stats{Calls: make(map[string]int64, len(s.byOp)), Succeeded: make(map[string]int64, len(s.okByOp))}
	for op, c := range s.byOp {
		out.Calls[op] = c.Load()
	}
	for op, c := range s.okByOp {
		out.Succeeded[op] = c.Load()
	}
	injected := make(map[string]int64, len(s.byFault))
	for f, c := range s.byFault {
		injected[string(f)] = c.Load()
	}
	out.Faults = FaultCounts{
		RateLimited:        s.rateLimited.Load(),
		InsufficientQuota:  s.quota.Load(),
		Injected:           injected,
		ServerErrors:       s.serverErrors.Load(),
		Unauthorized:       s.unauthorized.Load(),
		WebhooksDropped:    s.dropped.Load(),
		WebhooksDuplicated: s.duplicated.Load(),
		WebhooksDelayed:    s.delayed.Load(),
		WebhooksReordered:  s.reorderedCount.Load(),
	}
	return out
}

func (s *statsBook) reset() {
	for _, c := range s.byOp {
		c.Store(0)
	}
	for _, c := range s.byFault {
		c.Store(0)
	}
	for _, c := range []*atomic.Int64{
		&s.rateLimited, &s.quota, &s.serverErrors, &s.unauthorized, &s.dropped, &s.duplicated, &s.delayed, &s.reorderedCount,
	} {
		c.Store(0)
	}
}
