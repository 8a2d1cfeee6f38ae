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

// Package emulator is a faithful, deterministic stand-in for the parts of the OpenAI API
// that the operator uses: Files, Batches, Responses (including background mode),
// fine-tuning jobs and webhook endpoints per project (create, rotate the signing secret,
// test), and the signed webhook events OpenAI sends when batches, background responses
// and fine-tuning jobs end.
//
// The official Go SDK cannot tell it from OpenAI: routes, JSON shapes, error bodies and
// retry headers follow OpenAI's. Lifecycles run on a fixed timetable scaled by
// Options.TimeScale, the "model" is a small deterministic function of its input, and
// fault knobs inject 429s, 5xxs and dropped, duplicated, delayed or reordered webhook
// deliveries. docs/EMULATOR.md lists the timings and the magic inputs.
//
// Use it in tests of other packages:
//
//	srv, err := emulator.Start(emulator.Options{TimeScale: 0.001, WebhookURLs: []string{receiverURL}})
//	if err != nil { ... }
//	defer srv.Close()
//	client := openai.NewClient(option.WithBaseURL(srv.URL()), option.WithAPIKey("sk-emulator"))
package emulator

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// DefaultAPIKey is the API key accepted when Options.APIKeys is empty.
const DefaultAPIKey = "sk-emulator"

// DefaultWebhookTimeout is how long one webhook delivery attempt may take before it
// counts as failed, when Options.WebhookTimeout is zero.
const DefaultWebhookTimeout = 5 * time.Second

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// APIKeys are the bearer tokens accepted on /v1/, for DefaultProject. Empty means
	// {DefaultAPIKey} (unless Projects gives keys).
	APIKeys []string
	// Projects maps further project ids to the API keys that act for them. Each project
	// has its own webhook endpoints, and the events of an object go to the endpoints of
	// the project whose key created it. More can be added at run time (AddProject).
	Projects map[string][]string
	// WebhookURLs receive a signed event for every terminal batch and background
	// response transition of DefaultProject: each is an unnamed webhook endpoint of that
	// project, subscribed to every event type and signed with WebhookSecret. More can be
	// added at run time (AddWebhookURL), and any project can create endpoints through
	// the API (/v1/webhook_endpoints), each with its own secret.
	WebhookURLs []string
	// WebhookSecret signs the deliveries to WebhookURLs ("whsec_" + base64 of at least
	// 24 bytes). When empty a random one is generated; read it with
	// Emulator.WebhookSecret.
	WebhookSecret string
	// RotationOverlap is how long an endpoint's previous secret keeps signing after
	// rotate_secret with keep_old_secret_active_for_24_hours. Zero means 24 h scaled by
	// TimeScale.
	RotationOverlap time.Duration
	// TimeScale multiplies every lifecycle duration and the webhook retry schedule:
	// 1.0 (the default) is the documented timetable, 0.001 finishes in milliseconds.
	TimeScale float64
	// Faults are the initial fault knobs; change them with SetFaults.
	Faults Faults
	// Seed makes random choices (fault injection, webhook jitter, ids) reproducible.
	// Zero picks a random seed.
	Seed int64
	// Logger receives one debug line per API call and per webhook delivery, and
	// warnings. Nil discards everything. Keys and secrets are never logged.
	Logger *slog.Logger
	// WebhookTimeout bounds one delivery attempt (unscaled). Zero means
	// DefaultWebhookTimeout.
	WebhookTimeout time.Duration
	// RequestsPerMinute and TokensPerMinute are each key's rate limits, reported in the
	// x-ratelimit-* headers of every answer (zero: DefaultRequestsPerMinute,
	// DefaultTokensPerMinute). Unscaled.
	RequestsPerMinute int
	TokensPerMinute   int
	// EnforceRateLimits answers 429 rate_limit_exceeded (type requests or tokens,
	// without Retry-After) to calls beyond those limits.
	EnforceRateLimits bool
}

// Emulator serves the emulated OpenAI API. Create it with New (or Start, which also
// serves it on a loopback port) and stop it with Close.
type Emulator struct {
	log       *slog.Logger
	scale     float64
	projects  *projects
	secret    standardwebhooks.Secret
	secretStr string
	overlap   time.Duration // rotation overlap, scaled

	sched *scheduler
	hooks *hooks
	ids   *idGen
	stats *statsBook

	faultMu    sync.Mutex
	faults     Faults
	faultRng   *mrand.Rand
	injections []Injection // guarded by faultMu

	keyMu     sync.RWMutex
	keyStates map[string]KeyState // keys not active

	limits *rateLimits

	mu        sync.Mutex // guards the object stores below
	files     map[string]*file
	fileOrder []*file
	batches   map[string]*batch
	batchSeq  []*batch
	responses map[string]*response
	ftJobs    map[string]*ftJob
	ftJobSeq  []*ftJob

	closed    chan struct{}
	closeOnce sync.Once
}

// New returns a running Emulator (its scheduler and webhook workers are started).
func New(opts Options) (*Emulator, error) {
	scale := opts.TimeScale
	if scale == 0 {
		scale = 1
	}
	if scale < 0 {
		return nil, errors.New("time scale must be positive")
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, err
	}
	keys := opts.APIKeys
	if len(keys) == 0 && len(opts.Projects) == 0 {
		keys = []string{DefaultAPIKey}
	}
	if opts.RotationOverlap < 0 {
		return nil, errors.New("rotation overlap must not be negative")
	}
	e := &Emulator{
		log:       opts.Logger,
		scale:     scale,
		keyStates: map[string]KeyState{},
		limits:    newRateLimits(opts.RequestsPerMinute, opts.TokensPerMinute, opts.EnforceRateLimits),
		projects:  newProjects(),
		overlap:   opts.RotationOverlap,
		faults:    opts.Faults,
		files:     map[string]*file{},
		batches:   map[string]*batch{},
		responses: map[string]*response{},
		ftJobs:    map[string]*ftJob{},
		closed:    make(chan struct{}),
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.overlap == 0 {
		e.overlap = e.scaled(24 * time.Hour)
	}
	if err := e.projects.add(DefaultProject, keys...); err != nil {
		return nil, err
	}
	for id, pk := range opts.Projects {
		if err := e.projects.add(id, pk...); err != nil {
			return nil, err
		}
	}

	if opts.WebhookSecret == "" {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generating webhook secret: %w", err)
		}
		e.secret = standardwebhooks.NewSecret(key)
	} else {
		s, err := standardwebhooks.ParseSecret(opts.WebhookSecret)
		if err != nil {
			return nil, err
		}
		e.secret = s
	}
	e.secretStr = e.secret.Encode()

	seed := opts.Seed
	if seed == 0 {
		seed = mrand.Int64()
	}
	e.faultRng = mrand.New(mrand.NewPCG(uint64(seed), 1))
	e.ids = newIDGen(mrand.New(mrand.NewPCG(uint64(seed), 2)))
	e.stats = newStatsBook()
	e.sched = newScheduler()

	timeout := opts.WebhookTimeout
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	e.hooks = newHooks(e, mrand.New(mrand.NewPCG(uint64(seed), 3)), timeout)
	for _, u := range opts.WebhookURLs {
		if err := e.hooks.addURL(u); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Handler returns the HTTP handler serving /v1/ (the API) and /emulator/ (the control
// API, no authentication).
func (e *Emulator) Handler() http.Handler { return http.HandlerFunc(e.serveHTTP) }

// WebhookSecret returns the "whsec_" secret that signs webhook deliveries. Treat it as
// a secret: never log it.
func (e *Emulator) WebhookSecret() string { return e.secretStr }

// SetFaults replaces the fault knobs. Invalid rates are clamped to 0..1.
func (e *Emulator) SetFaults(f Faults) {
	f.clamp()
	e.faultMu.Lock()
	e.faults = f
	e.faultMu.Unlock()
}

// Faults returns the current fault knobs.
func (e *Emulator) Faults() Faults {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	return e.faults
}

// AddWebhookURL adds an unnamed webhook endpoint of DefaultProject that receives every
// event type, signed with WebhookSecret (nothing happens if one with that URL exists).
// Events that end after the call are delivered to it. Invalid URLs are logged and
// ignored; use the control API to get the error.
func (e *Emulator) AddWebhookURL(u string) {
	if err := e.hooks.addURL(u); err != nil {
		e.log.Warn("Ignoring webhook URL", "error", err)
	}
}

// RemoveWebhookURL removes every webhook endpoint, of any project, that delivers to u;
// their pending deliveries are abandoned.
func (e *Emulator) RemoveWebhookURL(u string) { e.hooks.removeURL(u) }

// WebhookEndpoints returns the webhook endpoints of every project, oldest first.
func (e *Emulator) WebhookEndpoints() []WebhookEndpoint { return e.hooks.list() }

// Stats returns a snapshot of the call, fault and webhook counters.
func (e *Emulator) Stats() Stats {
	s := e.stats.snapshot()
	s.Webhooks = e.hooks.records()
	return s
}

// Calls returns how many API calls of operation op (such as "batches.create") were
// received since start or the last ResetStats.
func (e *Emulator) Calls(op string) int64 { return e.stats.calls(op) }

// ResetStats zeroes the counters and forgets finished webhook records.
func (e *Emulator) ResetStats() {
	e.stats.reset()
	e.hooks.resetRecords()
}

// Close stops the scheduler and the webhook workers, and releases requests that wait
// on a hanging synchronous response. It does not close any listener (see Server).
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.sched.close()
		e.hooks.close()
	})
}

// scaled multiplies a timetable duration by the time scale.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * e.scale)
}

// now is the emulator's clock.
func (e *Emulator) now() time.Time { return time.Now() }

// after schedules fn on the scheduler goroutine at t.
func (e *Emulator) after(t time.Time, fn func()) { e.sched.at(t, fn) }
