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
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openai-operator/openai-operator/internal/namespaces"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// FieldOwner is the field manager of the receiver's status patches.
const FieldOwner = "openai-webhook-receiver"

// Defaults of Options.
const (
	DefaultBindAddress            = ":9000"
	DefaultPath                   = "/openai/webhook"
	DefaultSecretsPath            = "/etc/openai-webhook"
	DefaultSigningSecretName      = "openai-webhook-secret"
	DefaultSecretsPollInterval    = 5 * time.Second
	DefaultMaxBodyBytes           = 64 << 10
	DefaultMaxConcurrentReads     = 64
	DefaultMetricsBindAddress     = ":8443"
	DefaultHealthProbeBindAddress = ":8081"
	DefaultEarlyEventTTL          = 10 * time.Minute
	DefaultMaxEarlyEvents         = 10000
	DefaultDedupTTL               = 24 * time.Hour
	DefaultMaxDedupIDs            = 100000
	DefaultWriteTimeout           = 10 * time.Second
	DefaultDrainPeriod            = 10 * time.Second
)

// Options configure the receiver. The zero value of a field means its default.
type Options struct {
	// BindAddress is where the webhook endpoint listens.
	BindAddress string
	// Path is the only URL path that accepts webhooks; every other path is 404.
	Path string
	// SecretsPath is a file, or a directory of files, holding "whsec_" signing secrets.
	SecretsPath string
	// SigningSecretName and SigningSecretNamespace name a Secret whose every key holds a
	// signing secret, watched through the API server (see SecretWatch); its secrets are
	// accepted as well as those of SecretsPath. Either empty turns the watch off.
	SigningSecretName      string
	SigningSecretNamespace string
	// SecretsPollInterval is how often SecretsPath is re-read.
	SecretsPollInterval time.Duration
	// Tolerance is how far webhook-timestamp may be from now, either way.
	Tolerance time.Duration
	// MaxBodyBytes caps the request body; larger bodies are answered 413.
	MaxBodyBytes int64
	// MaxConcurrentReads bounds the requests reading and verifying their body at once;
	// beyond it a request is answered 503 with Retry-After (see readLimiter).
	MaxConcurrentReads int
	// MetricsBindAddress is where /metrics is served; "0" disables it.
	MetricsBindAddress string
	// MetricsSecure serves /metrics over HTTPS to authenticated and authorized scrapers
	// only, as the manager does (internal/metricsauth). The flag defaults to true; the
	// zero Options (tests, embedding) serve plain HTTP.
	MetricsSecure bool
	// MetricsCertPath is the directory of the metrics server's certificate
	// (MetricsCertName, MetricsCertKey; reloaded when they change, e.g. a cert-manager
	// Secret's mount); empty, or without those files, a self-signed one is served.
	MetricsCertPath                 string
	MetricsCertName, MetricsCertKey string
	// HealthProbeBindAddress is where /healthz and /readyz are served; "0" disables it.
	HealthProbeBindAddress string
	// PprofBindAddress is where the Go profiler (net/http/pprof) is served; empty (the
	// default) disables it.
	PprofBindAddress string
	// Namespace restricts the receiver to these namespaces, comma-separated (a
	// namespace-scoped install); empty means all.
	Namespace string
	// EarlyEventTTL is how long an event whose id no resource carries yet is held.
	EarlyEventTTL time.Duration
	// MaxEarlyEvents bounds the held events of each kind (batch, response); when a kind
	// is full, its oldest is dropped.
	MaxEarlyEvents int
	// DedupTTL is how long a recorded webhook-id is remembered.
	DedupTTL time.Duration
	// MaxDedupIDs bounds the remembered webhook-ids; when full, the oldest is forgotten.
	MaxDedupIDs int
	// WriteTimeout bounds the status write of one request, retries included.
	WriteTimeout time.Duration
	// DrainPeriod is how long the endpoint keeps serving after the receiver is told to
	// stop, while it reports not ready, so that load balancers and ingress controllers
	// stop sending to it before it closes its listener. Zero (the zero Options, as in
	// tests) means no drain; the flag's default is DefaultDrainPeriod.
	DrainPeriod time.Duration

	// Secrets, when set, replaces SecretsPath (tests and embedding).
	Secrets SecretSource
	// Registerer receives the metrics; nil means controller-runtime's metrics.Registry.
	Registerer prometheus.Registerer
	// Logger, when set, is the manager's logger (tests and embedding); the zero value
	// means controller-runtime's global logger, which main sets.
	Logger logr.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// BindFlags registers the receiver's flags on fs, with their defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.BindAddress, "bind-address", DefaultBindAddress, "The address the webhook endpoint binds to.")
	fs.StringVar(&o.Path, "path", DefaultPath, "The URL path of the webhook endpoint; every other path answers 404.")
	fs.StringVar(
		&o.SecretsPath,
		"secrets-path",
		DefaultSecretsPath,
		`A file, or a directory of files (a mounted Secret), holding the webhook signing secrets in OpenAI's "whsec_..." form, separated by whitespace. Re-read when it changes.`,
	)
	fs.StringVar(
		&o.SigningSecretName,
		"signing-secret-name",
		DefaultSigningSecretName,
		`A Secret whose every key holds a "whsec_..." signing secret, watched through the API server so that changes apply within seconds; its secrets are accepted as well as those of --secrets-path. Empty turns the watch off.`,
	)
	fs.StringVar(&o.SigningSecretNamespace, "signing-secret-namespace", podNamespace(),
		"The namespace of --signing-secret-name (default: the Pod's namespace, from POD_NAMESPACE or the ServiceAccount's).")
	fs.DurationVar(&o.Tolerance, "tolerance", standardwebhooks.DefaultTolerance, "How far webhook-timestamp may be from now, either way.")
	fs.Int64Var(
		&o.MaxBodyBytes,
		"max-body-bytes",
		DefaultMaxBodyBytes,
		"The largest request body accepted; larger ones are answered 413. OpenAI's events are a few hundred bytes.",
	)
	fs.IntVar(
		&o.MaxConcurrentReads,
		"max-concurrent-reads",
		DefaultMaxConcurrentReads,
		"How many requests may read and verify their body at once; beyond it a request is answered 503 with Retry-After, after cutting off the slowest reader if it has been reading for over a second.",
	)
	fs.StringVar(
		&o.MetricsBindAddress,
		"metrics-bind-address",
		DefaultMetricsBindAddress,
		`The address the metrics endpoint binds to; "0" disables it.`,
	)
	fs.BoolVar(
		&o.MetricsSecure,
		"metrics-secure",
		true,
		"Serve metrics over HTTPS, to scrapers whose bearer token passes a TokenReview and that may get /metrics (a SubjectAccessReview); false serves plain HTTP to anyone who can connect.",
	)
	fs.StringVar(
		&o.MetricsCertPath,
		"metrics-cert-path",
		"",
		"Directory of the metrics server's certificate (e.g. a cert-manager Secret's mount), reloaded when it changes; empty serves a self-signed one.",
	)
	fs.StringVar(&o.MetricsCertName, "metrics-cert-name", "tls.crt", "File name of the metrics server's certificate in --metrics-cert-path.")
	fs.StringVar(&o.MetricsCertKey, "metrics-cert-key", "tls.key", "File name of the metrics server's key in --metrics-cert-path.")
	fs.StringVar(
		&o.HealthProbeBindAddress,
		"health-probe-bind-address",
		DefaultHealthProbeBindAddress,
		`The address the health and readiness probes bind to; "0" disables them.`,
	)
	fs.StringVar(
		&o.PprofBindAddress,
		"pprof-bind-address",
		"",
		"Address of the Go profiler (net/http/pprof), e.g. 127.0.0.1:8082; empty disables it. Keep it off a public interface.",
	)
	fs.DurationVar(
		&o.DrainPeriod,
		"drain-period",
		DefaultDrainPeriod,
		"How long to keep serving after SIGTERM, reporting not ready, before closing the listener (so that ingress controllers stop sending first); 0 closes at once.",
	)
	fs.StringVar(
		&o.Namespace,
		"namespaces",
		"",
		"Comma-separated namespaces to serve (a namespace-scoped install with Roles, see config/namespaced); empty serves all namespaces.",
	)
	fs.StringVar(&o.Namespace, "namespace", "", "The same as --namespaces (kept for compatibility).")
	fs.DurationVar(
		&o.EarlyEventTTL,
		"early-event-ttl",
		DefaultEarlyEventTTL,
		"How long an event whose object id no resource carries yet is held, waiting for it.",
	)
	fs.IntVar(
		&o.MaxEarlyEvents,
		"max-early-events",
		DefaultMaxEarlyEvents,
		"How many such events are held at most for each kind (batch, response); when a kind is full, its oldest is dropped.",
	)
}

// serviceAccountNamespace is where a Pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// podNamespace returns the namespace the receiver runs in: POD_NAMESPACE (the
// Deployment sets it), else the ServiceAccount's, else "".
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.BindAddress, DefaultBindAddress)
	def(&o.Path, DefaultPath)
	def(&o.SecretsPath, DefaultSecretsPath)
	def(&o.MetricsBindAddress, DefaultMetricsBindAddress)
	def(&o.HealthProbeBindAddress, DefaultHealthProbeBindAddress)
	if o.SecretsPollInterval <= 0 {
		o.SecretsPollInterval = DefaultSecretsPollInterval
	}
	if o.Tolerance == 0 {
		o.Tolerance = standardwebhooks.DefaultTolerance
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxConcurrentReads == 0 {
		o.MaxConcurrentReads = DefaultMaxConcurrentReads
	}
	if o.EarlyEventTTL == 0 {
		o.EarlyEventTTL = DefaultEarlyEventTTL
	}
	if o.MaxEarlyEvents == 0 {
		o.MaxEarlyEvents = DefaultMaxEarlyEvents
	}
	if o.DedupTTL == 0 {
		o.DedupTTL = DefaultDedupTTL
	}
	if o.MaxDedupIDs == 0 {
		o.MaxDedupIDs = DefaultMaxDedupIDs
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// validate reports options that cannot work.
func (o Options) validate() error {
	var errs []error
	if !strings.HasPrefix(o.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q must start with /", o.Path))
	}
	if o.Tolerance < time.Second {
		errs = append(errs, fmt.Errorf("tolerance %s must be at least 1s", o.Tolerance))
	}
	if o.MaxBodyBytes < 1 {
		errs = append(errs, fmt.Errorf("max-body-bytes %d must be positive", o.MaxBodyBytes))
	}
	if _, err := namespaces.Parse(o.Namespace); err != nil {
		errs = append(errs, err)
	}
	if o.MaxConcurrentReads < 1 {
		errs = append(errs, fmt.Errorf("max-concurrent-reads %d must be positive", o.MaxConcurrentReads))
	}
	if o.EarlyEventTTL < 0 || o.MaxEarlyEvents < 0 || o.DedupTTL < 0 || o.MaxDedupIDs < 0 || o.WriteTimeout < 0 || o.DrainPeriod < 0 {
		errs = append(errs, errors.New("durations and sizes must not be negative"))
	}
	return errors.Join(errs...)
}
