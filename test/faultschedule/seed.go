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

package faultschedule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
	"github.com/openai-operator/openai-operator/internal/testenv"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// TimeScale is the emulator's time scale: a one-request batch takes about a second, a
// background response 0.6 s, so that faults and actions meet work in flight.
const TimeScale = 0.3

// credentialsSecret is the Secret every resource uses (the manager's default name).
const credentialsSecret = "openai-credentials"

// ManagerOptions are the manager's options in every seed: its defaults with the polling,
// retry and backoff intervals scaled down like the emulator's timetable, and a deletion
// timeout longer than any seed, so that giving up a cleanup is never the schedule's doing.
func ManagerOptions() controllers.Options {
	o := controllers.DefaultOptions()
	o.PollIntervalMin, o.PollIntervalMax = 250*time.Millisecond, 2*time.Second
	o.WebhookPollIntervalMin, o.WebhookPollIntervalMax = time.Second, 4*time.Second
	o.RetryInterval = 250 * time.Millisecond
	o.BackoffMin, o.BackoffMax = 250*time.Millisecond, 2*time.Second
	o.QuotaRetryInterval = 2 * time.Second
	o.DeletionTimeout = 10 * time.Minute
	o.MaxConcurrentReconciles = 2
	// Webhook endpoints: the receiver loads a written secret through the API server in
	// well under the propagation wait; a failing test is retried with the poll's
	// backoff (so that I6 bounds the tests as it bounds polls). The receiver's URL and
	// its Secret's namespace are the seed's (startManager).
	o.Webhooks.SecretPropagation = 500 * time.Millisecond
	o.Webhooks.TestRetryMin, o.Webhooks.TestRetryMax = o.PollIntervalMin, o.PollIntervalMax
	return o
}

// Settle-time terms (I7), beyond what the manager's options and the emulator's
// timetable give.
const (
	// credentialsTTL is how long the manager reuses a credentials Secret it read
	// (controllers.credentialsTTL): a rotated or deleted Secret may go unnoticed so long.
	credentialsTTL = 30 * time.Second
	// loadAllowance is time for the shared 2-core machine, with -race, to schedule
	// everything that is due.
	loadAllowance = 10 * time.Second
)

// Jitter of the project gate (internal/openaiclient.Gate): a refusal's wait is
// lengthened by up to a quarter, and a caller held by the gate comes back after the
// rest of the wait plus up to half of it again.
const (
	gateRefusalJitter = 1.25
	gateHeldJitter    = 1.5
)

// gateHold is the longest the project gate can hold a resource after the last refusal
// it saw: the longest wait a refusal can set (BackoffMax or QuotaRetryInterval with
// the refusal's jitter, or what OpenAI asked, retryAfter, which is not jittered), a
// held caller's return within half that wait again, and then, while the first call
// after the wait finds out whether OpenAI agrees, a held caller's retry (under 2 x
// BackoffMin).
func gateHold(o controllers.Options, retryAfter time.Duration) time.Duration {
	wait := max(time.Duration(float64(max(o.BackoffMax, o.QuotaRetryInterval))*gateRefusalJitter), retryAfter)
	return time.Duration(float64(wait)*gateHeldJitter) + 2*o.BackoffMin
}

// SettleBound is how long after faults stop every resource of s must have settled
// (I7), the sum of:
//
//   - the longest OpenAI work of the schedule, at the emulator's time scale (a hanging
//     one: the time its cancel takes);
//   - a poll interval of either schedule (PollIntervalMax, WebhookPollIntervalMax): a
//     lost webhook is made up for by the next poll;
//   - RetryInterval (a missing Secret or input is looked for again so often);
//   - the gate's longest hold after the last refusal (gateHold): by a 429 with the
//     longest Retry-After of the schedule (a fault's, or a window's), by a 429 without
//     one or a refused key (BackoffMax), by insufficient_quota (QuotaRetryInterval);
//     a pass that a refusal of access ended after submission waits BackoffMax too;
//   - the credentials cache (30 s), when the schedule deleted or rotated the Secret;
//   - the load allowance (10 s);
//   - with a webhook endpoint, the controller's own waits: the secret's propagation
//     wait before the first test, and the longest wait between failing tests
//     (TestRetryMax).
func SettleBound(s *Schedule, o controllers.Options) time.Duration {
	var work float64
	var endpoints time.Duration
	for _, p := range s.Resources {
		if k := kindOf(p.Kind); k != nil {
			work = math.Max(work, k.Lifetime(p))
		}
		if _, ok := kindOf(p.Kind).(standing); ok {
			endpoints = o.Webhooks.SecretPropagation + o.Webhooks.TestRetryMax
		}
	}
	retryAfter := faultRetryAfter
	for _, w := range s.Windows {
		retryAfter = max(retryAfter, w.RetryAfter)
	}
	d := time.Duration(work*TimeScale*float64(time.Second)) + max(o.PollIntervalMax, o.WebhookPollIntervalMax) +
		o.RetryInterval + gateHold(o, retryAfter) + loadAllowance + endpoints
	if s.Touches(ActSecretDelete, ActSecretRotate, ActRevokeOldKey) {
		d += credentialsTTL
	}
	return d
}

func kindOf(name string) Kind {
	for _, k := range Kinds {
		if k.Kind() == name {
			return k
		}
	}
	return nil
}

// SeedResult is what one seed did and found.
type SeedResult struct {
	Schedule   Schedule
	Violations []Violation
	// Early: the seed stopped at a definitive violation, before settling.
	Early bool
	// Err is a failure of the harness itself (the API server refused a setup step).
	Err error
	// Settled is how long after faults stopped everything had settled (0 if never).
	Settled time.Duration
	Bound   time.Duration
	// What happened.
	Injected        map[Fault]int
	Refused         map[string]int
	Crashes         int
	CrashesAnswered []string
	Actions         map[string]int
	Resources       map[string]int
	Calls           int
	Deliveries      int
	Checks          map[string]int
	// Log is the tail of the managers' logs and the harness's own lines.
	Log []string
}

// seedRun is one seed in flight.
type seedRun struct {
	sched Schedule
	opts  controllers.Options
	env   *testenv.Env
	c     client.Client
	ns    string
	em    *emulator.Server
	wire  *Wire
	book  *logBook
	truth *Truth
	mon   *monitor

	keys    []string
	current int      // index of the key in the Secret
	oldKeys []string // replaced keys not yet revoked

	procMu  sync.Mutex
	proc    *process
	crashes chan crashRequest

	mu            sync.Mutex
	uids          map[string]types.UID
	created       map[string]bool
	deleted       map[string]*Deletion
	secretMissing bool
	inputInvalid  map[string]bool
	actionsOn     map[string]int
	projectActs   int
	actionsDone   map[string]int
	crashCount    int
}

// crashRequest asks for a crash of the process alive belongs to (which the wire has
// already cut off), and a restart after delay.
type crashRequest struct {
	alive *atomic.Bool
	delay time.Duration
}

// process is one manager: its controllers run until cancel; alive false cuts it off
// from OpenAI and from writing to the API server at once, as a SIGKILL would (its
// reads, which nobody can see, go on until it has stopped).
type process struct {
	gen    int
	alive  *atomic.Bool
	cancel context.CancelFunc
	done   chan error
}

// RunSeed runs the schedule of seed at size against env and checks the invariants.
func RunSeed(ctx context.Context, env *testenv.Env, seed uint64, size Size, kinds []Kind) SeedResult {
	s := &seedRun{
		sched: Draw(seed, size, kinds), opts: ManagerOptions(), env: env, c: env.Client,
		book: newLogBook(logBookLines), crashes: make(chan crashRequest, 8),
		uids: map[string]types.UID{}, created: map[string]bool{}, deleted: map[string]*Deletion{},
		inputInvalid: map[string]bool{}, actionsOn: map[string]int{}, actionsDone: map[string]int{},
	}
	res := SeedResult{Schedule: s.sched, Bound: SettleBound(&s.sched, s.opts)}
	err := s.run(ctx, &res)
	if err != nil {
		res.Err = err
	}
	var failed []string
	for _, v := range res.Violations {
		// Resource is "<Kind> <name>"; the log names resources by name.
		if name := v.Resource[strings.LastIndex(v.Resource, " ")+1:]; name != "" && !slices.Contains(failed, name) {
			failed = append(failed, name)
		}
	}
	res.Log = s.book.about(failed, 120, 800)
	return res
}

// logBookLines is how many log lines a seed keeps for its failure report: enough to
// reach back to the start of a full-size seed, so that the report can follow a failed
// resource from its creation.
const logBookLines = 50000

func (s *seedRun) logf(format string, args ...any) {
	s.book.add("harness: " + fmt.Sprintf(format, args...))
}

func (s *seedRun) run(ctx context.Context, res *SeedResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seed := s.sched.Seed
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: fmt.Sprintf("fs-%d-", seed)}}
	if err := s.c.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating the namespace: %w", err)
	}
	s.ns = ns.Name

	for i := range 4 {
		s.keys = append(s.keys, fmt.Sprintf("sk-fs%d-%d-%s", seed, i, randomHex(12)))
	}
	admin := "sk-fsadmin-" + randomHex(12)
	em, err := emulator.Start(emulator.Options{APIKeys: append([]string{admin}, s.keys...), TimeScale: TimeScale,
		Seed: int64(seed%(1<<62)) + 1, WebhookTimeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	s.em = em
	defer em.Close()
	s.wire = newWire(&s.sched, http.DefaultTransport.(*http.Transport).Clone(), s.book)
	s.wire.crash = func(alive *atomic.Bool, delay time.Duration) {
		select {
		case s.crashes <- crashRequest{alive, delay}:
		default:
		}
	}
	api := openai.NewClient(option.WithBaseURL(em.URL()), option.WithAPIKey(admin), option.WithMaxRetries(0), option.WithRequestTimeout(30*time.Second))
	s.truth = &Truth{API: api, Namespace: s.ns, Wire: s.wire}

	// Webhook endpoints deliver to the receiver, whose Secret (in the seed's namespace,
	// standing in for the operator's) the manager writes; without a receiver, to a port
	// nothing listens on.
	s.opts.Webhooks.SecretNamespace = s.ns
	if s.sched.Webhooks.Receiver {
		url, stop, err := s.startReceiver(ctx)
		if err != nil {
			return err
		}
		defer stop()
		em.AddWebhookURL(url)
		s.opts.Webhooks.ReceiverURL = url
	} else if s.opts.Webhooks.ReceiverURL, err = closedURL(); err != nil {
		return err
	}
	if err := s.c.Create(ctx, s.secret()); err != nil {
		return fmt.Errorf("creating the credentials Secret: %w", err)
	}
	wc, err := client.NewWithWatch(s.env.Config, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return err
	}
	mctx, mcancel := context.WithCancel(ctx)
	s.mon, err = startMonitor(mctx, wc, s.ns, Kinds, s.truth, s.book)
	if err != nil {
		mcancel()
		return fmt.Errorf("watching the resources: %w", err)
	}
	defer func() { mcancel(); s.mon.wait() }()
	if err := s.startManager(); err != nil {
		return err
	}
	defer s.stopManager()

	// The phase: faults, crashes, user actions.
	if err := s.execute(ctx); err != nil {
		return err
	}
	stopped := time.Now()
	s.logf("faults stop; settling within %s", res.Bound.Round(time.Millisecond))

	// Settle, then check.
	var last []Violation
	for {
		if v := s.mon.Violations(); len(v) > 0 {
			last, res.Early = v, true
			s.logf("a definitive violation: stopping before the seed settles")
			break
		}
		snap, err := s.snapshot(ctx)
		if err == nil {
			last = append(Check(snap), s.mon.Violations()...)
			definitive := false
			for _, v := range last {
				definitive = definitive || v.Definitive
			}
			if len(last) == 0 {
				res.Settled = time.Since(stopped)
				break
			}
			if definitive {
				res.Early = true
				break
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(stopped) > res.Bound {
			if err != nil {
				return fmt.Errorf("reading the final state: %w", err)
			}
			for i := range last {
				if last[i].Invariant != I6 {
					last[i].Message += fmt.Sprintf(" (%s after faults stopped; bound %s)",
						time.Since(stopped).Round(time.Millisecond), res.Bound.Round(time.Millisecond))
				}
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.Violations = dedupe(last)
	for _, e := range s.mon.Errors() {
		s.logf("watch: %s", e)
	}
	s.fill(res)
	return nil
}

func dedupe(vs []Violation) []Violation {
	seen := map[string]bool{}
	var out []Violation
	for _, v := range vs {
		if k := v.String(); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *seedRun) secret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: credentialsSecret},
		StringData: map[string]string{openaiclient.KeyAPIKey: s.keys[s.current]},
	}
}

// closedURL returns a webhook URL on 127.0.0.1 where nothing listens.
func closedURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return "http://" + addr + receiver.DefaultPath, nil
}

// startReceiver runs the webhook receiver in process for the seed's namespace, as a
// cluster runs it: the emulator's own signing secret from a file (a mounted Secret),
// and the webhook endpoints' secrets from the Secret the manager writes, watched
// through the API server.
func (s *seedRun) startReceiver(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp("", "faultschedule-receiver-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "signing-secret")
	if err := os.WriteFile(path, []byte(s.em.WebhookSecret()), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	mgr, r, err := receiver.NewManager(s.env.Config, receiver.Options{
		BindAddress: "127.0.0.1:0", MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		Namespace: s.ns, SecretsPath: path, SigningSecretNamespace: s.ns, SigningSecretName: s.opts.Webhooks.SecretName,
		Registerer: prometheus.NewRegistry(),
		// Its lines go into the book too, where I8 looks for secrets in them.
		Logger: s.book.logger("receiver"),
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("creating the receiver: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(rctx) }()
	stop := func() {
		defer func() { _ = os.RemoveAll(dir) }()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				s.logf("the receiver stopped: %v", err)
			}
		case <-time.After(30 * time.Second):
			s.logf("the receiver did not stop within 30s")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.ReadyCheck(nil) != nil {
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the receiver is not ready after 30s: %w", r.ReadyCheck(nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + r.Addr() + receiver.DefaultPath, stop, nil
}

// startManager starts a fresh manager: new reconcilers, nothing remembered.
func (s *seedRun) startManager() error {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	gen := 1
	if s.proc != nil {
		gen = s.proc.gen + 1
	}
	alive := &atomic.Bool{}
	alive.Store(true)
	cfg := rest.CopyConfig(s.env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			// A crash cuts off what the world sees at once: writes. Reads carry on
			// until the process has stopped: controller-runtime's manager, cancelled
			// before its caches synced, does not return until they have.
			if !alive.Load() && req.Method != http.MethodGet {
				return nil, errProcessGone
			}
			return rt.RoundTrip(req)
		})
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  testenv.Scheme,
		Logger:                  s.book.logger(fmt.Sprintf("manager#%d", gen)),
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		Cache:                   cache.Options{DefaultNamespaces: map[string]cache.Config{s.ns: {}}},
		Controller:              config.Controller{SkipNameValidation: ptr.To(true)},
		Client:                  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
		GracefulShutdownTimeout: ptr.To(30 * time.Second),
	})
	if err != nil {
		return fmt.Errorf("creating manager #%d: %w", gen, err)
	}
	factory := &openaiclient.Factory{
		BaseURL: s.em.URL(), HTTPClient: &http.Client{Transport: s.wire.forProcess(alive)}, RequestTimeout: 10 * time.Second,
	}
	if err := controllers.SetupWithManager(mgr, factory, s.opts); err != nil {
		return fmt.Errorf("setting up manager #%d: %w", gen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{gen: gen, alive: alive, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- mgr.Start(ctx) }()
	s.proc = p
	s.logf("manager #%d started", gen)
	return nil
}

// stopManager cuts the current manager off (if the wire has not already) and waits
// until it has stopped.
func (s *seedRun) stopManager() {
	s.procMu.Lock()
	p := s.proc
	s.procMu.Unlock()
	if p == nil {
		return
	}
	p.alive.Store(false)
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			s.logf("manager #%d stopped: %v", p.gen, err)
		}
	case <-time.After(60 * time.Second):
		s.logf("manager #%d did not stop within 60s", p.gen)
	}
}

// crash stops the manager at once and starts a fresh one after delay.
func (s *seedRun) crash(delay time.Duration, why string) error {
	s.mu.Lock()
	s.crashCount++
	s.mu.Unlock()
	s.logf("CRASH (%s); restart after %s", why, delay.Round(time.Millisecond))
	s.stopManager()
	time.Sleep(delay)
	return s.startManager()
}

// step is one thing the executor does at a time of the phase.
type step struct {
	at   time.Duration
	what string
	do   func(context.Context) error
}

// execute runs the phase: it creates the resources and performs the actions at their
// times, restarts the manager after every crash, and stops the faults at the end.
func (s *seedRun) execute(ctx context.Context) error {
	var steps []step
	end := s.sched.Size.Phase
	for _, p := range s.sched.Resources {
		steps = append(steps, step{at: p.CreateAt, what: "create " + p.Name, do: func(ctx context.Context) error { return s.create(ctx, p) }})
	}
	for _, a := range s.sched.Actions {
		end = max(end, a.At)
		steps = append(steps, step{at: a.At, what: a.String(), do: func(ctx context.Context) error { return s.act(ctx, a) }})
	}
	for _, w := range s.sched.Windows {
		end = max(end, w.End)
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at < steps[j].at })

	if s.sched.Webhooks.Receiver {
		wh := s.sched.Webhooks
		s.em.SetFaults(emulator.Faults{WebhookDropRate: wh.DropRate, WebhookDuplicateRate: wh.DuplicateRate,
			WebhookDelayRate: wh.DelayRate, WebhookDelay: wh.Delay, WebhookReorder: wh.Reorder})
	}
	start := time.Now()
	s.wire.startPhase()
	handleCrash := func(req crashRequest) error {
		s.procMu.Lock()
		current := s.proc != nil && s.proc.alive == req.alive
		s.procMu.Unlock()
		if !current {
			return nil
		}
		return s.crash(req.delay, "after OpenAI answered an armed call")
	}
	for i := 0; i <= len(steps); {
		due := end
		if i < len(steps) {
			due = steps[i].at
		}
		timer := time.NewTimer(time.Until(start.Add(due)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case req := <-s.crashes:
			timer.Stop()
			if err := handleCrash(req); err != nil {
				return err
			}
			continue
		case <-timer.C:
		}
		if i == len(steps) {
			break
		}
		st := steps[i]
		i++
		s.logf("%s", st.what)
		if err := st.do(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}

	// Faults stop: drawn faults, windows and triggers; webhooks deliver normally; the
	// Secret and the inputs are back.
	s.wire.stopFaults()
	s.em.SetFaults(emulator.Faults{})
	for {
		select {
		case req := <-s.crashes:
			if err := handleCrash(req); err != nil {
				return err
			}
			continue
		default:
		}
		break
	}
	s.mu.Lock()
	missing := s.secretMissing
	s.mu.Unlock()
	if missing {
		if err := s.act(ctx, Action{Kind: ActSecretRestore}); err != nil {
			return err
		}
	}
	for _, a := range s.sched.Actions {
		if a.Kind == ActEditInput && a.Arg == editRemoveKey {
			if p, ok := s.sched.Plan(a.Target); ok {
				_ = kindOf(p.Kind).EditInput(ctx, s.c, s.ns, p, editRestore)
			}
		}
	}
	return nil
}

// create creates the resource of plan p and what it needs.
func (s *seedRun) create(ctx context.Context, p ResourcePlan) error {
	obj, deps := kindOf(p.Kind).Objects(s.ns, p)
	for _, d := range deps {
		if err := s.c.Create(ctx, d); err != nil {
			return err
		}
	}
	if err := s.c.Create(ctx, obj); err != nil {
		return err
	}
	s.mu.Lock()
	s.uids[p.Name], s.created[p.Name] = obj.GetUID(), true
	s.mu.Unlock()
	return nil
}

// act performs one action; actions on a resource that is gone are skipped.
func (s *seedRun) act(ctx context.Context, a Action) error {
	count := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.actionsDone[a.Kind]++
		switch a.Kind {
		case ActCrash, ActCrashAfterAnswer:
		case ActSecretDelete, ActSecretRestore, ActSecretRotate, ActRevokeOldKey:
			s.projectActs++
		default:
			s.actionsOn[a.Target]++
		}
	}
	p, _ := s.sched.Plan(a.Target)
	var obj client.Object
	if a.Target != "" && a.Kind != ActCrashAfterAnswer {
		obj, _ = kindOf(p.Kind).Objects(s.ns, p)
		s.mu.Lock()
		created := s.created[a.Target]
		s.mu.Unlock()
		if !created {
			s.logf("  skipped: %s does not exist yet", a.Target)
			return nil
		}
	}
	gone := func(err error) error {
		if apierrors.IsNotFound(err) {
			s.logf("  skipped: %s is gone", a.Target)
			return nil
		}
		return err
	}
	switch a.Kind {
	case ActCrash:
		count()
		return s.crash(a.Delay, "at a random point")
	case ActCrashAfterAnswer:
		count()
		s.wire.arm(a.Op, a.Target, a.Delay)
		return nil
	case ActCancel, ActFlipCancelOnDelete:
		if err := s.userAction(ctx, p, obj, a); err != nil {
			return gone(err)
		}
	case ActDelete:
		if err := s.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return gone(err)
		}
		keep := !kindOf(p.Kind).Observe(obj).CancelOnDelete
		if err := s.c.Delete(ctx, obj); err != nil {
			return gone(err)
		}
		s.mu.Lock()
		s.deleted[a.Target] = &Deletion{KeepRunning: keep, CredentialsMissing: s.secretMissing}
		s.mu.Unlock()
	case ActSecretDelete, ActSecretRestore, ActSecretRotate, ActRevokeOldKey:
		if acted, err := s.projectAction(ctx, a); err != nil || !acted {
			return err
		}
	case ActEditInput, ActRestoreInput:
		arg := a.Arg
		if a.Kind == ActRestoreInput {
			arg = editRestore
		}
		if err := kindOf(p.Kind).EditInput(ctx, s.c, s.ns, p, arg); err != nil {
			return gone(err)
		}
		if arg == editInvalid {
			s.mu.Lock()
			s.inputInvalid[a.Target] = true
			s.mu.Unlock()
		}
	default:
		return fmt.Errorf("unknown action %q", a.Kind)
	}
	count()
	return nil
}

// userAction sets spec.cancel or flips spec.cancelOnDelete of obj (plan p), or does
// what its kind does instead (actor).
func (s *seedRun) userAction(ctx context.Context, p ResourcePlan, obj client.Object, a Action) error {
	if ak, ok := kindOf(p.Kind).(actor); ok {
		if done, err := ak.UserAction(ctx, s.c, obj, a.Kind, fmt.Sprintf("%d-%s", s.sched.Seed, a.At)); done {
			if err == nil {
				s.logf("  done as %s does it", p.Kind)
			}
			return err
		}
	}
	if a.Kind == ActFlipCancelOnDelete {
		return s.flipCancelOnDelete(ctx, p, obj)
	}
	return s.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`)))
}

// projectAction performs an action on the credentials Secret or the keys; it reports
// false when there was nothing to do (no replaced key left to revoke).
func (s *seedRun) projectAction(ctx context.Context, a Action) (bool, error) {
	switch a.Kind {
	case ActSecretDelete:
		if err := s.c.Delete(ctx, s.secret()); err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		s.mu.Lock()
		s.secretMissing = true
		for _, d := range s.deleted {
			d.CredentialsMissing = true
		}
		s.mu.Unlock()
	case ActSecretRestore:
		if err := s.c.Create(ctx, s.secret()); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, err
		}
		s.mu.Lock()
		s.secretMissing = false
		s.mu.Unlock()
	case ActSecretRotate:
		s.mu.Lock()
		s.oldKeys = append(s.oldKeys, s.keys[s.current])
		s.current++
		missing := s.secretMissing
		s.mu.Unlock()
		if !missing {
			if err := s.c.Update(ctx, s.secret()); err != nil && !apierrors.IsNotFound(err) {
				return false, err
			}
		}
	case ActRevokeOldKey:
		s.mu.Lock()
		if len(s.oldKeys) == 0 {
			s.mu.Unlock()
			return false, nil
		}
		key := s.oldKeys[0]
		s.oldKeys = s.oldKeys[1:]
		s.mu.Unlock()
		s.wire.revoke(key)
	}
	return true, nil
}

// flipCancelOnDelete flips spec.cancelOnDelete of obj (plan p).
func (s *seedRun) flipCancelOnDelete(ctx context.Context, p ResourcePlan, obj client.Object) error {
	if err := s.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return err
	}
	next := !kindOf(p.Kind).Observe(obj).CancelOnDelete
	patch := fmt.Sprintf(`{"spec":{"cancelOnDelete":%v}}`, next)
	if err := s.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return err
	}
	s.logf("  cancelOnDelete is now %v", next)
	return nil
}

// snapshot reads the state of the seed: the API server's, OpenAI's and the wire's.
func (s *seedRun) snapshot(ctx context.Context) (*Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	snap := &Snapshot{Namespace: s.ns, Refused: s.wire.Refused(), Windows: s.sched.Windows,
		Bounds: Bounds{PollMin: s.opts.PollIntervalMin, PollMax: s.opts.PollIntervalMax,
			BackoffMin: s.opts.BackoffMin, BackoffMax: s.opts.BackoffMax, Workers: s.opts.MaxConcurrentReconciles * len(Kinds)}}
	snap.Receiver = s.sched.Webhooks.Receiver
	secrets, leaks := s.book.watched()
	for _, l := range leaks {
		snap.Leaks = append(snap.Leaks, "a log line holds a signing secret: "+l)
	}
	live := map[string]*Observed{}
	remote := map[string][]Remote{}
	for _, k := range Kinds {
		list := k.NewList()
		if err := s.c.List(ctx, list, client.InNamespace(s.ns)); err != nil {
			return nil, err
		}
		for _, o := range itemsOf(list) {
			ob := k.Observe(o)
			live[ob.Name] = &ob
			if raw, err := json.Marshal(o); err == nil && holdsSecret(string(raw), secrets) {
				snap.Leaks = append(snap.Leaks, fmt.Sprintf("%s %s holds a signing secret", k.Kind(), o.GetName()))
			}
		}
		r, err := k.Remote(ctx, s.truth)
		if err != nil {
			return nil, fmt.Errorf("reading OpenAI's %s: %w", k.Kind(), err)
		}
		for name, rs := range r {
			remote[name] = append(remote[name], rs...)
		}
	}
	events, eventLeaks, err := s.eventReasons(ctx, secrets)
	if err != nil {
		return nil, err
	}
	snap.Leaks = append(snap.Leaks, eventLeaks...)
	receiverKeys, err := s.receiverKeys(ctx)
	if err != nil {
		return nil, err
	}
	files, err := s.uploadedFiles(ctx)
	if err != nil {
		return nil, err
	}
	snap.Files = files
	deliveries := map[string]int{}
	for _, d := range s.em.Stats().Webhooks {
		if owner := s.wire.Owner(d.DataID); owner != "" {
			deliveries[owner] += d.Delivered
		}
	}
	calls := s.wire.Stats()

	s.mu.Lock()
	defer s.mu.Unlock()
	snap.Crashes, snap.ProjectActions = s.crashCount, s.projectActs
	for _, p := range s.sched.Resources {
		r := &ResourceState{Plan: p, Kind: kindOf(p.Kind), UID: s.uids[p.Name], Created: s.created[p.Name],
			Live: live[p.Name], Remote: remote[p.Name], Events: events[s.uids[p.Name]], Calls: calls[p.Name],
			Deliveries: deliveries[p.Name], InputInvalid: s.inputInvalid[p.Name], Actions: s.actionsOn[p.Name],
			ReceiverKeys: receiverKeys[p.Name]}
		if d := s.deleted[p.Name]; d != nil {
			c := *d
			r.Deleted = &c
		}
		if h, ok := s.mon.history(p.Kind, p.Name); ok {
			r.Named, r.CreateAttempts = h.named, h.createAttempts
			if h.keepRunning && r.Deleted != nil {
				r.Deleted.KeepRunning = true
			}
		}
		if r.Live != nil {
			r.CreateAttempts = max(r.CreateAttempts, r.Live.CreateAttempts)
		}
		if r.Events == nil {
			r.Events = map[string]int{}
		}
		snap.Resources = append(snap.Resources, r)
	}
	return snap, nil
}

func itemsOf(list client.ObjectList) []client.Object {
	items, _ := meta.ExtractList(list)
	out := make([]client.Object, 0, len(items))
	for _, o := range items {
		out = append(out, o.(client.Object))
	}
	return out
}

// eventReasons counts the Events of the namespace by the UID they are about and reason,
// and describes those whose note holds one of secrets (I8).
func (s *seedRun) eventReasons(ctx context.Context, secrets []string) (map[types.UID]map[string]int, []string, error) {
	var list eventsv1.EventList
	if err := s.c.List(ctx, &list, client.InNamespace(s.ns)); err != nil {
		return nil, nil, err
	}
	out := map[types.UID]map[string]int{}
	var leaks []string
	for _, e := range list.Items {
		if holdsSecret(e.Note, secrets) {
			leaks = append(leaks, fmt.Sprintf("the %s Event about %s %s holds a signing secret", e.Reason, e.Regarding.Kind, e.Regarding.Name))
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		if out[e.Regarding.UID] == nil {
			out[e.Regarding.UID] = map[string]int{}
		}
		out[e.Regarding.UID][e.Reason] += n
	}
	return out, leaks, nil
}

func holdsSecret(text string, secrets []string) bool {
	for _, sec := range secrets {
		if strings.Contains(text, sec) {
			return true
		}
	}
	return false
}

// receiverKeys reads the receiver's Secret: the hints of the secrets it holds for each
// webhook endpoint of the seed, by resource name.
func (s *seedRun) receiverKeys(ctx context.Context) (map[string]ReceiverKeys, error) {
	sec := &corev1.Secret{}
	err := s.c.Get(ctx, types.NamespacedName{Namespace: s.opts.Webhooks.SecretNamespace, Name: s.opts.Webhooks.SecretName}, sec)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the receiver's Secret: %w", err)
	}
	out := map[string]ReceiverKeys{}
	for _, p := range s.sched.Resources {
		var k ReceiverKeys
		if v, ok := sec.Data[controllers.ReceiverSecretKey(s.ns, p.Name)]; ok {
			k.Current = secretHint(v)
		}
		if v, ok := sec.Data[controllers.PreviousReceiverSecretKey(s.ns, p.Name)]; ok {
			k.Previous = secretHint(v)
		}
		out[p.Name] = k
	}
	return out, nil
}

// uploadedFiles lists the input files on OpenAI that the operator uploaded for the
// namespace's resources, of every purpose (named
// openai-operator_<namespace>_<name>_<uid>.jsonl for a batch, with _training or
// _validation before .jsonl for a fine-tuning job).
func (s *seedRun) uploadedFiles(ctx context.Context) ([]RemoteFile, error) {
	var out []RemoteFile
	prefix := "openai-operator_" + s.ns + "_"
	pager := s.truth.API.Files.ListAutoPaging(ctx, openai.FileListParams{Limit: openai.Int(1000)})
	for n := 0; pager.Next() && n < 100_000; n++ {
		f := pager.Current()
		if !strings.HasPrefix(f.Filename, prefix) {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(f.Filename, prefix), "_")
		out = append(out, RemoteFile{ID: f.ID, Filename: f.Filename, Resource: name})
	}
	return out, pager.Err()
}

// fill records what the seed did into res.
func (s *seedRun) fill(res *SeedResult) {
	res.Injected = s.wire.Injected()
	res.Refused = map[string]int{}
	for k, r := range s.wire.Refused() {
		res.Refused[k] = r.Calls
	}
	res.CrashesAnswered = s.wire.Fired()
	s.mu.Lock()
	res.Crashes = s.crashCount
	res.Actions = map[string]int{}
	for k, n := range s.actionsDone {
		res.Actions[k] = n
	}
	s.mu.Unlock()
	res.Resources = map[string]int{}
	for _, p := range s.sched.Resources {
		res.Resources[p.Kind]++
	}
	for _, st := range s.wire.Stats() {
		res.Calls += st.Calls
	}
	for _, d := range s.em.Stats().Webhooks {
		res.Deliveries += d.Attempts
	}
	res.Checks = map[string]int{}
	if !res.Early {
		// The final evaluation covered every created resource for each invariant.
		s.mu.Lock()
		n := len(s.created)
		s.mu.Unlock()
		for inv := range InvariantNames {
			res.Checks[inv] = n
		}
	}
	writes, terminal := s.mon.checked()
	res.Checks[I5] += writes
	res.Checks[I3] += terminal
}
