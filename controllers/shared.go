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

// Package controllers holds the reconcilers of OpenAIBatch, OpenAIResponse and
// OpenAIFineTuningJob, which submit work to OpenAI, track it to the end, store results
// and clean up, and of OpenAIWebhookEndpoint, which connects a project's webhooks to the
// receiver.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// Finalizer lets the controller cancel in-flight work and delete the files it uploaded
// before a resource goes away.
const Finalizer = "openai.operator.dev/cleanup"

// FieldOwner is the field manager of the controller's writes.
const FieldOwner = "openai-operator"

// msgCancelledUnsubmitted is status.message of a resource cancelled before its work
// reached OpenAI.
const msgCancelledUnsubmitted = "Cancelled before it was submitted"

// Options are the knobs shared by both reconcilers.
type Options struct {
	// DefaultCredentialsSecret is the Secret used when spec.credentialsRef is unset.
	DefaultCredentialsSecret string
	// PollIntervalMin and PollIntervalMax bound the polling backoff: the next read of an
	// object follows after as long again as the object had existed at the last read.
	PollIntervalMin time.Duration
	PollIntervalMax time.Duration
	// RetryInterval is how long to wait for a missing Secret, ConfigMap or key (a change
	// of the credentials Secret wakes the resources that use it at once).
	RetryInterval time.Duration
	// DeletionTimeout is how long deletion keeps retrying OpenAI before it gives up and
	// removes the finalizer anyway (with a Warning event).
	DeletionTimeout time.Duration
	// MaxConcurrentReconciles per kind.
	MaxConcurrentReconciles int
	// WebhookPollIntervalMin and WebhookPollIntervalMax bound the polling backoff, in
	// place of PollIntervalMin/Max, for resources of an OpenAI project (credentials
	// Secret) whose webhook events have arrived within WebhookTrustWindow: polling is then
	// only a safety net against a lost event. Zero WebhookPollIntervalMin turns this off.
	WebhookPollIntervalMin time.Duration
	WebhookPollIntervalMax time.Duration
	WebhookTrustWindow     time.Duration
	// BackoffMin and BackoffMax bound the per-project backoff after OpenAI refused a
	// project's calls (429 without a wait, 401, 403): every resource of the project
	// waits, BackoffMin doubling with each refusal in a row up to BackoffMax, with jitter,
	// and never less than OpenAI asked (Retry-After, x-ratelimit-reset-*).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// QuotaRetryInterval is how long a project's create calls wait after OpenAI answered
	// 429 insufficient_quota.
	QuotaRetryInterval time.Duration

	// Webhooks configure the OpenAIWebhookEndpoint reconciler.
	Webhooks WebhookEndpointOptions
}

// DefaultOptions are the manager's defaults.
func DefaultOptions() Options {
	return Options{
		DefaultCredentialsSecret: "openai-credentials",
		PollIntervalMin:          15 * time.Second,
		PollIntervalMax:          10 * time.Minute,
		RetryInterval:            15 * time.Second,
		DeletionTimeout:          5 * time.Minute,
		MaxConcurrentReconciles:  8,
		WebhookPollIntervalMin:   10 * time.Minute,
		WebhookPollIntervalMax:   6 * time.Hour,
		WebhookTrustWindow:       24 * time.Hour,
		BackoffMin:               time.Second,
		BackoffMax:               5 * time.Minute,
		QuotaRetryInterval:       5 * time.Minute,
		Webhooks:                 DefaultWebhookEndpointOptions(),
	}
}

// errCredentials means the credentials Secret or its apiKey is missing; the
// CredentialsReady condition says which.
var errCredentials = errors.New("credentials unavailable")

// credentialsTTL is how long a credentials Secret read is reused, found or not. It
// spares the API server one read per OpenAI call, and one per waiting resource per
// retry; a change of the Secret is seen at once through the watch.
const credentialsTTL = 30 * time.Second

// credentialsName is the name of the Secret a resource's credentials come from.
func credentialsName(ref *openaiv1alpha1.CredentialsReference, defaultName string) string {
	if ref != nil {
		return ref.Name
	}
	return defaultName
}

// credentialsFailure is why a credentials Secret could not be used.
type credentialsFailure struct{ reason, message string }

// loadClient reads the credentials Secret (uncached by the manager's informers: it
// watches only Secrets' metadata; the last read, found or not, is reused for
// credentialsTTL) and returns an API client behind the project's gate. It sets
// CredentialsReady when the Secret is missing or incomplete, and back to True when a
// Secret problem was fixed; a refusal by OpenAI is cleared only by an accepted call
// (see pass.concludeCredentials). accepted is set by every call that OpenAI answered
// without refusing the key.
func loadClient(
	ctx context.Context,
	d *Deps,
	obj client.Object,
	ref *openaiv1alpha1.CredentialsReference,
	conds *[]metav1.Condition,
	accepted *bool,
) (openai.Client, string, error) {
	name := credentialsName(ref, d.DefaultCredentialsSecret)
	key := obj.GetNamespace() + "/" + name
	cached, ok := d.shared.cachedCredentials(key, time.Now())
	if !ok {
		secret := &corev1.Secret{}
		err := d.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, secret)
		switch {
		case apierrors.IsNotFound(err):
			cached.failure = &credentialsFailure{openaiv1alpha1.ReasonSecretNotFound,
				fmt.Sprintf(
					"Secret %q not found in namespace %q: create it with an %q key holding the OpenAI API key",
					name,
					obj.GetNamespace(),
					openaiclient.KeyAPIKey,
				)}
		case err != nil:
			return openai.Client{}, "", fmt.Errorf("reading credentials Secret %q: %w", name, err)
		default:
			if cached.creds, err = openaiclient.CredentialsFromSecret(secret); err != nil {
				cached.failure = &credentialsFailure{openaiv1alpha1.ReasonKeyNotFound,
					fmt.Sprintf("Secret %q has no %q key: add the OpenAI API key under it", name, openaiclient.KeyAPIKey)}
			} else if d.OpenAI.CheckBaseURL(cached.creds.BaseURL) != nil {
				cached.failure = &credentialsFailure{openaiv1alpha1.ReasonBaseURLNotAllowed,
					fmt.Sprintf("Secret %q sets %q to a URL the manager may not call: remove it, or ask the operator's admin to add it to --allowed-base-urls", name, openaiclient.KeyBaseURL)}
			}
		}
		d.shared.cacheCredentials(key, cached, time.Now())
	}
	if f := cached.failure; f != nil {
		setCondition(conds, obj, openaiv1alpha1.ConditionCredentialsReady, metav1.ConditionFalse, f.reason, f.message)
		return openai.Client{}, "", errCredentials
	}
	if c := meta.FindStatusCondition(*conds, openaiv1alpha1.ConditionCredentialsReady); c == nil ||
		c.Reason == openaiv1alpha1.ReasonSecretNotFound || c.Reason == openaiv1alpha1.ReasonKeyNotFound ||
		c.Reason == openaiv1alpha1.ReasonBaseURLNotAllowed {
		setCondition(conds, obj, openaiv1alpha1.ConditionCredentialsReady, metav1.ConditionTrue, openaiv1alpha1.ReasonFound,
			fmt.Sprintf("Using the API key in Secret %q", name))
	}
	noteAccepted := option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if err == nil && resp != nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusUnauthorized &&
			resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
			*accepted = true
		}
		return resp, err
	})
	return d.OpenAI.New(cached.creds, d.shared.gateOf().Option(key, cached.creds.APIKey), noteAccepted), cached.creds.APIKey, nil
}

// sharedState is what the reconcilers of one manager learn as they run, kept in memory
// only: recent credentials reads, when webhook events last arrived for each OpenAI
// project (a credentials Secret stands for one), and each project's gate (what OpenAI
// refused, and how long to wait). A nil *sharedState keeps nothing.
type sharedState struct {
	credentials sync.Map // "namespace/secret" -> cachedCredentials
	webhooks    sync.Map // "namespace/secret" -> time.Time of the newest event received
	effects     sync.Map // resource UID -> *sideEffects
	gate        *openaiclient.Gate
}

// sideEffects remembers what this process did about one resource outside its status
// (a cancel asked of OpenAI, results written), so that a pass that runs again because
// its status write lost to a write it had not seen (its own previous one, still on its
// way to the cache) does not do it again.
type sideEffects struct {
	mu        sync.Mutex
	cancelled string         // the OpenAI id a cancel was asked for
	results   string         // the target and files whose results were written
	outcome   resultsOutcome // what writing them did
}

// effectsOf returns what this process did about the resource uid (a throwaway record
// for a nil state).
func (s *sharedState) effectsOf(uid types.UID) *sideEffects {
	if s == nil {
		return &sideEffects{}
	}
	v, _ := s.effects.LoadOrStore(uid, &sideEffects{})
	return v.(*sideEffects)
}

// forgetEffects drops the record of a resource that is gone.
func (s *sharedState) forgetEffects(uid types.UID) {
	if s != nil {
		s.effects.Delete(uid)
	}
}

// cancelAsked reports whether a cancel of id was asked already.
func (e *sideEffects) cancelAsked(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cancelled == id
}

func (e *sideEffects) askedCancel(id string) {
	e.mu.Lock()
	e.cancelled = id
	e.mu.Unlock()
}

// resultsWritten returns the outcome of writing the results known by key, if done.
func (e *sideEffects) resultsWritten(key string) (resultsOutcome, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outcome, e.results == key
}

func (e *sideEffects) wroteResults(key string, out resultsOutcome) {
	if out.reason == openaiv1alpha1.ReasonTargetConflict {
		return // nothing was written; a spec change tries again
	}
	e.mu.Lock()
	e.results, e.outcome = key, out
	e.mu.Unlock()
}

// resultsKey names results written to target from the given files.
func resultsKey(target *openaiv1alpha1.ResultsTarget, files ...string) string {
	kind := target.Kind
	if kind == "" {
		kind = openaiv1alpha1.ResultsKindConfigMap
	}
	return string(kind) + "/" + target.Name + "/" + strings.Join(files, "/")
}

func newSharedState(opts Options) *sharedState {
	opts.fillBackoff()
	return &sharedState{gate: openaiclient.NewGate(opts.BackoffMin, opts.BackoffMax, opts.QuotaRetryInterval)}
}

// fillBackoff sets the backoff knobs left zero to their defaults: zero would retry a
// refused project at once.
func (o *Options) fillBackoff() {
	def := DefaultOptions()
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&o.BackoffMin, def.BackoffMin}, {&o.BackoffMax, def.BackoffMax}, {&o.QuotaRetryInterval, def.QuotaRetryInterval},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
}

// gateOf returns the gate of every project, nil for a nil state.
func (s *sharedState) gateOf() *openaiclient.Gate {
	if s == nil {
		return nil
	}
	return s.gate
}

// storeLatest stores t under key in m unless a later time is stored there already.
func storeLatest(m *sync.Map, key any, t time.Time) {
	for {
		old, loaded := m.LoadOrStore(key, t)
		if !loaded || !old.(time.Time).Before(t) || m.CompareAndSwap(key, old, t) {
			return
		}
	}
}

type cachedCredentials struct {
	creds   openaiclient.Credentials
	failure *credentialsFailure // non-nil: the Secret or its key is missing
	at      time.Time
}

func (s *sharedState) cachedCredentials(key string, now time.Time) (cachedCredentials, bool) {
	if s == nil {
		return cachedCredentials{}, false
	}
	v, ok := s.credentials.Load(key)
	if !ok || now.Sub(v.(cachedCredentials).at) > credentialsTTL {
		return cachedCredentials{}, false
	}
	return v.(cachedCredentials), true
}

func (s *sharedState) cacheCredentials(key string, c cachedCredentials, now time.Time) {
	if s != nil {
		c.at = now
		s.credentials.Store(key, c)
	}
}

// credentialsChanged forgets what was known of the credentials Secret key: its last
// read, and what OpenAI refused to the key it held.
func (s *sharedState) credentialsChanged(key string) {
	if s != nil {
		s.credentials.Delete(key)
		s.gate.Reset(key)
	}
}

// sawWebhook notes a webhook event received for a resource using the credentials key.
func (s *sharedState) sawWebhook(key string, ev *openaiv1alpha1.WebhookEvent) {
	if s == nil || ev == nil {
		return
	}
	storeLatest(&s.webhooks, key, ev.ReceivedAt.Time)
}

// trustWebhooks notes that the webhooks of the credentials key were proven to work at t
// (a Verified OpenAIWebhookEndpoint's test delivery), as if an event had arrived then.
func (s *sharedState) trustWebhooks(key string, t time.Time) {
	if s != nil {
		storeLatest(&s.webhooks, key, t)
	}
}

// forgetWebhooks drops what is known of the webhooks of the credentials key, when its
// endpoint fails or goes away; the next event received restores it.
func (s *sharedState) forgetWebhooks(key string) {
	if s != nil {
		s.webhooks.Delete(key)
	}
}

// webhooksArrive reports whether a webhook event arrived for the credentials key within
// window before now.
func (s *sharedState) webhooksArrive(key string, now time.Time, window time.Duration) bool {
	if s == nil {
		return false
	}
	v, ok := s.webhooks.Load(key)
	return ok && now.Sub(v.(time.Time)) < window
}

// setCondition sets a condition stamped with the object's generation.
func setCondition(conds *[]metav1.Condition, obj client.Object, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: obj.GetGeneration(),
	})
}

// removeCondition removes the condition of type typ. meta.RemoveStatusCondition
// copies the list even when the condition is not there, which is most passes (every
// resource's pass at a resync asks for it).
func removeCondition(conds *[]metav1.Condition, typ string) {
	if meta.FindStatusCondition(*conds, typ) != nil {
		meta.RemoveStatusCondition(conds, typ)
	}
}

// nextPoll returns when an object submitted at submitted and last read at lastSync
// should be read again: after as long again as it had existed at that read, bounded by
// [lo, hi]. This is exponential backoff (doubling) whose state is the status itself, so
// a restarted manager neither forgets it nor polls everything at once.
func nextPoll(submitted, lastSync time.Time, lo, hi time.Duration) time.Time {
	interval := min(max(lastSync.Sub(submitted), lo), hi)
	return lastSync.Add(interval)
}

// readPlan is track's decision for one pass: read the object from OpenAI now (at once
// for a webhook event no read has followed yet, else when the poll is due), or wait.
type readPlan struct {
	submitted time.Time
	lo, hi    time.Duration
	webhook   bool          // a webhook event starts this read
	wait      time.Duration // > 0: do not read yet; requeue after this
}

// planRead decides whether a pass reads an in-flight object submitted at submitted
// now, on the schedule of its project (the credentials key).
func (d *Deps) planRead(key string, submitted time.Time, ev *openaiv1alpha1.WebhookEvent, ss openaiv1alpha1.SyncStatus, now time.Time) readPlan {
	pl := readPlan{submitted: submitted, webhook: webhookPending(ev, ss)}
	pl.lo, pl.hi = d.pollBounds(key, now)
	if !pl.webhook && ss.LastSyncTime != nil {
		if next := nextPoll(submitted, ss.LastSyncTime.Time, pl.lo, pl.hi); now.Before(next) {
			pl.wait = next.Sub(now)
		}
	}
	return pl
}

// next is when to read again after a read at readAt that found the object in flight.
func (pl readPlan) next(readAt time.Time) ctrl.Result {
	return ctrl.Result{RequeueAfter: nextPoll(pl.submitted, readAt, pl.lo, pl.hi).Sub(readAt)}
}

// webhookPending reports whether the receiver recorded an event the controller has not
// acted on yet.
func webhookPending(ev *openaiv1alpha1.WebhookEvent, ss openaiv1alpha1.SyncStatus) bool {
	return ev != nil && ev.ID != ss.HandledWebhookEventID
}

// unixTime converts an OpenAI unix timestamp; zero means unset.
func unixTime(sec int64) *metav1.Time {
	if sec <= 0 {
		return nil
	}
	t := metav1.Unix(sec, 0)
	return &t
}

// floatTime converts an OpenAI float unix timestamp; zero means unset.
func floatTime(sec float64) *metav1.Time {
	if sec <= 0 {
		return nil
	}
	t := metav1.NewTime(time.Unix(0, int64(sec*float64(time.Second))).Truncate(time.Second))
	return &t
}

// resourceTag is the value of openaiv1alpha1.ResourceMetadataKey for obj.
func resourceTag(obj client.Object) string {
	return obj.GetNamespace() + "/" + obj.GetName() + "/" + string(obj.GetUID())
}

// withTag returns the user's metadata plus the operator's tag.
func withTag(user map[string]string, obj client.Object) map[string]string {
	out := make(map[string]string, len(user)+1)
	for k, v := range user {
		out[k] = v
	}
	out[openaiv1alpha1.ResourceMetadataKey] = resourceTag(obj)
	return out
}

// SetupWithManager registers the reconcilers with mgr. Secrets and ConfigMaps are read
// through mgr.GetAPIReader(); credentials Secrets are watched, metadata only.
func SetupWithManager(mgr ctrl.Manager, factory *openaiclient.Factory, opts Options) error {
	shared := newSharedState(opts)
	deps := func(name string) Deps {
		return Deps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: mgr.GetEventRecorder(name), OpenAI: factory, Options: opts, shared: shared}
	}
	if err := (&BatchReconciler{Deps: deps("openaibatch-controller")}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&FineTuningJobReconciler{Deps: deps("openaifinetuningjob-controller")}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&WebhookEndpointReconciler{Deps: deps("openaiwebhookendpoint-controller")}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&ResponseReconciler{Deps: deps("openairesponse-controller")}).SetupWithManager(mgr)
}

// pollBounds returns the polling backoff bounds for a resource using the credentials key.
func (d *Deps) pollBounds(key string, now time.Time) (time.Duration, time.Duration) {
	if d.WebhookPollIntervalMin > 0 && d.shared.webhooksArrive(key, now, d.WebhookTrustWindow) {
		return d.WebhookPollIntervalMin, max(d.WebhookPollIntervalMax, d.WebhookPollIntervalMin)
	}
	return d.PollIntervalMin, d.PollIntervalMax
}

// credentialsIndex indexes both kinds by the name of their credentials Secret.
const credentialsIndex = "spec.credentialsRef.name"

// credentialsWatch returns the function that maps a change of a Secret to the resources
// of one kind (listed into list) that take their credentials from it: the Secret's last
// read and its project's gate are forgotten, and those resources run at once.
func (d *Deps) credentialsWatch(c client.Reader, list client.ObjectList) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, secret client.Object) []reconcile.Request {
		l := list.DeepCopyObject().(client.ObjectList)
		// Only names are read: the cached objects are listed as they are, not copied (a
		// Secret that every resource uses would copy the whole cache at once).
		if err := c.List(ctx, l, client.InNamespace(secret.GetNamespace()),
			client.MatchingFields{credentialsIndex: secret.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing the resources that use a credentials Secret", "secret", client.ObjectKeyFromObject(secret))
			return nil
		}
		items, _ := meta.ExtractList(l)
		if len(items) == 0 {
			return nil
		}
		d.shared.credentialsChanged(secret.GetNamespace() + "/" + secret.GetName())
		out := make([]reconcile.Request, 0, len(items))
		for _, it := range items {
			o := it.(client.Object)
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
		return out
	}
}
