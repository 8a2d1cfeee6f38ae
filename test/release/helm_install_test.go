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

package release

import (
	"fmt"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// access is one question to the API server's authorizer.
type access struct {
	sa                           string // the ServiceAccount's name, in releaseNamespace
	namespace                    string // "" for cluster-scoped resources and URLs
	group, resource, subresource string
	name                         string // a resourceName the rule is restricted to, or ""
	verb, path                   string // path for non-resource URLs
}

func (a access) String() string {
	if a.path != "" {
		return fmt.Sprintf("%s: %s %s", a.sa, a.verb, a.path)
	}
	r := a.resource
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.group != "" {
		r += "." + a.group
	}
	if a.name != "" {
		r += " " + a.name
	}
	return fmt.Sprintf("%s: %s %s in %q", a.sa, a.verb, r, a.namespace)
}

func allowed(t *testing.T, env *testenv.Env, a access) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + releaseNamespace + ":" + a.sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
	}}
	if a.path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: a.path, Verb: a.verb}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: a.namespace, Verb: a.verb,
			Group: a.group, Resource: a.resource, Subresource: a.subresource, Name: a.name}
	}
	if err := env.Client.Create(t.Context(), sar); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	return sar.Status.Allowed
}

// grants lists what each ServiceAccount of an install is granted by its bindings: every
// group, resource and verb of every rule of every bound role (namespaced resources
// asked in the binding's namespace, or in "team-a" for a ClusterRoleBinding).
func grants(t *testing.T, objs []*unstructured.Unstructured) []access {
	t.Helper()
	roles := map[string]*rbacv1.ClusterRole{}
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" || o.GetKind() == "Role" {
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatal(err)
			}
			roles[o.GetKind()+"/"+o.GetName()] = &r
		}
	}
	var out []access
	for _, o := range objs {
		if o.GetKind() != "ClusterRoleBinding" && o.GetKind() != "RoleBinding" {
			continue
		}
		var b rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
			t.Fatal(err)
		}
		role, ok := roles[b.RoleRef.Kind+"/"+b.RoleRef.Name]
		if !ok {
			t.Errorf("%s %s binds %s %s, which the install does not have", o.GetKind(), o.GetName(), b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		ns := b.Namespace
		if ns == "" {
			ns = "team-a"
		}
		for _, s := range b.Subjects {
			if s.Kind != "ServiceAccount" {
				continue
			}
			for _, rule := range role.Rules {
				for _, verb := range rule.Verbs {
					for _, path := range rule.NonResourceURLs {
						out = append(out, access{sa: s.Name, verb: verb, path: path})
					}
					for _, g := range rule.APIGroups {
						for _, res := range rule.Resources {
							r, sub, _ := strings.Cut(res, "/")
							a := access{sa: s.Name, namespace: ns, group: g, resource: r, subresource: sub, verb: verb}
							if g == "authentication.k8s.io" || g == "authorization.k8s.io" {
								a.namespace = "" // TokenReviews, SubjectAccessReviews
							}
							if len(rule.ResourceNames) == 0 {
								out = append(out, a)
							}
							for _, name := range rule.ResourceNames {
								a.name = name
								out = append(out, a)
							}
						}
					}
				}
			}
		}
	}
	return out
}

// TestChartInstallsOnTheAPIServer applies the chart, rendered with its core options on
// (receiver, metrics, NetworkPolicies, Ingress), to a real API server, which must accept
// every object; then asks the API server's authorizer whether each ServiceAccount the
// chart creates may do everything the kustomize install grants it, and none of a list
// of things neither install grants.
func TestChartInstallsOnTheAPIServer(t *testing.T) {
	chart := helmTemplate(t, "networkPolicy.enable=true", "webhookReceiver.ingress.enable=true",
		"webhookReceiver.ingress.tls.secretName=openai-webhooks-tls")
	kust := kustomizeBuild(t, map[string]string{
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../config/default\n",
	})
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := t.Context()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}}); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range chart {
		if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o),
			client.FieldOwner("helm-chart-test"), client.ForceOwnership); err != nil {
			t.Errorf("applying %s: %v", key(o), err)
		}
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"ServiceAccount", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Ingress"} {
		if kinds[k] == 0 {
			t.Errorf("the chart rendered no %s", k)
		}
	}

	want := grants(t, kust)
	if len(want) < 20 {
		t.Fatalf("only %d grants found in the kustomize install", len(want))
	}
	for _, a := range want {
		if !allowed(t, env, a) {
			t.Errorf("the kustomize install grants %s; the chart does not", a)
		}
	}
	manager, receiver := "openai-operator-controller-manager", "openai-operator-webhook-receiver"
	for _, a := range []access{
		{sa: manager, namespace: "team-a", resource: "secrets", verb: "delete"},
		{sa: manager, namespace: "team-a", resource: "pods", verb: "create"},
		{sa: manager, namespace: "team-a", group: "openai.operator.dev", resource: "openaibatches", verb: "delete"},
		{sa: manager, namespace: "team-a", group: "coordination.k8s.io", resource: "leases", verb: "update"},
		{sa: manager, group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "create"},
		{sa: receiver, namespace: "team-a", resource: "secrets", verb: "get"},
		{sa: receiver, namespace: releaseNamespace, resource: "secrets", verb: "list"},
		{sa: receiver, namespace: "team-a", group: "openai.operator.dev", resource: "openaibatches", verb: "patch"},
		{sa: receiver, namespace: "team-a", group: "openai.operator.dev", resource: "openairesponses", verb: "update"},
		{sa: receiver, path: "/metrics", verb: "get"},
	} {
		if allowed(t, env, a) {
			t.Errorf("the chart grants %s, which the kustomize install does not", a)
		}
	}
}
