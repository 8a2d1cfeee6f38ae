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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// maxPatchAttempts bounds the optimistic-lock retries of one status write.
const maxPatchAttempts = 5

// Deps are what the receiver reads from and writes to.
type Deps struct {
	// Cache serves reads with the field indexes of AddIndexes (the manager's cache).
	Cache client.Reader
	// APIReader reads straight from the API server; it refreshes an object after a
	// write conflict, when the cache may still be behind.
	APIReader client.Reader
	// Client writes the status subresource.
	Client client.Client
	// WaitForCacheSync blocks until Cache has synced, reporting false if ctx ended
	// first. Nil means Cache is always in sync (a fake client in tests).
	WaitForCacheSync func(ctx context.Context) bool
	// Log is the receiver's logger; the zero value discards.
	Log logr.Logger
	// Kubernetes, when set, watches the Secret of signing secrets (see SecretWatch).
	Kubernetes kubernetes.Interface
}

// Receiver verifies OpenAI webhook requests and records their events in status. It is
// an http.Handler and a controller-runtime Runnable that serves it.
type Receiver struct {
	opts    Options
	deps    Deps
	log     logr.Logger
	metrics *Metrics
	secrets SecretSource
	files   *SecretFiles // nil when the secrets do not come from files
	watch   *SecretWatch // nil when the secrets do not come from the API

	noSecretLogged atomic.Bool

	recent *recentIDs
	early  *earlyStore
	reads  *readLimiter
	// bodyTimeout bounds the time a body may take to arrive (bodyReadTimeout; a test of
	// the cut-off lengthens it so that only the cut-off can end a slow read).
	bodyTimeout time.Duration
	queue       workqueue.TypedRateLimitingInterface[routeKey]

	synced   atomic.Bool
	serving  atomic.Bool
	draining atomic.Bool
	addr     atomic.Pointer[string]
}

// New returns a receiver. Unless opts.Secrets is set, it loads the signing secrets from
// opts.SecretsPath and, given deps.Kubernetes, watches the Secret
// opts.SigningSecretNamespace/opts.SigningSecretName; it accepts the secrets of both.
// It registers its metrics with opts.Registerer.
func New(deps Deps, opts Options) (*Receiver, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if deps.Cache == nil || deps.Client == nil {
		return nil, errors.New("the receiver needs a cache and a client")
	}
	if deps.APIReader == nil {
		deps.APIReader = deps.Client
	}
	reg := opts.Registerer
	if reg == nil {
		reg = ctrlmetrics.Registry
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	r := &Receiver{
		opts:        opts,
		deps:        deps,
		log:         deps.Log,
		metrics:     m,
		recent:      newRecentIDs(opts.MaxDedupIDs, opts.DedupTTL),
		early:       newEarlyStore(opts.MaxEarlyEvents, opts.EarlyEventTTL),
		reads:       newReadLimiter(opts.MaxConcurrentReads),
		bodyTimeout: bodyReadTimeout,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[routeKey](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[routeKey]{Name: "webhook-early-events"}),
	}
	if opts.Secrets != nil {
		r.secrets = opts.Secrets
	} else {
		changed := func(int) { r.secretsChanged() }
		r.files = NewSecretFiles(opts.SecretsPath, opts.SecretsPollInterval, r.log.WithName("secrets"), changed)
		sources := []SecretSource{r.files}
		if deps.Kubernetes != nil && opts.SigningSecretName != "" && opts.SigningSecretNamespace != "" {
			r.watch = NewSecretWatch(deps.Kubernetes, opts.SigningSecretNamespace, opts.SigningSecretName, r.log.WithName("secrets"), changed)
			sources = append(sources, r.watch)
		}
		r.secrets = &secretUnion{sources: sources}
	}
	r.secretsChanged()
	if deps.WaitForCacheSync == nil {
		r.synced.Store(true)
	}
	return r, nil
}

// Metrics returns the receiver's metrics.
func (r *Receiver) Metrics() *Metrics { return r.metrics }

// Addr returns the address the endpoint listens on, once it does.
func (r *Receiver) Addr() string {
	if a := r.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// ReadyCheck is a readiness check: ready once the cache has synced and the endpoint is
// listening, until the receiver is told to stop. Signing secrets are not required:
// without one the receiver answers deliveries 503 (OpenAI retries), and a Deployment
// that never became Available would block rollouts and node drains, although running
// without webhooks (the controller polls) is supported.
func (r *Receiver) ReadyCheck(_ *http.Request) error {
	switch {
	case r.draining.Load():
		return errors.New("shutting down: draining the webhook endpoint")
	case !r.synced.Load():
		return errors.New("the cache has not synced yet")
	case !r.serving.Load():
		return errors.New("the webhook endpoint is not listening")
	}
	return nil
}

// secretsChanged updates the signing secrets gauge, and says once, when none is left,
// that deliveries are answered 503.
func (r *Receiver) secretsChanged() {
	if r.secrets == nil {
		return // still being built
	}
	n := len(r.secrets.Secrets())
	r.metrics.SigningSecrets.Set(float64(n))
	switch {
	case n > 0:
		r.noSecretLogged.Store(false)
	case r.watch != nil && !r.watch.HasSynced():
		// The Secret has not been read yet: too early to tell.
	case !r.noSecretLogged.Swap(true):
		r.log.Info(
			"No webhook signing secret is configured: answering webhook deliveries 503 until one is; the controller's polling keeps resources moving",
			"secretsPath",
			r.opts.SecretsPath,
			"secret",
			r.opts.SigningSecretNamespace+"/"+r.opts.SigningSecretName,
		)
	}
}

// result is how a request was answered.
type result struct {
	code      int
	outcome   string // empty for requests not counted (other paths)
	eventType string // a metric label value
	message   string
	err       error // detail for the log, never sent
	d         *delivery
	// bodyLeft means the body was not read to its end: the connection is closed after
	// the answer, and what remains of the body is not waited for long.
	bodyLeft   bool
	retryAfter string
}

// ServeHTTP answers one webhook request. See the package documentation and
// docs/WEBHOOK-RECEIVER.md for the status codes.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	res := r.handle(w, req)
	if res.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if res.retryAfter != "" {
		w.Header().Set("Retry-After", res.retryAfter)
	}
	if res.bodyLeft && req.ContentLength != 0 {
		// The connection is closed after the answer. What remains of the body is
		// drained (as net/http does, to end the connection cleanly) for at most
		// unreadBodyDrain, so that a slow sender cannot hold the connection, and never
		// kept: nothing of it is buffered.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadBodyDrain))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(res.code)
	_, _ = io.WriteString(w, res.message+"\n")

	if res.outcome != "" {
		r.metrics.count(res.eventType, res.outcome)
	}
	r.metrics.RequestDuration.WithLabelValues(strconv.Itoa(res.code)).Observe(time.Since(start).Seconds())
	r.logResult(req, res)
}

func (r *Receiver) logResult(req *http.Request, res result) {
	kv := []any{"code", res.code, "outcome", res.outcome, "remoteAddr", req.RemoteAddr}
	if res.d != nil {
		kv = append(kv, "webhookID", res.d.webhookID, "eventID", res.d.event.ID, "eventType", res.d.event.Type, "objectID", res.d.event.ObjectID)
	}
	switch {
	case res.outcome == OutcomeWriteError:
		r.log.Error(res.err, "Recording webhook event failed", kv...)
	case res.code < 300:
		r.log.V(1).Info("Handled webhook event", kv...)
	default:
		if res.err != nil {
			kv = append(kv, "reason", res.err.Error())
		}
		r.log.V(1).Info("Refusing webhook request", kv...)
	}
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) result {
	switch {
	case req.URL.Path != r.opts.Path:
		return result{code: http.StatusNotFound, message: "not found", bodyLeft: true}
	case req.Method != http.MethodPost:
		return result{
			code:      http.StatusMethodNotAllowed,
			outcome:   OutcomeMethodNotAllowed,
			eventType: typeUnknown,
			message:   "only POST is allowed",
			bodyLeft:  true,
		}
	case !r.synced.Load():
		return result{
			code:      http.StatusServiceUnavailable,
			outcome:   OutcomeUnavailable,
			eventType: typeUnknown,
			message:   "starting: the cache has not synced yet",
			bodyLeft:  true,
		}
	}
	secrets := r.secrets.Secrets()
	if len(secrets) == 0 {
		return result{
			code:      http.StatusServiceUnavailable,
			outcome:   OutcomeNoSecret,
			eventType: typeUnknown,
			message:   "no webhook signing secret is configured",
			bodyLeft:  true,
		}
	}

	// Everything the headers alone can refuse is refused before a byte of the body is
	// read, so that senders without the secret cannot make the receiver buffer bodies.
	now := r.opts.Now()
	hdr := standardwebhooks.HeadersFrom(req.Header)
	if err := standardwebhooks.CheckHeaders(hdr, now, r.opts.Tolerance); err != nil {
		res := verifyFailure(err)
		res.bodyLeft = true
		return res
	}
	if len(hdr.ID) > maxWebhookIDLen {
		return result{code: http.StatusBadRequest, outcome: OutcomeMalformed, eventType: typeUnknown, bodyLeft: true,
			message: fmt.Sprintf("%s is longer than %d bytes", standardwebhooks.HeaderID, maxWebhookIDLen)}
	}
	tooLarge := result{code: http.StatusRequestEntityTooLarge, outcome: OutcomeTooLarge, eventType: typeUnknown, bodyLeft: true,
		message: fmt.Sprintf("body larger than %d bytes", r.opts.MaxBodyBytes)}
	if req.ContentLength > r.opts.MaxBodyBytes {
		return tooLarge
	}

	rc := http.NewResponseController(w)
	slot := r.reads.acquire(time.Now(), func() { _ = rc.SetReadDeadline(time.Now()) })
	if slot == nil {
		return result{code: http.StatusServiceUnavailable, outcome: OutcomeOverloaded, eventType: typeUnknown, bodyLeft: true,
			retryAfter: retryAfterSeconds, message: "too many requests at once; retry later"}
	}
	defer slot.release()
	_ = rc.SetReadDeadline(time.Now().Add(r.bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
	slot.bodyRead()
	if err == nil {
		// The body is in: a cut-off that raced with its last read must not leave a
		// deadline behind, which net/http's background read of the connection would
		// take for the sender going away (cancelling the request's context).
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge
		}
		if slot.cutOff() || errors.Is(err, os.ErrDeadlineExceeded) {
			return result{code: http.StatusRequestTimeout, outcome: OutcomeTooSlow, eventType: typeUnknown, bodyLeft: true,
				message: "the body did not arrive in time", err: err}
		}
		return result{code: http.StatusBadRequest, outcome: OutcomeMalformed, eventType: typeUnknown, bodyLeft: true,
			message: "could not read the body", err: err}
	}
	if err := standardwebhooks.Verify(secrets, hdr, body, now, r.opts.Tolerance); err != nil {
		return verifyFailure(err)
	}
	slot.release()
	ts, _ := strconv.ParseInt(hdr.Timestamp, 10, 64) // CheckHeaders checked it
	evt, err := parseEvent(body, time.Unix(ts, 0))
	if err != nil {
		return result{code: http.StatusBadRequest, outcome: OutcomeMalformed, eventType: typeUnknown, message: err.Error(), err: err}
	}
	if evt.CreatedAt.After(now.Add(r.opts.Tolerance)) {
		// A created_at beyond the clock's tolerance would make every later event look
		// older ("superseded") and pin the record: the verified webhook-timestamp,
		// within the tolerance, stands in for it.
		evt.CreatedAt = time.Unix(ts, 0)
	}
	d := delivery{webhookID: hdr.ID, event: evt, receivedAt: now}
	res := result{eventType: typeLabel(evt.Type), d: &d}
	switch {
	case r.recent.contains(hdr.ID, now):
		res.code, res.outcome, res.message = http.StatusOK, OutcomeDuplicate, "duplicate"
		return res
	case kindOf(evt.Type) == kindNone:
		r.recent.add(hdr.ID, now)
		res.code, res.outcome, res.message = http.StatusOK, OutcomeUnmanaged, "event type not managed by this operator"
		return res
	case r.early.holds(hdr.ID):
		res.code, res.outcome, res.message = http.StatusAccepted, OutcomeDuplicate, "duplicate: held until a resource carries the id"
		return res
	}

	ctx, cancel := context.WithTimeout(req.Context(), r.opts.WriteTimeout)
	defer cancel()
	targets, err := r.lookup(ctx, d.key())
	if err != nil {
		res.code, res.outcome, res.message, res.err = http.StatusServiceUnavailable, OutcomeUnavailable, "cannot read the cache", err
		return res
	}
	if len(targets) == 0 {
		if r.hold(d) {
			res.outcome = OutcomeEarly
		} else {
			res.outcome = OutcomeDuplicate
		}
		res.code, res.message = http.StatusAccepted, "held until a resource carries the id"
		return res
	}
	outcome, err := r.record(ctx, targets, d)
	if err != nil {
		res.code, res.outcome, res.message, res.err = http.StatusServiceUnavailable, OutcomeWriteError, "recording the event failed; retry later", err
		return res
	}
	r.recent.add(hdr.ID, now)
	res.code, res.outcome, res.message = http.StatusOK, outcome, outcome
	return res
}

// verifyFailure is the answer to a request that standardwebhooks refused.
func verifyFailure(err error) result {
	res := result{eventType: typeUnknown, err: err}
	switch {
	case errors.Is(err, standardwebhooks.ErrMissingHeader), errors.Is(err, standardwebhooks.ErrMalformedHeader):
		res.code, res.outcome, res.message = http.StatusBadRequest, OutcomeMalformed, err.Error()
	case errors.Is(err, standardwebhooks.ErrTimestampTooOld), errors.Is(err, standardwebhooks.ErrTimestampFuture):
		res.code, res.outcome, res.message = http.StatusUnauthorized, OutcomeStale, "webhook-timestamp is outside the tolerance"
	case errors.Is(err, standardwebhooks.ErrNoSecrets):
		res.code, res.outcome, res.message = http.StatusServiceUnavailable, OutcomeUnavailable, "no webhook signing secret is configured"
	default:
		res.code, res.outcome, res.message = http.StatusUnauthorized, OutcomeInvalidSignature, "no webhook signature matches"
	}
	return res
}

// target is a resource an event is recorded on, as last read.
type target struct {
	kind targetKind
	key  client.ObjectKey
	rv   string
	last *openaiv1alpha1.WebhookEvent
}

// lookup finds, through the cache's field index, the resources whose status carries
// the id of k.
func (r *Receiver) lookup(ctx context.Context, k routeKey) ([]target, error) {
	var out []target
	switch k.kind {
	case kindBatch:
		var list openaiv1alpha1.OpenAIBatchList
		if err := r.deps.Cache.List(ctx, &list, client.MatchingFields{IndexBatchID: k.objectID}); err != nil {
			return nil, err
		}
		for i := range list.Items {
			out = append(out, targetOf(kindBatch, &list.Items[i]))
		}
	case kindResponse:
		var list openaiv1alpha1.OpenAIResponseList
		if err := r.deps.Cache.List(ctx, &list, client.MatchingFields{IndexResponseID: k.objectID}); err != nil {
			return nil, err
		}
		for i := range list.Items {
			out = append(out, targetOf(kindResponse, &list.Items[i]))
		}
	case kindFineTuningJob:
		var list openaiv1alpha1.OpenAIFineTuningJobList
		if err := r.deps.Cache.List(ctx, &list, client.MatchingFields{IndexJobID: k.objectID}); err != nil {
			return nil, err
		}
		for i := range list.Items {
			out = append(out, targetOf(kindFineTuningJob, &list.Items[i]))
		}
	}
	return out, nil
}

func targetOf(kind targetKind, obj client.Object) target {
	t := target{kind: kind, key: client.ObjectKeyFromObject(obj), rv: obj.GetResourceVersion()}
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		t.last = o.Status.LastWebhookEvent
	case *openaiv1alpha1.OpenAIResponse:
		t.last = o.Status.LastWebhookEvent
	case *openaiv1alpha1.OpenAIFineTuningJob:
		t.last = o.Status.LastWebhookEvent
	}
	return t
}

func (t target) newObject() client.Object {
	meta := metav1.ObjectMeta{Namespace: t.key.Namespace, Name: t.key.Name}
	switch t.kind {
	case kindResponse:
		return &openaiv1alpha1.OpenAIResponse{ObjectMeta: meta}
	case kindFineTuningJob:
		return &openaiv1alpha1.OpenAIFineTuningJob{ObjectMeta: meta}
	}
	return &openaiv1alpha1.OpenAIBatch{ObjectMeta: meta}
}

// outcomeRank orders the outcomes of recording one event on several resources: the
// most significant one describes the whole.
var outcomeRank = map[string]int{OutcomeUnmanaged: 0, OutcomeSuperseded: 1, OutcomeDuplicate: 2, OutcomeAccepted: 3}

// record writes d to every target's status. Its outcome is accepted, duplicate (the
// resource already records the event), superseded (it records a newer one) or
// unmanaged (the resource was deleted meanwhile).
func (r *Receiver) record(ctx context.Context, targets []target, d delivery) (string, error) {
	outcome := OutcomeUnmanaged
	for _, t := range targets {
		o, err := r.recordOne(ctx, t, d)
		if err != nil {
			return "", err
		}
		if outcomeRank[o] > outcomeRank[outcome] {
			outcome = o
		}
	}
	if outcome == OutcomeAccepted {
		landed := time.Now()
		r.metrics.EventToStatus.WithLabelValues(fromReceived).Observe(max(0, landed.Sub(d.receivedAt).Seconds()))
		r.metrics.EventToStatus.WithLabelValues(fromCreated).Observe(max(0, landed.Sub(d.event.CreatedAt).Seconds()))
	}
	return outcome, nil
}

// recordOne writes d to one resource with a JSON merge patch of status.lastWebhookEvent
// alone, guarded by the resource version it decided on, so that concurrent receivers
// never move the record backwards.
func (r *Receiver) recordOne(ctx context.Context, t target, d delivery) (string, error) {
	rec := openaiv1alpha1.WebhookEvent{
		ID:         d.event.ID,
		Type:       d.event.Type,
		CreatedAt:  metav1.NewTime(d.event.CreatedAt),
		ReceivedAt: metav1.NewMicroTime(d.receivedAt),
	}
	for range maxPatchAttempts {
		if t.last != nil {
			if t.last.ID == rec.ID {
				return OutcomeDuplicate, nil
			}
			// A record dated beyond the tolerance (written before created_at was
			// clamped) orders nothing: it must not pin the resource.
			pinned := t.last.CreatedAt.After(r.opts.Now().Add(r.opts.Tolerance))
			if t.last.CreatedAt.Unix() > rec.CreatedAt.Unix() && !pinned {
				return OutcomeSuperseded, nil
			}
		}
		patch, err := json.Marshal(statusPatch{
			Metadata: patchMeta{ResourceVersion: t.rv},
			Status:   patchStatus{LastWebhookEvent: rec},
		})
		if err != nil {
			return "", err
		}
		obj := t.newObject()
		err = r.deps.Client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner))
		switch {
		case err == nil:
			r.log.Info("Recorded webhook event", t.kind.String(), klog.KRef(t.key.Namespace, t.key.Name),
				"eventID", rec.ID, "eventType", rec.Type, "webhookID", d.webhookID)
			return OutcomeAccepted, nil
		case apierrors.IsNotFound(err):
			return OutcomeUnmanaged, nil
		case !apierrors.IsConflict(err):
			return "", fmt.Errorf("patching %s %s status: %w", t.kind, t.key, err)
		}
		// Someone else wrote first: decide again on the current object.
		if err := r.deps.APIReader.Get(ctx, t.key, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return OutcomeUnmanaged, nil
			}
			return "", fmt.Errorf("reading %s %s after a conflict: %w", t.kind, t.key, err)
		}
		t = targetOf(t.kind, obj)
	}
	return "", fmt.Errorf("patching %s %s status: still conflicting after %d attempts", t.kind, t.key, maxPatchAttempts)
}

// statusPatch is the JSON merge patch the receiver sends: the resource version it read
// (an optimistic lock) and status.lastWebhookEvent, nothing else.
type statusPatch struct {
	Metadata patchMeta   `json:"metadata"`
	Status   patchStatus `json:"status"`
}

type patchMeta struct {
	ResourceVersion string `json:"resourceVersion"`
}

type patchStatus struct {
	LastWebhookEvent openaiv1alpha1.WebhookEvent `json:"lastWebhookEvent"`
}
