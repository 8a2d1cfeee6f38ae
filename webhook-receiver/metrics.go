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
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a webhook request or of a held (early) event, the values of the outcome
// label of openai_webhook_events_total.
const (
	// OutcomeAccepted: the event was recorded in a resource's status.
	OutcomeAccepted = "accepted"
	// OutcomeDuplicate: the webhook-id was seen recently, or the resource already
	// records this event.
	OutcomeDuplicate = "duplicate"
	// OutcomeSuperseded: the resource already records a newer event (out of order).
	OutcomeSuperseded = "superseded"
	// OutcomeInvalidSignature: no signature matched a configured secret.
	OutcomeInvalidSignature = "invalid_signature"
	// OutcomeStale: the webhook-timestamp is outside the tolerance.
	OutcomeStale = "stale"
	// OutcomeMalformed: headers missing or malformed, or a verified body that is not an event.
	OutcomeMalformed = "malformed"
	// OutcomeUnmanaged: an event type the operator does not manage, an id no resource
	// carried before its hold expired, or a resource deleted before the record landed.
	OutcomeUnmanaged = "unmanaged"
	// OutcomeEarly: no resource carries the id yet; the event is held.
	OutcomeEarly = "early"
	// OutcomeDropped: a held event was evicted because the early-event store was full.
	OutcomeDropped = "dropped"
	// OutcomeTooLarge: the body exceeds the size limit.
	OutcomeTooLarge = "too_large"
	// OutcomeOverloaded: every place to read a body was taken (503 with Retry-After).
	OutcomeOverloaded = "overloaded"
	// OutcomeTooSlow: the body did not arrive in time, or a slow body was cut off to
	// make room for a new request (408).
	OutcomeTooSlow = "too_slow"
	// OutcomeMethodNotAllowed: a method other than POST.
	OutcomeMethodNotAllowed = "method_not_allowed"
	// OutcomeUnavailable: the cache has not synced yet, or could not be read.
	OutcomeUnavailable = "unavailable"
	// OutcomeNoSecret: no signing secret is configured (503, so that OpenAI retries).
	OutcomeNoSecret = "no_secret"
	// OutcomeWriteError: the status patch failed.
	OutcomeWriteError = "write_error"
)

// Values of the "from" label of openai_webhook_event_to_status_seconds.
const (
	fromReceived = "received"
	fromCreated  = "created"
)

// Metrics are the receiver's Prometheus metrics.
type Metrics struct {
	// Events counts requests and held events by event type and outcome.
	Events *prometheus.CounterVec
	// RequestDuration observes the time to answer a request, by HTTP status code.
	RequestDuration *prometheus.HistogramVec
	// EventToStatus observes the time until a record landed in status, from receipt
	// (from="received") and from the event's created_at (from="created").
	EventToStatus *prometheus.HistogramVec
	// EarlyEvents is the number of events held until a resource carries their id.
	EarlyEvents prometheus.Gauge
	// SigningSecrets is the number of signing secrets loaded.
	SigningSecrets prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (controller-runtime's
// metrics.Registry in the binary, a fresh registry in tests). Metrics already
// registered by an earlier call are reused.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openai_webhook_events_total",
			Help: "OpenAI webhook requests and held events, by event type and outcome.",
		}, []string{"type", "outcome"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "openai_webhook_request_duration_seconds",
			Help:    "Time to answer an OpenAI webhook request, by HTTP status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"code"}),
		EventToStatus: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "openai_webhook_event_to_status_seconds",
			Help: "Time until a webhook event was recorded in status, from its receipt (from=received) or from its created_at (from=created).",
			// From 5 ms to about 17 minutes, past the default hold of early events.
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 14),
		}, []string{"from"}),
		EarlyEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "openai_webhook_early_events",
			Help: "OpenAI webhook events held until a resource carries their object id.",
		}),
		SigningSecrets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "openai_webhook_signing_secrets",
			Help: "Webhook signing secrets currently loaded.",
		}),
	}
	var err error
	m.Events = register(reg, m.Events, &err)
	m.RequestDuration = register(reg, m.RequestDuration, &err)
	m.EventToStatus = register(reg, m.EventToStatus, &err)
	m.EarlyEvents = register(reg, m.EarlyEvents, &err)
	m.SigningSecrets = register(reg, m.SigningSecrets, &err)
	return m, err
}

// register registers c, or returns the collector already registered under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		*errp = errors.Join(*errp, err)
	}
	return c
}

// count adds one to the events counter.
func (m *Metrics) count(eventType, outcome string) {
	m.Events.WithLabelValues(eventType, outcome).Inc()
}
