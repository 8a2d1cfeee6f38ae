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
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/webhooks"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// endpointKind is the adapter of OpenAIWebhookEndpoint. Its OpenAI object is a webhook
// endpoint of the project: configuration that lives as long as the resource, not work
// that ends, so it has no phase and states its own settled state (standing). Endpoints
// carry no metadata; the operator names each one after its resource, ending with the
// resource's UID, and a restarted manager adopts by listing: so OpenAI's truth is every
// endpoint of the project whose name says it belongs to a resource of the namespace,
// and a second endpoint for one resource is never acceptable (CanSearch, I1).
//
// What must hold for it:
//
//   - I1: at most one endpoint on OpenAI per resource, whatever crashed when (a crash
//     after OpenAI answered the create and before the secret was written included).
//   - I2: none left once the resource is gone (its finalizer ran), unless the cleanup
//     was given up, with a CleanupAbandoned Warning, while the credentials Secret was
//     missing (as for the other kinds).
//   - I5: on every status write, Ready and the kstatus conditions agree as the
//     controller documents them: Ready=True alone; Ready=False waiting on the user
//     (reasons Rejected, NoURL) beside Stalled=True; any other Ready=False beside
//     Reconciling=True; never Complete or Failed.
//   - I7, within the settle bound (the common terms, plus the secret's propagation
//     wait and the longest test backoff: see SettleBound): while the resource exists
//     and is not being deleted, exactly one endpoint, the one status.endpointID names,
//     delivering the event types the spec asks for; status.observedGeneration current;
//     Ready=True; the receiver's Secret holds the endpoint's key, and the secret there
//     is the one OpenAI signs with now (its hint is OpenAI's signing_secret_hint for the
//     endpoint, as is status.signingSecretHint); a requested rotation answered
//     (status.lastRotation.request); after a crash between OpenAI's create answer and
//     the secret's write, the endpoint adopted and its secret rotated (reason
//     SecretLost: the documented recovery); or else, when OpenAI refused the create
//     or an update as invalid (400, 422: the schedule injects those), Ready=False with
//     reason Rejected (Stalled until the spec changes, as documented). Verified=True (OpenAI's test delivery
//     reached the seed's receiver, which loads the key through the API server, and got
//     a 2xx), or, in a seed without a receiver, Verified=False with reason Unreachable
//     (the endpoint's URL is a closed port on 127.0.0.1: nothing answers, and the
//     condition must say so rather than claim a delivery). Once the resource is gone:
//     neither its key nor its previous key is left in the receiver's Secret.
//   - I8: no signing secret OpenAI returned appears in a status, an Event or a log line.
type endpointKind struct{}

func (endpointKind) Kind() string   { return "OpenAIWebhookEndpoint" }
func (endpointKind) Prefix() string { return "w" }

// Plan: an endpoint has no work and no input; half of them ask for their own event
// types.
func (endpointKind) Plan(r *rand.Rand, p *ResourcePlan) {
	p.Lifetime, p.Results, p.CancelOnDelete = "", false, nil
	p.CustomEvents = r.IntN(2) == 0
}

// endpointEventTypes are the event types of an endpoint that asks for its own: the
// operator's and one more.
func endpointEventTypes() []string {
	return append(slices.Clone(controllers.DefaultWebhookEventTypes), "eval.run.succeeded")
}

func (endpointKind) Objects(ns string, p ResourcePlan) (client.Object, []client.Object) {
	w := &openaiv1alpha1.OpenAIWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name}}
	if p.CustomEvents {
		w.Spec.EventTypes = endpointEventTypes()
	}
	return w, nil
}

func (endpointKind) CanSearch() bool { return true }

func (endpointKind) NewList() client.ObjectList { return &openaiv1alpha1.OpenAIWebhookEndpointList{} }

func (endpointKind) Observe(obj client.Object) Observed {
	w := obj.(*openaiv1alpha1.OpenAIWebhookEndpoint)
	st := w.Status
	o := observeCommon("OpenAIWebhookEndpoint", w, workStatus{
		remoteID: st.EndpointID, observedGeneration: st.ObservedGeneration, conditions: st.Conditions,
	})
	ep := &EndpointObserved{
		EventTypes: w.Spec.EventTypes, SecretHint: st.SigningSecretHint, SecretKey: st.ReceiverSecretKey,
		RotationRequested: w.Annotations[openaiv1alpha1.RotateRequestAnnotation],
	}
	if len(ep.EventTypes) == 0 {
		ep.EventTypes = controllers.DefaultWebhookEventTypes
	}
	if c := meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionReady); c != nil {
		ep.ReadyReason = c.Reason
	}
	if c := meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionVerified); c != nil {
		ep.Verified, ep.VerifiedReason, ep.VerifiedMessage = string(c.Status), c.Reason, c.Message
	}
	if r := st.LastRotation; r != nil {
		ep.RotationReason, ep.RotationRequest, ep.Rotations = r.Reason, r.Request, r.Count
	}
	o.Endpoint = ep
	return o
}

// EndpointObserved is what an OpenAIWebhookEndpoint's spec and status say beyond the
// common fields.
type EndpointObserved struct {
	// EventTypes are the event types the spec asks for (the operator's by default).
	EventTypes []string
	// SecretHint is status.signingSecretHint; SecretKey status.receiverSecretKey.
	SecretHint, SecretKey string
	// ReadyReason is Ready's reason; Verified, VerifiedReason and VerifiedMessage are
	// Verified's status, reason and message ("" when absent).
	ReadyReason                               string
	Verified, VerifiedReason, VerifiedMessage string
	// RotationRequested is the rotate-requested-at annotation; RotationRequest,
	// RotationReason and Rotations are status.lastRotation's.
	RotationRequested, RotationRequest, RotationReason string
	Rotations                                          int64
}

// endpointOwner returns the resource name of an endpoint the operator named for a
// resource of ns ("<ns>/<name> (<uid>)", the default display name and the UID suffix).
func endpointOwner(name, ns string) (string, bool) {
	display, uid, ok := strings.Cut(name, " (")
	if !ok || !strings.HasSuffix(uid, ")") || len(uid) < 2 {
		return "", false
	}
	owner, ok := strings.CutPrefix(display, ns+"/")
	if !ok {
		return "", false
	}
	return owner, true
}

func (endpointKind) Remote(ctx context.Context, t *Truth) (map[string][]Remote, error) {
	out := map[string][]Remote{}
	pager := t.API.Webhooks.ListAutoPaging(ctx, webhooks.WebhookListParams{Limit: openai.Int(100)})
	for n := 0; pager.Next() && n < 100_000; n++ {
		ep := pager.Current()
		name, ok := endpointOwner(ep.Name, t.Namespace)
		if !ok {
			continue
		}
		out[name] = append(out[name], Remote{ID: ep.ID, Status: "active", SecretHint: ep.SigningSecretHint, EventTypes: ep.EventTypes})
	}
	return out, pager.Err()
}

// EditInput: an endpoint has no input outside the resource.
func (endpointKind) EditInput(context.Context, client.Client, string, ResourcePlan, string) error {
	return nil
}

// UserAction performs the schedule's per-resource actions in an endpoint's terms: a
// cancel requests a rotation (the rotate-requested-at annotation, which the user sets
// for one), a flip of cancelOnDelete edits spec.eventTypes (the operator's types, or
// those and one more). It reports false for the actions it leaves to the common code.
func (endpointKind) UserAction(ctx context.Context, c client.Client, obj client.Object, action, stamp string) (bool, error) {
	var patch string
	switch action {
	case ActCancel:
		patch = fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, openaiv1alpha1.RotateRequestAnnotation, stamp)
	case ActFlipCancelOnDelete:
		w := &openaiv1alpha1.OpenAIWebhookEndpoint{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), w); err != nil {
			return true, err
		}
		patch = `{"spec":{"eventTypes":null}}`
		if len(w.Spec.EventTypes) == 0 {
			patch = fmt.Sprintf(`{"spec":{"eventTypes":[%s]}}`, quoteAll(endpointEventTypes()))
		}
	default:
		return false, nil
	}
	return true, c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch)))
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ",")
}

// ArmableOps: the create most (the answer that carries the only copy of the secret),
// and the rotation (the same for a fresh secret).
func (endpointKind) ArmableOps() []string {
	return []string{opEndpointsCreate, opEndpointsCreate, opEndpointsCreate,
		"webhook_endpoints.rotate_secret", "webhook_endpoints.list", "webhook_endpoints.retrieve",
		"webhook_endpoints.test", "webhook_endpoints.delete"}
}

// BaseCalls: the adoption search, the create, a retrieve and a test (the pass after the
// secret's propagation wait), a rotation (a requested one, or after an adoption), and
// at deletion a search and the delete.
func (endpointKind) BaseCalls() int { return 7 }

// CallsPerRead: a pass of an existing endpoint reads it and, while it is not Verified,
// tests it again (with backoff, as a poll).
func (endpointKind) CallsPerRead() int { return 2 }

// Lifetime: an endpoint does no work on OpenAI's timetable; its settling is bounded by
// the controller's own waits (SettleBound adds them).
func (endpointKind) Lifetime(ResourcePlan) float64 { return 0 }

// Disagree is I5 for an endpoint (see endpointHealth in the controller).
func (endpointKind) Disagree(o *Observed) string {
	ep := o.Endpoint
	switch {
	case o.Complete || o.Failed:
		return fmt.Sprintf("Complete=%v, Failed=%v on an endpoint", o.Complete, o.Failed)
	case ep == nil || ep.ReadyReason == "":
		// No Ready yet: nothing for kstatus to read either.
	case o.Ready && (o.Reconciling || o.Stalled):
		return fmt.Sprintf("Ready=True with Reconciling=%v, Stalled=%v", o.Reconciling, o.Stalled)
	case o.Ready:
	case ep.ReadyReason == openaiv1alpha1.ReasonRejected || ep.ReadyReason == openaiv1alpha1.ReasonNoURL:
		if !o.Stalled || o.Reconciling {
			return fmt.Sprintf("Ready=False (%s, waiting on the user) with Stalled=%v, Reconciling=%v", ep.ReadyReason, o.Stalled, o.Reconciling)
		}
	case !o.Reconciling || o.Stalled:
		return fmt.Sprintf("Ready=False (%s) with Reconciling=%v, Stalled=%v", ep.ReadyReason, o.Reconciling, o.Stalled)
	}
	return ""
}

// Unsettled is I7 for an endpoint, live or gone (see endpointKind).
func (endpointKind) Unsettled(s *Snapshot, r *ResourceState) string {
	l, keys := r.Live, r.ReceiverKeys
	if l == nil {
		if keys.Current != "" || keys.Previous != "" {
			return fmt.Sprintf("deleted, but the receiver's Secret still holds its keys (current %q, previous %q)", keys.Current, keys.Previous)
		}
		return ""
	}
	if l.Deleting {
		return "" // the common check reports it
	}
	ep := l.Endpoint
	if l.ObservedGeneration != l.Generation {
		return fmt.Sprintf("status.observedGeneration %d behind metadata.generation %d", l.ObservedGeneration, l.Generation)
	}
	if ep.ReadyReason == openaiv1alpha1.ReasonRejected && refusedSubmission(r) {
		return "" // OpenAI refused the spec: Stalled until the user changes it, as documented
	}
	if len(r.Remote) != 1 {
		return fmt.Sprintf("OpenAI holds %d endpoints for it (%s), not one", len(r.Remote), remoteList(r.Remote))
	}
	remote := r.Remote[0]
	switch {
	case l.RemoteID != remote.ID:
		return fmt.Sprintf("status.endpointID %q, but OpenAI's endpoint for it is %s", l.RemoteID, remote.ID)
	case !sameStrings(remote.EventTypes, ep.EventTypes):
		return fmt.Sprintf("%s delivers %v, not the %v the spec asks for", remote.ID, remote.EventTypes, ep.EventTypes)
	case !l.Ready:
		return fmt.Sprintf("Ready is not True (reason %s)", orNone(ep.ReadyReason))
	case keys.Current == "":
		return "the receiver's Secret has no key for it"
	case keys.Current != remote.SecretHint:
		return fmt.Sprintf("the receiver's Secret holds a secret (%s) OpenAI does not sign %s with (%s)", keys.Current, remote.ID, remote.SecretHint)
	case ep.SecretHint != remote.SecretHint:
		return fmt.Sprintf("status.signingSecretHint %s, but OpenAI's is %s", ep.SecretHint, remote.SecretHint)
	case ep.RotationRequested != "" && ep.RotationRequest != ep.RotationRequested:
		return fmt.Sprintf("the rotation requested at %s is not answered (last rotation: %q)", ep.RotationRequested, ep.RotationRequest)
	case r.Calls.LostCreates > 0 && ep.Rotations == 0:
		return "the manager crashed after OpenAI created the endpoint, before the secret was written, but the adopted endpoint's secret was never rotated"
	case s.Receiver && ep.Verified != string(metav1.ConditionTrue):
		return fmt.Sprintf("Verified is %s (%s: %s), though the receiver runs", orNone(ep.Verified), ep.VerifiedReason, ep.VerifiedMessage)
	case !s.Receiver && (ep.Verified != string(metav1.ConditionFalse) || ep.VerifiedReason != openaiv1alpha1.ReasonUnreachable):
		return fmt.Sprintf("Verified is %s (%s), though nothing listens at its URL (want False, Unreachable)", orNone(ep.Verified), ep.VerifiedReason)
	}
	return ""
}

// refusedSubmission reports whether OpenAI refused a create or an update of r's
// endpoint as invalid (400 or 422).
func refusedSubmission(r *ResourceState) bool {
	return slices.Contains(r.Calls.CreateRefusals, 400) || slices.Contains(r.Calls.CreateRefusals, 422)
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// secretHint is OpenAI's signing_secret_hint of a stored signing secret: its prefix and
// the first and last four characters of its key (see docs/OPENAI.md); a value that is
// no signing secret at all hints as "(not a signing secret)".
func secretHint(stored []byte) string {
	sec, err := standardwebhooks.ParseSecret(strings.TrimSpace(string(stored)))
	if err != nil {
		return "(not a signing secret)"
	}
	enc := sec.Encode()
	key := enc[len(standardwebhooks.SecretPrefix):]
	if len(key) < 8 {
		return "(not a signing secret)"
	}
	return standardwebhooks.SecretPrefix + key[:4] + "..." + key[len(key)-4:]
}
