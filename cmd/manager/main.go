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

// Command manager runs the OpenAIBatch, OpenAIResponse, OpenAIFineTuningJob and
// OpenAIWebhookEndpoint controllers.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/logging"
	"github.com/openai-operator/openai-operator/internal/memlimit"
	"github.com/openai-operator/openai-operator/internal/metricsauth"
	"github.com/openai-operator/openai-operator/internal/namespaces"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/version"
	"github.com/openai-operator/openai-operator/internal/watchfilter"
)

func main() {
	opts := controllers.DefaultOptions()
	var (
		metricsAddr, probeAddr, pprofAddr string
		secureMetrics, enableHTTP2        bool
		leaderElect                       bool
		leaderElectionID, leaderElectNS   string
		baseURL, allowedBaseURLs          string
		servedNamespaces                  string
		requestTimeout                    time.Duration
		metricsCertPath, metricsCertName  string
		metricsCertKey                    string
		watchSelector                     string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "Address of the metrics endpoint (:8443 for HTTPS, :8080 for HTTP); 0 disables it.")
	flag.BoolVar(
		&secureMetrics,
		"metrics-secure",
		true,
		"Serve metrics over HTTPS with authentication and authorization (TokenReview/SubjectAccessReview).",
	)
	flag.StringVar(
		&metricsCertPath,
		"metrics-cert-path",
		"",
		"Directory of the metrics server's certificate (e.g. a cert-manager Secret's mount); empty serves a self-signed one.",
	)
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "File name of the metrics server's certificate in --metrics-cert-path.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "File name of the metrics server's key in --metrics-cert-path.")
	flag.BoolVar(
		&enableHTTP2,
		"enable-http2",
		false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs).",
	)
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(
		&pprofAddr,
		"pprof-bind-address",
		"",
		"Address of the Go profiler (net/http/pprof), e.g. 127.0.0.1:8082; empty disables it. Keep it off a public interface.",
	)
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one of several replicas is active.")
	flag.StringVar(&leaderElectionID, "leader-election-id", "openai-operator.operator.dev", "Name of the leader election Lease.")
	flag.StringVar(&leaderElectNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the Pod's namespace).")
	flag.StringVar(
		&baseURL,
		"openai-base-url",
		envOr("OPENAI_BASE_URL", openaiclient.DefaultBaseURL),
		"OpenAI API base URL (env OPENAI_BASE_URL); a credentials Secret's baseURL key overrides it.",
	)
	flag.StringVar(
		&allowedBaseURLs,
		"allowed-base-urls",
		openaiclient.DefaultBaseURL,
		`Comma-separated base URLs a credentials Secret's baseURL key may name (the --openai-base-url is always allowed); "*" allows any, letting whoever writes Secrets in a served namespace point the manager anywhere.`,
	)
	flag.StringVar(
		&servedNamespaces,
		"namespaces",
		"",
		"Comma-separated namespaces to serve (a namespace-scoped install with Roles, see config/namespaced); empty serves all namespaces.",
	)
	flag.DurationVar(&requestTimeout, "openai-request-timeout", 2*time.Minute, "Timeout of each OpenAI API call.")
	flag.StringVar(
		&opts.DefaultCredentialsSecret,
		"default-credentials-secret",
		opts.DefaultCredentialsSecret,
		"Secret (in the resource's namespace) holding the API key when spec.credentialsRef is unset.",
	)
	flag.DurationVar(&opts.PollIntervalMin, "poll-interval-min", opts.PollIntervalMin, "First polling interval; it doubles with the object's age.")
	flag.DurationVar(
		&opts.PollIntervalMax,
		"poll-interval-max",
		opts.PollIntervalMax,
		"Longest polling interval (webhooks make polling a safety net).",
	)
	flag.DurationVar(&opts.RetryInterval, "retry-interval", opts.RetryInterval, "How often to look again for a missing Secret, ConfigMap or key.")
	flag.DurationVar(
		&opts.DeletionTimeout,
		"deletion-timeout",
		opts.DeletionTimeout,
		"How long deletion retries OpenAI before it lets the resource go anyway.",
	)
	flag.IntVar(
		&opts.MaxConcurrentReconciles,
		"max-concurrent-reconciles",
		opts.MaxConcurrentReconciles,
		"Resources of each kind reconciled at once.",
	)
	flag.DurationVar(
		&opts.WebhookPollIntervalMin,
		"webhook-poll-interval-min",
		opts.WebhookPollIntervalMin,
		"First polling interval for resources of an OpenAI project (credentials Secret) whose webhook events arrive; 0 polls them like the others.",
	)
	flag.DurationVar(
		&opts.WebhookPollIntervalMax,
		"webhook-poll-interval-max",
		opts.WebhookPollIntervalMax,
		"Longest polling interval for resources of a project whose webhook events arrive.",
	)
	flag.DurationVar(
		&opts.WebhookTrustWindow,
		"webhook-trust-window",
		opts.WebhookTrustWindow,
		"How recent a project's last webhook event must be for its resources to poll on the webhook schedule.",
	)
	flag.DurationVar(
		&opts.BackoffMin,
		"openai-backoff-min",
		opts.BackoffMin,
		"First wait of a project's calls after OpenAI refused one (429 without a wait, 401, 403); it doubles with each refusal in a row. Never shorter than OpenAI's Retry-After or x-ratelimit-reset-*.",
	)
	flag.DurationVar(&opts.BackoffMax, "openai-backoff-max", opts.BackoffMax, "Longest wait of a project's calls after refusals.")
	flag.DurationVar(
		&opts.QuotaRetryInterval,
		"quota-retry-interval",
		opts.QuotaRetryInterval,
		"Wait of a project's create calls after OpenAI answered 429 insufficient_quota.",
	)
	bindWebhookEndpointFlags(&opts.Webhooks)
	flag.StringVar(
		&watchSelector,
		"watch-label-selector",
		"",
		"Label selector (e.g. shard=a) limiting the OpenAIBatch, OpenAIResponse, OpenAIFineTuningJob and OpenAIWebhookEndpoint resources this manager handles, to shard them across managers on disjoint selectors (give each its own --leader-election-id); empty handles all.",
	)
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	showVersion := version.BindFlag(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Line("manager"))
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts), zap.RawZapOpts(logging.LazyWith())))
	log := ctrl.Log.WithName("setup")
	log.Info("Version", version.Get().KeysAndValues()...)
	if limit, from, err := memlimit.Apply(os.Getenv); err != nil {
		log.Error(err, "Setting the Go memory limit")
	} else if limit > 0 {
		log.Info("Set the Go memory limit", "bytes", limit, "from", from)
	}
	allowed, err := openaiclient.ParseBaseURLs(strings.Split(allowedBaseURLs, ","))
	if err != nil {
		log.Error(err, "Invalid --allowed-base-urls")
		os.Exit(1)
	}
	served, err := namespaces.Parse(servedNamespaces)
	if err != nil {
		log.Error(err, "Invalid --namespaces")
		os.Exit(1)
	}
	var shard labels.Selector
	if watchSelector != "" {
		if shard, err = labels.Parse(watchSelector); err != nil {
			log.Error(err, "Invalid --watch-label-selector", "selector", watchSelector)
			os.Exit(1)
		}
		log.Info("Handling only the resources that match the selector", "selector", shard.String())
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(openaiv1alpha1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics}
	if secureMetrics {
		metricsOpts.FilterProvider = metricsauth.WithAuthenticationAndAuthorization
	}
	if !enableHTTP2 {
		metricsOpts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	// A certificate from files (cert-manager), reloaded when they change; without one the
	// metrics server generates a self-signed certificate.
	var metricsCertWatcher *certwatcher.CertWatcher
	if metricsCertPath != "" {
		log.Info("Watching the metrics server's certificate", "path", metricsCertPath, "cert", metricsCertName, "key", metricsCertKey)
		var err error
		metricsCertWatcher, err = certwatcher.New(filepath.Join(metricsCertPath, metricsCertName), filepath.Join(metricsCertPath, metricsCertKey))
		if err != nil {
			log.Error(err, "Unable to load the metrics server's certificate")
			os.Exit(1)
		}
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(c *tls.Config) { c.GetCertificate = metricsCertWatcher.GetCertificate })
	}
	restConfig := ctrl.GetConfigOrDie()
	// Without managedFields (half of a small resource's size) and submitted batches'
	// inline requests; limited to the served namespaces (--namespaces) and to the
	// shard's resources (--watch-label-selector).
	cacheOpts := controllers.CacheOptions(served, shard)
	// The cache's own HTTP client removes managedFields from watch events before they are
	// decoded (the transform above would drop them after): decoding is most of what a
	// start costs, and they are half of what it would decode.
	if cacheOpts.HTTPClient, err = watchfilter.HTTPClientFor(restConfig); err != nil {
		log.Error(err, "Unable to create the cache's HTTP client")
		os.Exit(1)
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       leaderElectNS,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOpts,
		Client: client.Options{Cache: &client.CacheOptions{
			// Secrets and ConfigMaps are read directly: the manager may get them, but it
			// neither lists nor watches them cluster-wide.
			DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}},
		}},
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	if metricsCertWatcher != nil {
		utilruntime.Must(mgr.Add(metricsCertWatcher))
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per concurrent reconcile (Go's default keeps two per host).
	transport.MaxIdleConnsPerHost = 2 * opts.MaxConcurrentReconciles
	factory := &openaiclient.Factory{
		BaseURL:         baseURL,
		AllowedBaseURLs: allowed,
		HTTPClient:      &http.Client{Transport: transport},
		RequestTimeout:  requestTimeout,
		Observe:         controllers.ObserveAPICall,
	}
	if err := controllers.SetupWithManager(mgr, factory, opts); err != nil {
		log.Error(err, "Unable to set up the controllers")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	log.Info(
		"Starting the manager",
		"openaiBaseURL",
		baseURL,
		"allowedBaseURLs",
		allowed.String(),
		"namespaces",
		served,
		"leaderElection",
		leaderElect,
	)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// bindWebhookEndpointFlags registers the OpenAIWebhookEndpoint controller's flags.
func bindWebhookEndpointFlags(o *controllers.WebhookEndpointOptions) {
	flag.StringVar(&o.ReceiverURL, "webhook-receiver-url", os.Getenv("WEBHOOK_RECEIVER_URL"),
		"The webhook receiver's public HTTPS URL (for example https://hooks.example.com/openai/webhook), the default spec.url of "+
			"OpenAIWebhookEndpoint (env WEBHOOK_RECEIVER_URL).")
	flag.StringVar(&o.SecretNamespace, "webhook-secret-namespace", envOr("POD_NAMESPACE", o.SecretNamespace),
		"Namespace of the webhook receiver's Secret (default: the Pod's namespace, env POD_NAMESPACE).")
	flag.StringVar(&o.SecretName, "webhook-secret-name", o.SecretName,
		"The webhook receiver's Secret, where OpenAIWebhookEndpoint writes the signing secrets (key <namespace>_<name>).")
	flag.DurationVar(&o.SecretOverlap, "webhook-secret-overlap", o.SecretOverlap,
		"How long the previous signing secret stays accepted after a rotation: as long as OpenAI keeps signing with it (24h).")
	flag.DurationVar(&o.SecretPropagation, "webhook-secret-propagation", o.SecretPropagation,
		"How long after writing a signing secret the first test delivery waits, for every receiver replica to load it.")
	flag.DurationVar(&o.VerifyInterval, "webhook-verify-interval", o.VerifyInterval,
		"How often a Verified OpenAIWebhookEndpoint is tested again with a test delivery.")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
