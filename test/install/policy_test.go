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

package install

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// statusPatch is a JSON merge patch of status fields.
func statusPatch(status map[string]any) client.Patch {
	b, _ := json.Marshal(map[string]any{"status": status})
	return client.RawPatch(types.MergePatchType, b)
}

// webhookEvent is a status.lastWebhookEvent value.
func webhookEvent(id string) map[string]any {
	now := time.Now().UTC()
	return map[string]any{
		"id":         id,
		"type":       "batch.completed",
		"createdAt":  now.Format(time.RFC3339),
		"receivedAt": now.Format("2006-01-02T15:04:05.000000Z07:00"),
	}
}

// TestReceiverMayChangeOnlyLastWebhookEvent applies the install and impersonates the
// webhook receiver's ServiceAccount: RBAC lets it patch the status of OpenAIBatch and
// OpenAIResponse, and the install's ValidatingAdmissionPolicy confines that to
// status.lastWebhookEvent, on every kind of the group, including one added later. The
// manager's status writes are not affected.
func TestReceiverMayChangeOnlyLastWebhookEvent(t *testing.T) {
	g := NewWithT(t)
	s := installed(t, "default", nil)
	admin := s.env.Client
	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-policy"}})).To(Succeed())

	batch := &openaiv1alpha1.OpenAIBatch{ObjectMeta: metav1.ObjectMeta{Namespace: "team-policy", Name: "b"},
		Spec: openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings, Input: openaiv1alpha1.BatchInput{FileID: "file-1"}}}
	resp := &openaiv1alpha1.OpenAIResponse{ObjectMeta: metav1.ObjectMeta{Namespace: "team-policy", Name: "r"},
		Spec: openaiv1alpha1.OpenAIResponseSpec{Model: "gpt-4.1-mini", Input: openaiv1alpha1.ResponseInput{Text: "hi"}}}
	g.Expect(admin.Create(ctx, batch)).To(Succeed())
	g.Expect(admin.Create(ctx, resp)).To(Succeed())
	g.Expect(admin.Status().Patch(ctx, batch, statusPatch(map[string]any{"phase": "InProgress", "batchID": "batch_1"}))).To(Succeed())
	g.Expect(admin.Status().Patch(ctx, resp, statusPatch(map[string]any{"phase": "InProgress", "responseID": "resp_1"}))).To(Succeed())

	// A kind the group gains later, with a status subresource, that the receiver is
	// (wrongly, say) granted patch on: the policy covers it without any change.
	widgets := laterKind(t, s)

	receiver := s.as(t, installNamespace, receiverSA)
	manager := s.as(t, installNamespace, managerSA)
	// The API server loads policies asynchronously: wait until this one refuses.
	g.Eventually(func() error {
		return receiver.Status().Patch(ctx, batch.DeepCopy(), statusPatch(map[string]any{"phase": "Completed"}))
	}, 30*time.Second, 200*time.Millisecond).Should(MatchError(ContainSubstring("may change status.lastWebhookEvent only")))

	type write struct {
		c      client.Client
		obj    client.Object
		status map[string]any
	}
	cases := map[string]struct {
		write
		wantAllowed bool
	}{
		"receiver records an event on a batch":      {write{receiver, batch, map[string]any{"lastWebhookEvent": webhookEvent("evt_1")}}, true},
		"receiver records an event on a response":   {write{receiver, resp, map[string]any{"lastWebhookEvent": webhookEvent("evt_2")}}, true},
		"receiver records an event on a later kind": {write{receiver, widgets, map[string]any{"lastWebhookEvent": webhookEvent("evt_3")}}, true},
		"receiver sets a batch's phase":             {write{receiver, batch, map[string]any{"phase": "Completed"}}, false},
		"receiver sets a batch's id":                {write{receiver, batch, map[string]any{"batchID": "batch_other"}}, false},
		"receiver removes a response's id":          {write{receiver, resp, map[string]any{"responseID": nil}}, false},
		"receiver adds a status field":              {write{receiver, resp, map[string]any{"outputText": "forged"}}, false},
		"receiver records an event and sets a phase": {
			write{receiver, batch, map[string]any{"lastWebhookEvent": webhookEvent("evt_4"), "phase": "Failed"}},
			false,
		},
		"receiver sets a later kind's phase": {write{receiver, widgets, map[string]any{"phase": "Completed"}}, false},
		"manager sets a batch's phase":       {write{manager, batch, map[string]any{"phase": "Finalizing"}}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := tc.obj.DeepCopyObject().(client.Object)
			err := tc.c.Status().Patch(ctx, obj, statusPatch(tc.status))
			if tc.wantAllowed {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "refused by admission: %v", err)
			g.Expect(err.Error()).To(ContainSubstring("may change status.lastWebhookEvent only"))
		})
	}

	t.Run("receiver cannot write outside the status subresource", func(t *testing.T) {
		g := NewWithT(t)
		// Granted (wrongly, say) patch on a later kind itself: the policy still refuses.
		err := receiver.Patch(
			ctx,
			widgets.DeepCopyObject().(client.Object),
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`)),
		)
		g.Expect(err).To(MatchError(ContainSubstring("may only update the status subresource")))
	})
	var got openaiv1alpha1.OpenAIBatch
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(batch), &got)).To(Succeed())
	g.Expect(got.Status.BatchID).To(Equal("batch_1"))
	g.Expect(string(got.Status.Phase)).To(Equal("Finalizing"), "only the manager's phase write landed")
}

// laterKind creates a kind of the openai.operator.dev group that the install knows
// nothing about, grants the receiver patch on it and its status, and returns an object
// of it.
func laterKind(t *testing.T, s *server) *unstructured.Unstructured {
	t.Helper()
	g := NewWithT(t)
	admin := s.env.Client
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "openaiwidgets.openai.operator.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "openai.operator.dev", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural:   "openaiwidgets",
				Singular: "openaiwidget",
				Kind:     "OpenAIWidget",
				ListKind: "OpenAIWidgetList",
			},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1alpha1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{
					OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve},
				},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
	g.Expect(admin.Create(ctx, crd)).To(Succeed())
	g.Eventually(func() bool {
		_ = admin.Get(ctx, client.ObjectKeyFromObject(crd), crd)
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "widgets-for-the-receiver"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"openai.operator.dev"}, Resources: []string{"openaiwidgets", "openaiwidgets/status"}, Verbs: []string{"get", "patch"},
	}}}
	g.Expect(admin.Create(ctx, role)).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "widgets-for-the-receiver"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: installNamespace, Name: receiverSA}}})).To(Succeed())

	w := &unstructured.Unstructured{}
	w.SetAPIVersion("openai.operator.dev/v1alpha1")
	w.SetKind("OpenAIWidget")
	w.SetNamespace("team-policy")
	w.SetName("w")
	g.Eventually(func() error { return admin.Create(ctx, w) }, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(admin.Status().Patch(ctx, w, statusPatch(map[string]any{"phase": "Running"}))).To(Succeed())
	return w
}

// TestPolicyMatchesTheRenderedReceiver checks, on the rendered install, that the
// admission policy's CEL (which kustomize does not rewrite) recognises the receiver's
// ServiceAccount under the name and namespace kustomize gave it, and not the manager's;
// and that its binding names the rendered policy.
func TestPolicyMatchesTheRenderedReceiver(t *testing.T) {
	g := NewWithT(t)
	for _, dir := range []string{"default", "namespaced"} {
		objs := render(t, dir)
		policy := find(t, objs, "ValidatingAdmissionPolicy", "webhook-receiver-status-writes")
		binding := find(t, objs, "ValidatingAdmissionPolicyBinding", "webhook-receiver-status-writes")
		g.Expect(binding.Object["spec"].(map[string]any)["policyName"]).To(Equal(policy.GetName()), "config/%s", dir)

		conds, _, _ := unstructured.NestedSlice(policy.Object, "spec", "matchConditions")
		g.Expect(conds).To(HaveLen(1))
		expr := conds[0].(map[string]any)["expression"].(string)
		m := regexp.MustCompile(`matches\('([^']+)'\)`).FindStringSubmatch(expr)
		g.Expect(m).To(HaveLen(2), "the match condition is a regular expression on the username: %s", expr)
		re := regexp.MustCompile(m[1]) // CEL's matches() is RE2, as Go's regexp

		user := func(suffix string) string {
			sa := find(t, objs, "ServiceAccount", suffix)
			return "system:serviceaccount:" + sa.GetNamespace() + ":" + sa.GetName()
		}
		g.Expect(re.MatchString(user("webhook-receiver"))).To(BeTrue(), "config/%s: the receiver %s", dir, user("webhook-receiver"))
		g.Expect(re.MatchString(user("controller-manager"))).To(BeFalse(), "config/%s: the manager", dir)
		g.Expect(re.MatchString("system:serviceaccount:team-a:my-webhook-receiver-helper")).To(BeFalse())
	}
}
