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

// Command openai-emulator serves a deterministic stand-in for the parts of the OpenAI API
// that the operator uses (Files, Batches, background Responses) and sends signed webhook
// events. See docs/EMULATOR.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/version"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// projectKeys is the repeatable --project-api-key PROJECT=KEY flag.
type projectKeys map[string][]string

func (p projectKeys) String() string {
	out := make([]string, 0, len(p))
	for id, keys := range p {
		out = append(out, fmt.Sprintf("%s=(%d keys)", id, len(keys)))
	}
	return strings.Join(out, ",")
}

func (p projectKeys) Set(v string) error {
	id, key, ok := strings.Cut(v, "=")
	if !ok || id == "" || key == "" {
		return errors.New("expected PROJECT=KEY")
	}
	p[id] = append(p[id], key)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "openai-emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		opts     emulator.Options
		keys     stringList
		hooks    stringList
		projects = projectKeys{}
		addr     = flag.String("addr", "127.0.0.1:8089", "Address to listen on (host:port).")
		secret   = flag.String("webhook-secret", "",
			"Signing secret of the --webhook-url deliveries, \"whsec_\" + base64 of at least 24 bytes. Default: $EMULATOR_WEBHOOK_SECRET, else a "+
				"generated one, printed once at start. Endpoints created through the API get their own.")
		logLevel = flag.String("log-level", "info", "Log level: debug (one line per API call and webhook delivery), info, warn or error.")
	)
	flag.Var(
		&keys,
		"api-key",
		"API key to accept for the default project "+emulator.DefaultProject+" (repeatable). "+
			"Default: "+emulator.DefaultAPIKey+" (unless --project-api-key gives keys).",
	)
	flag.Var(projects, "project-api-key",
		"PROJECT=KEY: an API key acting for another project (repeatable). Each project has its own webhook endpoints (/v1/webhook_endpoints).")
	flag.Var(&hooks, "webhook-url", "URL to deliver the default project's webhook events to, signed with --webhook-secret (repeatable).")
	flag.DurationVar(&opts.RotationOverlap, "rotation-overlap", 0,
		"How long an endpoint's previous signing secret keeps signing after rotate_secret with keep_old_secret_active_for_24_hours; 0 means 24h "+
			"times --time-scale.")
	flag.Float64Var(&opts.TimeScale, "time-scale", 1.0, "Multiplier of every lifecycle duration and of the webhook retry schedule; 0.001 "+
		"finishes in milliseconds.")
	flag.Int64Var(&opts.Seed, "seed", 0, "Seed of the random choices (faults, jitter, ids); 0 picks one at random.")
	flag.DurationVar(&opts.WebhookTimeout, "webhook-timeout", emulator.DefaultWebhookTimeout, "Time one webhook delivery attempt may take.")
	flag.Float64Var(&opts.Faults.RateLimitRate, "rate-limit-rate", 0, "Share (0..1) of API calls answered 429 rate_limit_exceeded.")
	flag.DurationVar(&opts.Faults.RetryAfter, "retry-after", emulator.DefaultRetryAfter, "Retry-After of injected 429 answers.")
	flag.StringVar(&opts.Faults.RateLimitType, "rate-limit-type", "requests", "Error type of those 429 answers: requests or tokens.")
	flag.Float64Var(
		&opts.Faults.InsufficientQuotaRate,
		"insufficient-quota-rate",
		0,
		"Share (0..1) of API calls answered 429 insufficient_quota (no Retry-After).",
	)
	flag.Float64Var(&opts.Faults.ServerErrorRate, "server-error-rate", 0, "Share (0..1) of API calls answered 500.")
	flag.IntVar(
		&opts.RequestsPerMinute,
		"requests-per-minute",
		emulator.DefaultRequestsPerMinute,
		"Each key's request rate limit, reported in the x-ratelimit-* headers.",
	)
	flag.IntVar(
		&opts.TokensPerMinute,
		"tokens-per-minute",
		emulator.DefaultTokensPerMinute,
		"Each key's token rate limit, reported in the x-ratelimit-* headers.",
	)
	flag.BoolVar(
		&opts.EnforceRateLimits,
		"enforce-rate-limits",
		false,
		"Answer 429 rate_limit_exceeded (without Retry-After) to calls beyond those limits.",
	)
	flag.Float64Var(&opts.Faults.WebhookDropRate, "webhook-drop-rate", 0, "Share (0..1) of webhook deliveries never sent.")
	flag.Float64Var(
		&opts.Faults.WebhookDuplicateRate,
		"webhook-duplicate-rate",
		0,
		"Share (0..1) of webhook deliveries sent twice with the same webhook-id.",
	)
	flag.Float64Var(&opts.Faults.WebhookDelayRate, "webhook-delay-rate", 0, "Share (0..1) of webhook deliveries held back by --webhook-delay.")
	flag.DurationVar(&opts.Faults.WebhookDelay, "webhook-delay", 10*time.Second, "Extra delay of delayed webhook deliveries.")
	flag.BoolVar(&opts.Faults.WebhookReorder, "webhook-reorder", false, "Shuffle each endpoint's webhook deliveries within a short window.")
	showVersion := version.BindFlag(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Line("openai-emulator"))
		return nil
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("invalid --log-level %q", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	log.Info("Version", version.Get().KeysAndValues()...)
	opts.Logger = log
	opts.APIKeys = keys
	opts.Projects = projects
	opts.WebhookURLs = hooks
	opts.WebhookSecret = *secret
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = os.Getenv("EMULATOR_WEBHOOK_SECRET")
	}
	generated := opts.WebhookSecret == ""

	srv, err := emulator.Listen(*addr, opts)
	if err != nil {
		return err
	}
	if generated {
		fmt.Printf("Webhook signing secret (generated): %s\n", srv.WebhookSecret())
	}
	log.Info("Serving OpenAI emulator", "baseURL", srv.URL(), "control", srv.ControlURL(),
		"timeScale", opts.TimeScale, "webhookEndpoints", len(hooks), "projects", len(srv.Projects()))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("Shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
