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

package controllers

import (
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openai_operator_api_requests_total",
		Help: "OpenAI API calls made by the manager, by operation and HTTP status code (0: no answer).",
	}, []string{"operation", "code"})

	apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "openai_operator_api_request_duration_seconds",
		Help:    "Duration of OpenAI API calls made by the manager.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	}, []string{"operation"})

	phaseTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openai_operator_phase_transitions_total",
		Help: "Phase changes of OpenAIBatch and OpenAIResponse resources, by kind and new phase.",
	}, []string{"kind", "phase"})

	quotaExhausted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openai_operator_insufficient_quota_total",
		Help: "OpenAI answers 429 insufficient_quota (the account has no credit left), by the namespace and name of the credentials Secret whose key was refused.",
	}, []string{"namespace", "secret"})

	webhookSecretRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openai_operator_webhook_secret_rotations_total",
		Help: "Rotations of OpenAIWebhookEndpoint signing secrets, by reason (Scheduled, Requested, SecretLost).",
	}, []string{"reason"})
	webhookToSync = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "openai_operator_webhook_to_sync_seconds",
		Help:    "Time from the webhook receiver recording an event to the controller reading the object from OpenAI.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"kind"})
)

// collectors are all of the manager's own metrics: registered together, and listed by
// Collectors, so that none can be registered but missing from the list.
var collectors = []prometheus.Collector{apiCalls, apiDuration, phaseTransitions, quotaExhausted, webhookSecretRotations, webhookToSync}

func init() {
	metrics.Registry.MustRegister(collectors...)
}

// ObserveAPICall records one OpenAI API call; it is the openaiclient.Factory's Observe hook.
func ObserveAPICall(operation string, code int, d time.Duration) {
	apiCalls.WithLabelValues(operation, strconv.Itoa(code)).Inc()
	apiDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// Collectors returns the manager's own metrics (registered in controller-runtime's
// registry at init), so that tests can check the names alerts and dashboards use.
func Collectors() []prometheus.Collector {
	return slices.Clone(collectors)
}
