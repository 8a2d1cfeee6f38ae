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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

const (
	testHint  = "whsec_abcd...wxyz"
	otherHint = "whsec_0000...9999"
)

// settledEndpoints is a snapshot of a seed with a receiver where every invariant holds:
// a Verified endpoint whose secret is in the receiver's Secret, and an endpoint deleted
// with its endpoint and keys gone.
func settledEndpoints() *Snapshot {
	t0 := time.Now()
	types := controllers.DefaultWebhookEventTypes
	return &Snapshot{
		Namespace: "ns", Receiver: true, Refused: map[string]refusals{},
		Bounds: Bounds{PollMin: 250 * time.Millisecond, PollMax: 2 * time.Second,
			BackoffMin: 250 * time.Millisecond, BackoffMax: 2 * time.Second, Workers: 8},
		Resources: []*ResourceState{
			{
				Plan: ResourcePlan{Name: "w0", Kind: "OpenAIWebhookEndpoint"}, Kind: endpointKind{}, Created: true,
				Live: &Observed{Kind: "OpenAIWebhookEndpoint", Name: "w0", Generation: 1, ObservedGeneration: 1, RemoteID: "whe_1", CancelOnDelete: true,
					Ready: true, Endpoint: &EndpointObserved{EventTypes: types, SecretHint: testHint, ReadyReason: openaiv1alpha1.ReasonConfigured,
						Verified: string(metav1.ConditionTrue), VerifiedReason: openaiv1alpha1.ReasonDelivered}},
				Remote:       []Remote{{ID: "whe_1", Status: "active", SecretHint: testHint, EventTypes: types}},
				ReceiverKeys: ReceiverKeys{Current: testHint},
				Events:       map[string]int{},
				Calls:        CallStats{Calls: 4, ByOp: map[string]int{}, Faults: map[Fault]int{}, First: t0, Last: t0.Add(time.Second)},
			},
			{
				Plan: ResourcePlan{Name: "w1", Kind: "OpenAIWebhookEndpoint"}, Kind: endpointKind{}, Created: true, Deleted: &Deletion{},
				Events: map[string]int{},
				Calls:  CallStats{Calls: 6, ByOp: map[string]int{}, Faults: map[Fault]int{}, First: t0, Last: t0.Add(time.Second)},
			},
		},
	}
}

func TestCheckPassesSettledEndpoints(t *testing.T) {
	NewWithT(t).Expect(Check(settledEndpoints())).To(BeEmpty())
}

// TestCheckFindsEachEndpointViolation breaks a settled snapshot of endpoints in one way
// at a time: each break is reported as its invariant, and each allowed state is not.
func TestCheckFindsEachEndpointViolation(t *testing.T) {
	w0 := func(s *Snapshot) *ResourceState { return s.resource("w0") }
	w1 := func(s *Snapshot) *ResourceState { return s.resource("w1") }
	cases := map[string]struct {
		break_ func(s *Snapshot)
		want   []string
	}{
		"a second endpoint for one resource": {func(s *Snapshot) {
			w0(s).Remote = append(w0(s).Remote, Remote{ID: "whe_2", Status: "active", SecretHint: otherHint, EventTypes: w0(s).Remote[0].EventTypes})
		}, []string{I1, I7}},
		"an endpoint left after the resource was deleted": {func(s *Snapshot) {
			w1(s).Remote = []Remote{{ID: "whe_3", Status: "active"}}
		}, []string{I2}},
		"an endpoint left after a cleanup given up without credentials, announced": {func(s *Snapshot) {
			w1(s).Remote = []Remote{{ID: "whe_3", Status: "active"}}
			w1(s).Deleted.CredentialsMissing = true
			w1(s).Events["CleanupAbandoned"] = 1
		}, nil},
		"the key left in the receiver's Secret after deletion": {func(s *Snapshot) {
			w1(s).ReceiverKeys = ReceiverKeys{Current: otherHint}
		}, []string{I7}},
		"the previous key left after deletion": {func(s *Snapshot) {
			w1(s).ReceiverKeys = ReceiverKeys{Previous: otherHint}
		}, []string{I7}},
		"no endpoint on OpenAI for a live resource": {func(s *Snapshot) {
			w0(s).Remote = nil
		}, []string{I7}},
		"status names another endpoint": {func(s *Snapshot) {
			w0(s).Live.RemoteID = "whe_9"
		}, []string{I7}},
		"the event types the spec asks for not delivered": {func(s *Snapshot) {
			w0(s).Live.Endpoint.EventTypes = append(endpointEventTypes(), "video.failed")
		}, []string{I7}},
		"no key in the receiver's Secret": {func(s *Snapshot) {
			w0(s).ReceiverKeys = ReceiverKeys{}
		}, []string{I7}},
		"a secret in the receiver's Secret that OpenAI does not sign with": {func(s *Snapshot) {
			w0(s).ReceiverKeys = ReceiverKeys{Current: otherHint}
		}, []string{I7}},
		"the previous secret kept beside the current one": {func(s *Snapshot) {
			w0(s).ReceiverKeys.Previous = otherHint
		}, nil},
		"status's hint is not OpenAI's": {func(s *Snapshot) {
			w0(s).Live.Endpoint.SecretHint = otherHint
		}, []string{I7}},
		"Ready not True": {func(s *Snapshot) {
			w0(s).Live.Ready, w0(s).Live.Reconciling = false, true
			w0(s).Live.Endpoint.ReadyReason = openaiv1alpha1.ReasonReceiverSecretFailed
		}, []string{I7}},
		"observedGeneration behind": {func(s *Snapshot) {
			w0(s).Live.Generation = 2
		}, []string{I7}},
		"a requested rotation not answered": {func(s *Snapshot) {
			w0(s).Live.Endpoint.RotationRequested = "now"
		}, []string{I7}},
		"a requested rotation answered": {func(s *Snapshot) {
			w0(s).Live.Endpoint.RotationRequested, w0(s).Live.Endpoint.RotationRequest = "now", "now"
			w0(s).Live.Endpoint.Rotations = 1
		}, nil},
		"a lost create answer not followed by a rotation": {func(s *Snapshot) {
			w0(s).Calls.LostCreates = 1
		}, []string{I7}},
		"a lost create answer followed by a rotation": {func(s *Snapshot) {
			w0(s).Calls.LostCreates = 1
			w0(s).Live.Endpoint.Rotations, w0(s).Live.Endpoint.RotationReason = 1, "SecretLost"
		}, nil},
		"not Verified though the receiver runs": {func(s *Snapshot) {
			w0(s).Live.Endpoint.Verified, w0(s).Live.Endpoint.VerifiedReason = string(metav1.ConditionFalse), openaiv1alpha1.ReasonSignatureRejected
		}, []string{I7}},
		"Verified without a receiver": {func(s *Snapshot) {
			s.Receiver = false
		}, []string{I7}},
		"Unreachable without a receiver": {func(s *Snapshot) {
			s.Receiver = false
			w0(s).Live.Endpoint.Verified, w0(s).Live.Endpoint.VerifiedReason = string(metav1.ConditionFalse), openaiv1alpha1.ReasonUnreachable
		}, nil},
		"OpenAI refused the create as invalid: Rejected": {func(s *Snapshot) {
			w0(s).Remote, w0(s).ReceiverKeys = nil, ReceiverKeys{}
			w0(s).Calls.CreateRefusals = []int{400}
			w0(s).Live.Ready, w0(s).Live.Stalled, w0(s).Live.RemoteID = false, true, ""
			w0(s).Live.Endpoint.ReadyReason, w0(s).Live.Endpoint.Verified = openaiv1alpha1.ReasonRejected, ""
		}, nil},
		"Rejected though OpenAI refused nothing": {func(s *Snapshot) {
			w0(s).Remote, w0(s).ReceiverKeys = nil, ReceiverKeys{}
			w0(s).Live.Ready, w0(s).Live.Stalled, w0(s).Live.RemoteID = false, true, ""
			w0(s).Live.Endpoint.ReadyReason, w0(s).Live.Endpoint.Verified = openaiv1alpha1.ReasonRejected, ""
		}, []string{I7}},
		"Ready beside Reconciling": {func(s *Snapshot) {
			w0(s).Live.Reconciling = true
		}, []string{I5}},
		"Ready=False waiting on the user without Stalled": {func(s *Snapshot) {
			w0(s).Live.Ready, w0(s).Live.Reconciling = false, true
			w0(s).Live.Endpoint.ReadyReason = openaiv1alpha1.ReasonNoURL
		}, []string{I5, I7}},
		"Complete on an endpoint": {func(s *Snapshot) {
			w0(s).Live.Complete = true
		}, []string{I5}},
		"too many calls": {func(s *Snapshot) {
			w0(s).Calls.Calls = 100
		}, []string{I6}},
		"a secret leaked": {func(s *Snapshot) {
			s.Leaks = []string{"a log line holds a signing secret"}
		}, []string{I8}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := settledEndpoints()
			tc.break_(s)
			NewWithT(t).Expect(invariantsOf(Check(s))).To(Equal(tc.want))
		})
	}
}

func TestSecretHintIsOpenAIs(t *testing.T) {
	g := NewWithT(t)
	sec := standardwebhooks.NewSecret([]byte("0123456789abcdef0123456789abcdef"))
	enc := sec.Encode()
	key := enc[len(standardwebhooks.SecretPrefix):]
	g.Expect(secretHint([]byte(enc + "\n"))).To(Equal(standardwebhooks.SecretPrefix + key[:4] + "..." + key[len(key)-4:]))
	g.Expect(secretHint([]byte("not a secret"))).To(Equal("(not a signing secret)"))
}

func TestEndpointOwner(t *testing.T) {
	cases := map[string]struct {
		name, owner string
		ok          bool
	}{
		"the operator's name":       {"ns/w0 (0f3c-uid)", "w0", true},
		"another namespace":         {"other/w0 (0f3c-uid)", "", false},
		"no UID":                    {"ns/w0", "", false},
		"an endpoint set up by URL": {"", "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			owner, ok := endpointOwner(tc.name, "ns")
			NewWithT(t).Expect([]any{owner, ok}).To(Equal([]any{tc.owner, tc.ok}))
		})
	}
}

// TestLogBookCatchesSecrets: a log line that holds a watched secret, whole or its key
// alone, is a leak, and the book keeps it masked.
func TestLogBookCatchesSecrets(t *testing.T) {
	g := NewWithT(t)
	b := newLogBook(10)
	sec := standardwebhooks.NewSecret([]byte("0123456789abcdef0123456789abcdef")).Encode()
	b.add("before: " + sec)
	b.watchFor(sec)
	b.add("clean line")
	b.add("whole: " + sec)
	b.add("key: " + sec[len("whsec_"):])
	_, leaks := b.watched()
	g.Expect(leaks).To(HaveLen(2))
	for _, l := range b.tail(10)[1:] {
		g.Expect(l).NotTo(ContainSubstring(sec[len("whsec_"):]))
	}
}
