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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

const receiverSecretName = "openai-webhook-secret"

// endpointOptions are testOptions with the webhook endpoint timings shortened.
func endpointOptions() Options {
	opts := testOptions()
	opts.Webhooks = WebhookEndpointOptions{
		SecretOverlap:     2 * time.Second,
		SecretPropagation: 100 * time.Millisecond,
		VerifyInterval:    time.Hour,
		TestRetryMin:      100 * time.Millisecond,
		TestRetryMax:      time.Second,
	}
	return opts
}

// receiverKeys returns the receiver's Secret, as the receiver would load it.
func (f *fixture) receiverKeys() map[string][]byte {
	sec := &corev1.Secret{}
	if err := f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: receiverSecretName}, sec); err != nil {
		return nil
	}
	return sec.Data
}

// startSecretReceiver runs a mini receiver that verifies with every key of the receiver's
// Secret, read afresh on each request: a receiver that picks up new secrets at once.
func (f *fixture) startSecretReceiver() *miniReceiver {
	return f.newMiniReceiver(func() []standardwebhooks.Secret {
		var out []standardwebhooks.Secret
		for _, v := range f.receiverKeys() {
			if s, err := standardwebhooks.ParseSecret(string(v)); err == nil {
				out = append(out, s)
			}
		}
		return out
	})
}

func (f *fixture) endpoint(name string) *openaiv1alpha1.OpenAIWebhookEndpoint {
	return &openaiv1alpha1.OpenAIWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}}
}

func (f *fixture) getEndpoint(name string) *openaiv1alpha1.OpenAIWebhookEndpoint {
	ep := f.endpoint(name)
	f.g.Expect(f.c.Get(f.ctx, client.ObjectKeyFromObject(ep), ep)).To(Succeed())
	return ep
}

// endpointCondition reads a condition of the named endpoint, for Eventually.
func (f *fixture) endpointCondition(name, typ string) func() *metav1.Condition {
	return func() *metav1.Condition {
		ep := f.endpoint(name)
		if err := f.c.Get(f.ctx, client.ObjectKeyFromObject(ep), ep); err != nil {
			return nil
		}
		return meta.FindStatusCondition(ep.Status.Conditions, typ)
	}
}

// postSigned sends a webhook delivery signed with secret alone to url and returns the
// status code.
func postSigned(g Gomega, url, secret string) int {
	s, err := standardwebhooks.ParseSecret(secret)
	g.Expect(err).NotTo(HaveOccurred())
	body := []byte(`{"id":"evt_test","object":"event","created_at":1750861210,"type":"batch.completed","data":{"id":"batch_nobody"}}`)
	now := time.Now()
	id := fmt.Sprintf("wh_%d", now.UnixNano())
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	g.Expect(err).NotTo(HaveOccurred())
	standardwebhooks.Headers{ID: id, Timestamp: fmt.Sprint(now.Unix()), Signature: s.Sign(id, now, body)}.Set(req.Header)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	return resp.StatusCode
}

// failingWrites fails the creates and updates that fail chooses, as a crash would.
type failingWrites struct {
	client.Client
	fail func(client.Object) error
}

func (c failingWrites) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.fail(obj); err != nil {
		return err
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c failingWrites) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.fail(obj); err != nil {
		return err
	}
	return c.Client.Update(ctx, obj, opts...)
}

// The whole life of an endpoint against the real API server and the emulator: created
// and Verified, a batch completes by its webhook, a rotation keeps both secrets
// accepted during the overlap and only the new one after, and deletion removes the
// endpoint on OpenAI and its keys.
func TestWebhookEndpointLifecycle(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = time.Hour, time.Hour // only webhooks can complete the batch
	f := newFixture(t, fixtureOptions{noManager: true, emulator: emulator.Options{RotationOverlap: 2 * time.Second}})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL + "/openai/webhook"
	f.startManager(opts, nil)

	// An empty spec: every default.
	f.create(f.endpoint("hooks"))
	f.g.Eventually(f.endpointCondition("hooks", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonDelivered))
	ep := f.getEndpoint("hooks")
	st := ep.Status
	f.g.Expect(st.EndpointID).To(HavePrefix("whe_"))
	f.g.Expect(st.URL).To(Equal(opts.Webhooks.ReceiverURL))
	f.g.Expect(st.EventTypes).To(ConsistOf(DefaultWebhookEventTypes))
	f.g.Expect(st.SigningSecretHint).To(HavePrefix("whsec_"))
	f.g.Expect(st.ReceiverSecretKey).To(Equal(f.ns + "_hooks"))
	f.g.Expect(st.LastTest).NotTo(BeNil())
	f.g.Expect(st.LastTest.StatusCode).To(BeEquivalentTo(http.StatusOK))
	f.g.Expect(st.LastTest.EventType).To(Equal("batch.completed"))
	f.g.Expect(meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionReady)).To(haveStatus(metav1.ConditionTrue,
		openaiv1alpha1.ReasonConfigured))
	f.g.Expect(meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionReconciling)).To(BeNil(), "kstatus: Current")
	f.g.Expect(meta.FindStatusCondition(st.Conditions, openaiv1alpha1.ConditionStalled)).To(BeNil(), "kstatus: Current")
	f.g.Expect(st.ObservedGeneration).To(Equal(ep.Generation))

	// The secret went to the receiver's Secret only: never to this namespace's objects.
	keys := f.receiverKeys()
	f.g.Expect(keys).To(HaveLen(1))
	first := string(keys[f.ns+"_hooks"])
	f.g.Expect(first).To(HavePrefix("whsec_"))
	raw, _ := json.Marshal(ep)
	f.g.Expect(string(raw)).NotTo(ContainSubstring(strings.TrimPrefix(first, "whsec_")))
	for _, e := range f.events("hooks") {
		f.g.Expect(e.Note).NotTo(ContainSubstring(strings.TrimPrefix(first, "whsec_")))
	}
	f.g.Eventually(f.reasons("hooks"), 10*time.Second, 50*time.Millisecond).Should(ContainElements("Created", "Verified"))

	// On OpenAI: one endpoint, named with the resource's UID, with that one secret.
	remote, err := f.sdk().Webhooks.Get(f.ctx, st.EndpointID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.Name).To(Equal(f.ns + "/hooks (" + string(ep.UID) + ")"))
	f.g.Expect(f.emu.WebhookEndpoints()).To(ConsistOf(HaveField("ActiveSecrets", 1)))

	// A batch of the project completes by its webhook alone (polling is an hour away).
	b := f.batch("hooked", 2, "text-embedding-3-small")
	f.create(b)
	f.g.Eventually(f.condition(b, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("hooked").Status.LastWebhookEvent).NotTo(BeNil())
	f.g.Expect(f.emu.Stats().Webhooks).To(ContainElement(And(HaveField("EndpointID", st.EndpointID), HaveField("Type", "batch.completed"),
		HaveField("State", emulator.DeliveryDelivered), HaveField("Test", false))))

	// Rotation on request: both secrets are accepted during the overlap...
	ep.Annotations = map[string]string{openaiv1alpha1.RotateRequestAnnotation: "leak-drill-1"}
	f.g.Expect(f.c.Update(f.ctx, ep)).To(Succeed())
	f.g.Eventually(func() int64 { return rotationCount(&f.getEndpoint("hooks").Status) }, 10*time.Second, 20*time.Millisecond).Should(Equal(int64(1)))
	rotated := f.getEndpoint("hooks").Status
	f.g.Expect(rotated.LastRotation.Reason).To(Equal("Requested"))
	f.g.Expect(rotated.LastRotation.Request).To(Equal("leak-drill-1"))
	f.g.Expect(rotated.LastRotation.PreviousSecretExpiresAt).NotTo(BeNil())
	f.g.Expect(rotated.SigningSecretHint).NotTo(Equal(st.SigningSecretHint))
	keys = f.receiverKeys()
	second := string(keys[f.ns+"_hooks"])
	f.g.Expect(second).NotTo(Equal(first))
	f.g.Expect(string(keys[f.ns+"_hooks_previous"])).To(Equal(first))
	url := mr.srv.URL + "/openai/webhook"
	f.g.Expect(postSigned(f.g, url, first)).To(Equal(http.StatusOK), "the old secret is accepted during the overlap")
	f.g.Expect(postSigned(f.g, url, second)).To(Equal(http.StatusOK))
	f.g.Eventually(f.reasons("hooks"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Rotated"))

	// ...and only the new one after it; the current secret alone is tested again.
	f.g.Eventually(func() *metav1.Time { return f.getEndpoint("hooks").Status.LastRotation.PreviousSecretExpiresAt }, 10*time.Second,
		20*time.Millisecond).Should(BeNil())
	f.g.Expect(f.receiverKeys()).To(HaveLen(1))
	f.g.Expect(postSigned(f.g, url, first)).To(Equal(http.StatusUnauthorized), "the old secret is refused after the overlap")
	f.g.Expect(postSigned(f.g, url, second)).To(Equal(http.StatusOK))
	f.g.Eventually(func() bool {
		s := f.getEndpoint("hooks").Status
		v := meta.FindStatusCondition(s.Conditions, openaiv1alpha1.ConditionVerified)
		return v != nil && v.Status == metav1.ConditionTrue && !s.LastTest.Time.Time.Before(rotated.LastRotation.PreviousSecretExpiresAt.Time)
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	tests := 0
	for _, d := range f.emu.Stats().Webhooks {
		if d.Test {
			tests++
			f.g.Expect(d.LastStatus).To(Equal(http.StatusOK))
		}
	}
	f.g.Expect(tests).To(Equal(2), "one test after creation, one after the overlap; none while both secrets sign")

	// Deletion removes the endpoint on OpenAI and both keys.
	f.g.Expect(f.c.Delete(f.ctx, f.endpoint("hooks"))).To(Succeed())
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "hooks"}, f.endpoint("hooks")))
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	f.g.Expect(f.emu.WebhookEndpoints()).To(BeEmpty())
	f.g.Expect(f.receiverKeys()).To(BeEmpty())
}

// A crash after OpenAI answered the create call but before the secret was written loses
// that secret for good: a restarted manager adopts the endpoint by listing (no second
// one is created) and rotates at once to get a fresh secret.
func TestWebhookEndpointCrashBeforeTheSecretWasWrittenAdoptsAndRotates(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	f := newFixture(t, fixtureOptions{noManager: true})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL
	var crashed atomic.Bool
	var stopFirst func()
	stopFirst = f.startManager(opts, func(c client.Client) client.Client {
		fail := func(obj client.Object) error {
			if _, ok := obj.(*corev1.Secret); ok && obj.GetName() == receiverSecretName && crashed.CompareAndSwap(false, true) {
				go stopFirst()
			}
			if crashed.Load() {
				return fmt.Errorf("simulated crash before the signing secret was written")
			}
			return nil
		}
		return failingWrites{Client: c, fail: fail}
	})
	f.create(f.endpoint("crashy"))
	f.g.Eventually(crashed.Load, 20*time.Second, 20*time.Millisecond).Should(BeTrue())
	stopFirst()
	f.g.Expect(f.emu.Calls(emulator.OpWebhookEndpointsCreate)).To(Equal(int64(1)))
	f.g.Expect(f.receiverKeys()).To(BeEmpty(), "the secret OpenAI returned was never stored")
	f.g.Expect(f.getEndpoint("crashy").Status.EndpointID).To(BeEmpty())

	// A new process adopts the endpoint and rotates its secret at once.
	f.startManager(opts, nil)
	f.g.Eventually(f.endpointCondition("crashy", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	st := f.getEndpoint("crashy").Status
	f.g.Expect(f.emu.Calls(emulator.OpWebhookEndpointsCreate)).To(Equal(int64(1)), "no second endpoint may be created")
	f.g.Expect(f.emu.WebhookEndpoints()).To(ConsistOf(HaveField("ID", st.EndpointID)))
	f.g.Expect(f.emu.Calls(emulator.OpWebhookEndpointsRotateSecret)).To(Equal(int64(1)))
	f.g.Expect(st.LastRotation).NotTo(BeNil())
	f.g.Expect(st.LastRotation.Reason).To(Equal("SecretLost"))
	f.g.Expect(st.LastRotation.PreviousSecretExpiresAt).To(BeNil(), "nothing held the lost secret: it stops at once")
	f.g.Expect(f.receiverKeys()).To(HaveKey(f.ns + "_crashy"))
	f.g.Eventually(f.reasons("crashy"), 10*time.Second, 50*time.Millisecond).Should(ContainElements("Adopted", "Rotated", "Verified"))
}

// spec.rotation.every rotates the signing secret on schedule: counted from when the
// current secret was written, keeping the old one accepted for the overlap, and never
// while a previous overlap runs. The schedule's shortest period is an hour, so the test
// ages the secret instead of waiting: it moves status.secretWrittenAt back while the
// manager is stopped, as a manager that was down when the rotation fell due would find.
func TestWebhookEndpointRotatesOnSchedule(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	opts.Webhooks.SecretOverlap = time.Hour // long enough to see the overlap hold the next rotation
	f := newFixture(t, fixtureOptions{noManager: true})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL + "/openai/webhook"
	stop := f.startManager(opts, nil)
	ep := f.endpoint("scheduled")
	ep.Spec.Rotation = &openaiv1alpha1.WebhookRotation{Every: metav1.Duration{Duration: 2 * time.Hour}}
	f.create(ep)
	f.g.Eventually(f.endpointCondition("scheduled", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	first := string(f.receiverKeys()[f.ns+"_scheduled"])
	f.g.Expect(f.emu.Calls(emulator.OpWebhookEndpointsRotateSecret)).To(BeZero(), "not due for two hours")

	// Two hours and a minute later (as far as the status can tell), a new manager rotates.
	age := func(by time.Duration) {
		stop()
		cur := f.getEndpoint("scheduled")
		older := metav1.NewMicroTime(cur.Status.SecretWrittenAt.Add(-by))
		cur.Status.SecretWrittenAt = &older
		f.g.Expect(f.c.Status().Update(f.ctx, cur)).To(Succeed())
		stop = f.startManager(opts, nil)
	}
	age(2*time.Hour + time.Minute)
	f.g.Eventually(func() int64 { return rotationCount(&f.getEndpoint("scheduled").Status) }, 10*time.Second, 20*time.Millisecond).
		Should(Equal(int64(1)))
	st := f.getEndpoint("scheduled").Status
	f.g.Expect(st.LastRotation.Reason).To(Equal("Scheduled"))
	f.g.Expect(st.LastRotation.PreviousSecretExpiresAt).NotTo(BeNil())
	f.g.Expect(st.LastRotation.PreviousSecretExpiresAt.Sub(st.LastRotation.Time.Time)).To(Equal(time.Hour))
	keys := f.receiverKeys()
	second := string(keys[f.ns+"_scheduled"])
	f.g.Expect(second).NotTo(Equal(first))
	f.g.Expect(string(keys[f.ns+"_scheduled_previous"])).To(Equal(first), "the old secret stays accepted for the overlap")
	url := mr.srv.URL + "/openai/webhook"
	f.g.Expect(postSigned(f.g, url, first)).To(Equal(http.StatusOK))
	f.g.Expect(postSigned(f.g, url, second)).To(Equal(http.StatusOK))
	f.g.Eventually(f.reasons("scheduled"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Rotated"))

	// Due again by the schedule, but the overlap of the last rotation still runs: no
	// rotation until it has ended.
	age(2*time.Hour + time.Minute)
	f.g.Consistently(func() int64 { return f.emu.Calls(emulator.OpWebhookEndpointsRotateSecret) }, time.Second, 50*time.Millisecond).
		Should(Equal(int64(1)))
	f.g.Expect(rotationCount(&f.getEndpoint("scheduled").Status)).To(Equal(int64(1)))
}

// Once an endpoint of a project is Verified, the project's first batch already polls on
// the webhook schedule: it is read once, when its event arrives.
func TestWebhookEndpointVerifiedPutsTheProjectOnTheWebhookSchedule(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	opts.WebhookPollIntervalMin, opts.WebhookPollIntervalMax, opts.WebhookTrustWindow = time.Hour, time.Hour, time.Hour
	// The batch takes about 2 s: the short schedule (from 100 ms) would read it several times.
	f := newFixture(t, fixtureOptions{noManager: true, emulator: emulator.Options{TimeScale: 0.5}})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL
	f.startManager(opts, nil)
	f.create(f.endpoint("hooks"))
	f.g.Eventually(f.endpointCondition("hooks", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))

	first := f.batch("first", 3, "text-embedding-3-small")
	f.create(first)
	f.g.Eventually(f.condition(first, openaiv1alpha1.ConditionComplete), 30*time.Second, 20*time.Millisecond).Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getBatch("first").Status.LastWebhookEvent).NotTo(BeNil())
	f.g.Expect(f.emu.Calls("batches.retrieve")).To(Equal(int64(1)), "one read, triggered by the webhook: no poll on the short schedule")
}

// Verified=False says what the test's status code suggests, and the controller retries
// until the receiver accepts.
func TestWebhookEndpointNotVerifiedSaysWhyAndRetries(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	f := newFixture(t, fixtureOptions{noManager: true})
	var loaded atomic.Bool // the receiver has not loaded any secret yet: it answers 503
	real := f.startSecretReceiver()
	mr := f.newMiniReceiver(func() []standardwebhooks.Secret {
		if !loaded.Load() {
			return nil
		}
		s, _ := standardwebhooks.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") // another secret: 401
		return []standardwebhooks.Secret{s}
	})
	opts.Webhooks.ReceiverURL = mr.srv.URL + "/openai/webhook"
	f.startManager(opts, nil)
	f.create(f.endpoint("hooks"))
	f.g.Eventually(f.endpointCondition("hooks", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonReceiverUnavailable))
	f.g.Expect(f.getEndpoint("hooks").Status.LastTest.StatusCode).To(BeEquivalentTo(http.StatusServiceUnavailable))

	loaded.Store(true)
	f.g.Eventually(f.endpointCondition("hooks", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonSignatureRejected))
	f.g.Expect(f.endpointCondition("hooks", openaiv1alpha1.ConditionVerified)().Message).To(ContainSubstring("answered 401"))

	// Pointing the endpoint at a receiver with the right secret fixes it.
	ep := f.getEndpoint("hooks")
	ep.Spec.URL = real.srv.URL + "/openai/webhook"
	f.g.Expect(f.c.Update(f.ctx, ep)).To(Succeed())
	f.g.Eventually(f.endpointCondition("hooks", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(f.getEndpoint("hooks").Status.URL).To(Equal(ep.Spec.URL))
	remote, err := f.sdk().Webhooks.Get(f.ctx, ep.Status.EndpointID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.URL).To(Equal(ep.Spec.URL))
	reasons := eventReasons(f.events("hooks"))
	f.g.Expect(reasons).To(ContainElements("ReceiverUnavailable", "SignatureRejected", "Updated", "Verified"))
}

// Without a URL in the spec or from the manager, the endpoint waits and says what to set;
// OpenAI is never called.
func TestWebhookEndpointWithoutURLSaysWhatToSet(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{opts: endpointOptions()})
	f.create(f.endpoint("nowhere"))
	f.g.Eventually(f.endpointCondition("nowhere", openaiv1alpha1.ConditionReady), 10*time.Second, 20*time.Millisecond).
		Should(And(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonNoURL), HaveField("Message", ContainSubstring("--webhook-receiver-url"))))
	f.g.Expect(f.endpointCondition("nowhere", openaiv1alpha1.ConditionStalled)()).To(haveStatus(metav1.ConditionTrue, openaiv1alpha1.ReasonNoURL),
		"kstatus: Failed until someone sets a URL")
	f.g.Expect(f.endpointCondition("nowhere", openaiv1alpha1.ConditionReconciling)()).To(BeNil())
	f.g.Expect(totalCalls(f.emu.Stats().Calls)).To(BeZero())
}

// The spec drives the endpoint on OpenAI: event types, display name and URL changes are
// applied, and an endpoint deleted on OpenAI behind the operator's back is created again.
func TestWebhookEndpointFollowsTheSpec(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	f := newFixture(t, fixtureOptions{noManager: true})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL
	f.startManager(opts, nil)
	ep := f.endpoint("custom")
	ep.Spec.EventTypes = []string{"response.completed"}
	ep.Spec.DisplayName = "team A"
	f.create(ep)
	f.g.Eventually(f.endpointCondition("custom", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	ep = f.getEndpoint("custom")
	f.g.Expect(ep.Status.EventTypes).To(Equal([]string{"response.completed"}))
	f.g.Expect(ep.Status.LastTest.EventType).To(Equal("response.completed"))
	remote, err := f.sdk().Webhooks.Get(f.ctx, ep.Status.EndpointID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.Name).To(Equal("team A (" + string(ep.UID) + ")"))

	ep.Spec.EventTypes = []string{"response.completed", "response.failed"}
	f.g.Expect(f.c.Update(f.ctx, ep)).To(Succeed())
	f.g.Eventually(func() []string { return f.getEndpoint("custom").Status.EventTypes }, 10*time.Second, 20*time.Millisecond).
		Should(ConsistOf("response.completed", "response.failed"))
	remote, err = f.sdk().Webhooks.Get(f.ctx, ep.Status.EndpointID)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(remote.EventTypes).To(ConsistOf("response.completed", "response.failed"))

	// Deleted on OpenAI: the next pass (a spec change here) creates it again, with a new secret.
	_, err = f.sdk().Webhooks.Delete(f.ctx, ep.Status.EndpointID)
	f.g.Expect(err).NotTo(HaveOccurred())
	oldKey := string(f.receiverKeys()[f.ns+"_custom"])
	ep = f.getEndpoint("custom")
	ep.Spec.DisplayName = "team A, again"
	f.g.Expect(f.c.Update(f.ctx, ep)).To(Succeed())
	f.g.Eventually(func() string { return f.getEndpoint("custom").Status.EndpointID }, 10*time.Second, 20*time.Millisecond).
		ShouldNot(Equal(ep.Status.EndpointID))
	f.g.Eventually(f.endpointCondition("custom", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	f.g.Expect(string(f.receiverKeys()[f.ns+"_custom"])).NotTo(Equal(oldKey))
	f.g.Expect(f.emu.WebhookEndpoints()).To(ConsistOf(HaveField("Name", HavePrefix("team A, again ("))))
	f.g.Eventually(f.reasons("custom"), 10*time.Second, 50*time.Millisecond).Should(ContainElements("EndpointVanished", "Updated"))
}

// A 404 to reading the endpoint that OpenAI's list of the project contradicts (a
// passing error) creates nothing: the endpoint is still there, found by its name, and
// a second one would deliver every event twice, signed with a secret nobody stored.
func TestWebhookEndpointPassing404CreatesNoSecondEndpoint(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	f := newFixture(t, fixtureOptions{noManager: true})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL
	f.startManager(opts, nil)
	f.create(f.endpoint("steady"))
	f.g.Eventually(f.endpointCondition("steady", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	id := f.getEndpoint("steady").Status.EndpointID
	key := string(f.receiverKeys()[f.ns+"_steady"])

	// The next pass (a spec change) reads the endpoint and gets a 404 once.
	f.g.Expect(f.emu.Inject(emulator.Injection{Op: emulator.OpWebhookEndpointsRetrieve, Fault: emulator.FaultNotFound, Count: 1})).To(Succeed())
	ep := f.getEndpoint("steady")
	ep.Spec.EventTypes = []string{"batch.completed"}
	f.g.Expect(f.c.Update(f.ctx, ep)).To(Succeed())
	f.g.Eventually(func() []string { return f.getEndpoint("steady").Status.EventTypes }, 10*time.Second, 20*time.Millisecond).
		Should(Equal([]string{"batch.completed"}))
	f.g.Expect(f.emu.Injections()).To(BeEmpty(), "the 404 was answered")
	f.g.Expect(f.emu.Calls(emulator.OpWebhookEndpointsCreate)).To(Equal(int64(1)), "no second endpoint may be created")
	f.g.Expect(f.emu.WebhookEndpoints()).To(ConsistOf(HaveField("ID", id)))
	f.g.Expect(f.getEndpoint("steady").Status.EndpointID).To(Equal(id))
	f.g.Expect(string(f.receiverKeys()[f.ns+"_steady"])).To(Equal(key), "the stored secret is still the endpoint's")
}

// A rejected spec (an event type OpenAI does not know) fails terminally with OpenAI's
// message and is not retried until the spec changes.
func TestWebhookEndpointRejectedByOpenAI(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	opts.Webhooks.ReceiverURL = "https://hooks.example.com/openai/webhook"
	f := newFixture(t, fixtureOptions{opts: opts})
	ep := f.endpoint("typo")
	ep.Spec.EventTypes = []string{"batch.complete"}
	f.create(ep)
	f.g.Eventually(f.endpointCondition("typo", openaiv1alpha1.ConditionReady), 10*time.Second, 20*time.Millisecond).
		Should(And(haveStatus(metav1.ConditionFalse, openaiv1alpha1.ReasonRejected), HaveField("Message", ContainSubstring("batch.complete"))))
	f.g.Consistently(func() int64 { return f.emu.Calls(emulator.OpWebhookEndpointsCreate) }, time.Second, 50*time.Millisecond).Should(Equal(int64(1)))
	f.g.Expect(f.emu.WebhookEndpoints()).To(BeEmpty())
}

// Deletion without credentials does not hang: the keys go, and a Warning says what may
// remain on OpenAI.
func TestWebhookEndpointDeletionWithoutCredentials(t *testing.T) {
	t.Parallel()
	opts := endpointOptions()
	f := newFixture(t, fixtureOptions{noManager: true})
	mr := f.startSecretReceiver()
	opts.Webhooks.ReceiverURL = mr.srv.URL
	stop := f.startManager(opts, nil)
	f.create(f.endpoint("orphan"))
	f.g.Eventually(f.endpointCondition("orphan", openaiv1alpha1.ConditionVerified), 30*time.Second, 20*time.Millisecond).
		Should(haveStatus(metav1.ConditionTrue))
	// The credentials go away, and the manager restarts (so it has no recent read of them).
	stop()
	f.g.Expect(f.c.Delete(f.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "openai-credentials"}})).To(Succeed())
	f.startManager(opts, nil)
	f.g.Expect(f.c.Delete(f.ctx, f.endpoint("orphan"))).To(Succeed())
	f.g.Eventually(func() bool {
		return apierrors.IsNotFound(f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "orphan"}, f.endpoint("orphan")))
	}, 15*time.Second, 20*time.Millisecond).Should(BeTrue())
	f.g.Expect(f.receiverKeys()).To(BeEmpty(), "the receiver stops accepting the secret whatever happens on OpenAI")
	f.g.Eventually(f.reasons("orphan"), 10*time.Second, 50*time.Millisecond).Should(ContainElement("CleanupAbandoned"))
	f.g.Expect(f.emu.WebhookEndpoints()).To(HaveLen(1), "without credentials the endpoint stays on OpenAI, as the Warning says")
}

func TestReceiverSecretKeysAreUnambiguous(t *testing.T) {
	g := NewWithT(t)
	// Namespaces are DNS labels and names DNS subdomains: neither has "_".
	g.Expect(ReceiverSecretKey("team-a", "hooks.v2")).To(Equal("team-a_hooks.v2"))
	g.Expect(PreviousReceiverSecretKey("team-a", "hooks.v2")).To(Equal("team-a_hooks.v2_previous"))
	long := strings.Repeat("n", 63)
	name := strings.Repeat("a", openaiv1alpha1.MaxWebhookEndpointNameLength)
	g.Expect(len(PreviousReceiverSecretKey(long, name))).To(BeNumerically("<=", 253), "a Secret key holds at most 253 characters")
	g.Expect(ReceiverSecretKey("a-b", "c")).NotTo(Equal(ReceiverSecretKey("a", "b-c")))
}
