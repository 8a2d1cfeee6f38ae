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

package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Limits on event fields, matching the schema of status.lastWebhookEvent.
const (
	maxEventIDLen   = 256
	maxEventTypeLen = 128
	// maxObjectIDLen bounds data.id, matching the schema of status.batchID and
	// status.responseID: it keys the early-event store and is logged.
	maxObjectIDLen = 256
	// maxUnixSeconds is 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
	maxUnixSeconds = 253402300799
)

// Metric label values for the event type when it is not one of knownEventTypes.
const (
	// typeOther labels a verified event whose type is not a known OpenAI event type.
	typeOther = "other"
	// typeUnknown labels a request whose event type is not known because it was not
	// verified or could not be parsed.
	typeUnknown = "unknown"
)

// knownEventTypes are the event types OpenAI documents (openai-go v3.98.0's union). They
// are the only values of the metrics' type label besides typeOther and typeUnknown, so
// that a sender cannot grow the label set.
var knownEventTypes = map[string]struct{}{
	"batch.cancelled": {}, "batch.completed": {}, "batch.expired": {}, "batch.failed": {},
	"response.cancelled": {}, "response.completed": {}, "response.failed": {}, "response.incomplete": {},
	"fine_tuning.job.cancelled": {}, "fine_tuning.job.failed": {}, "fine_tuning.job.succeeded": {},
	"eval.run.canceled": {}, "eval.run.failed": {}, "eval.run.succeeded": {},
	"realtime.call.incoming": {}, "live.call.incoming": {}, "live.transport.incoming": {},
	"video.completed": {}, "video.failed": {},
	"agent.environment.expired": {}, "agent.environment.failed": {}, "agent.environment.ready": {},
	"agent.environment.suspended": {}, "agent.session.action_required": {}, "agent.session.created": {},
	"agent.session.failed": {}, "agent.session.idle": {}, "agent.session.in_progress": {},
	"safety.alert.created": {}, "safety.deactivation_issued": {}, "safety.org_alert.created": {},
	"safety.warning_issued":    {},
	"webhook_endpoint.deleted": {}, "webhook_endpoint.test": {},
}

// typeLabel bounds an event type to the values the metrics may carry.
func typeLabel(eventType string) string {
	if _, ok := knownEventTypes[eventType]; ok {
		return eventType
	}
	return typeOther
}

// targetKind is the kind of resource an event is recorded on.
type targetKind int

const (
	// kindNone marks event types the operator does not manage.
	kindNone targetKind = iota
	// kindBatch routes by OpenAIBatch status.batchID.
	kindBatch
	// kindResponse routes by OpenAIResponse status.responseID.
	kindResponse
	// kindFineTuningJob routes by OpenAIFineTuningJob status.jobID.
	kindFineTuningJob
)

// String names the kind for logs.
func (k targetKind) String() string {
	switch k {
	case kindBatch:
		return "OpenAIBatch"
	case kindResponse:
		return "OpenAIResponse"
	case kindFineTuningJob:
		return "OpenAIFineTuningJob"
	default:
		return "none"
	}
}

// kindOf returns the kind of resource that events of the given type concern.
func kindOf(eventType string) targetKind {
	switch {
	case strings.HasPrefix(eventType, "batch."):
		return kindBatch
	case strings.HasPrefix(eventType, "response."):
		return kindResponse
	case strings.HasPrefix(eventType, "fine_tuning.job."):
		return kindFineTuningJob
	default:
		return kindNone
	}
}

// event is a verified OpenAI webhook event.
type event struct {
	// ID is the event id (evt_...).
	ID string
	// Type is the event type, for example batch.completed.
	Type string
	// CreatedAt is when OpenAI created the event, to the second.
	CreatedAt time.Time
	// ObjectID is data.id: the batch, response or fine-tuning job id. It is empty for
	// unmanaged types.
	ObjectID string
}

// errMalformedEvent means a verified body is not an event the receiver can record.
var errMalformedEvent = errors.New("malformed event")

// parseEvent decodes a verified body. fallbackCreated, the verified webhook-timestamp,
// stands in for a missing created_at. data.id is required only for event types the
// operator manages: other types are acknowledged whatever their data holds.
func parseEvent(body []byte, fallbackCreated time.Time) (event, error) {
	var raw struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt json.Number     `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}
	if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
		return event{}, fmt.Errorf("%w: body is not a JSON object", errMalformedEvent)
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return event{}, fmt.Errorf("%w: body is not valid event JSON", errMalformedEvent)
	}
	switch {
	case raw.ID == "":
		return event{}, fmt.Errorf("%w: id is missing", errMalformedEvent)
	case len(raw.ID) > maxEventIDLen:
		return event{}, fmt.Errorf("%w: id is longer than %d bytes", errMalformedEvent, maxEventIDLen)
	case raw.Type == "":
		return event{}, fmt.Errorf("%w: type is missing", errMalformedEvent)
	case len(raw.Type) > maxEventTypeLen:
		return event{}, fmt.Errorf("%w: type is longer than %d bytes", errMalformedEvent, maxEventTypeLen)
	}
	evt := event{ID: raw.ID, Type: raw.Type, CreatedAt: fallbackCreated}
	if raw.CreatedAt != "" {
		f, err := raw.CreatedAt.Float64()
		if err != nil || math.IsNaN(f) || f < 1 || f > maxUnixSeconds {
			return event{}, fmt.Errorf("%w: created_at is not a unix time in seconds", errMalformedEvent)
		}
		evt.CreatedAt = time.Unix(int64(f), 0)
	}
	if kindOf(raw.Type) == kindNone {
		return evt, nil
	}
	var data struct {
		ID string `json:"id"`
	}
	if len(raw.Data) == 0 || json.Unmarshal(raw.Data, &data) != nil || data.ID == "" {
		return event{}, fmt.Errorf("%w: data.id is missing", errMalformedEvent)
	}
	if len(data.ID) > maxObjectIDLen {
		return event{}, fmt.Errorf("%w: data.id is longer than %d bytes", errMalformedEvent, maxObjectIDLen)
	}
	evt.ObjectID = data.ID
	return evt, nil
}
