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
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// grantReceiverRBAC gives user the receiver's RBAC as installed: read the kinds
// and patch their status (a ClusterRole), and get, list and watch the one Secret of
// signing secrets by name in ns (a Role with resourceNames).
func grantReceiverRBAC(t *testing.T, ns, user, secretName string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	c := apiServer(t).Client
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	g.Expect(c.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns}, Rules: []rbacv1.PolicyRule{
		{
			APIGroups: []string{openaiv1alpha1.GroupVersion.Group},
			Resources: []string{"openaibatches", "openairesponses", "openaifinetuningjobs"},
			Verbs:     []string{"get", "list", "watch"},
		},
		{
			APIGroups: []string{openaiv1alpha1.GroupVersion.Group},
			Resources: []string{"openaibatches/status", "openairesponses/status", "openaifinetuningjobs/status"},
			Verbs:     []string{"patch"},
		},
	}})).To(Succeed())
	g.Expect(c.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ns}, Subjects: subjects})).To(Succeed())
	g.Expect(c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "signing-secret"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secretName}, Verbs: []string{"get", "list", "watch"}},
	}})).To(Succeed())
	g.Expect(c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "signing-secret"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "signing-secret"}, Subjects: subjects})).To(Succeed())
}

// TestSigningSecretsFromTheAPI checks that two receivers, each holding only the RBAC
// the install grants (the Secret by name), accept a signing secret within 5 seconds of
// its being written to the Secret through the API, refuse one within 5 seconds of its
// removal, and keep accepting the secrets of their mounted files all along.
func TestSigningSecretsFromTheAPI(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ctx := context.Background()
	ns := newNamespace(t, e.Client)
	const secretName = "openai-webhook-secret"
	user := "system:serviceaccount:" + ns + ":webhook-receiver"
	grantReceiverRBAC(t, ns, user, secretName)
	batch := newBatch(ns, "b", "batch_"+ns)
	create(t, e.Client, batch)
	// Another Secret in the namespace, which the receivers may not read.
	g.Expect(e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unrelated"},
		StringData: map[string]string{"current": testSecretString(5)}})).To(Succeed())

	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mounted"), testSecretString(2)) // as the mounted volume holds it
	var replicas []*Receiver
	for range 2 {
		replicas = append(replicas, startReceiver(t, cfg, Options{Namespace: ns, SecretsPath: dir,
			SigningSecretName: secretName, SigningSecretNamespace: ns}))
	}

	var n atomic.Int64
	deliver := func(r *Receiver, secret int) int {
		i := n.Add(1)
		now := time.Now()
		w := signedEvent(testSecret(t, secret), fmt.Sprintf("wh_%d", i), now,
			eventBody(fmt.Sprintf("evt_%d", i), "batch.completed", now.Add(time.Duration(i)*time.Millisecond), "batch_"+ns))
		return w.send(t, url(r))
	}
	// waitAll waits until every replica answers want to a delivery signed with secret,
	// and returns how long that took.
	waitAll := func(secret, want int, what string) time.Duration {
		start := time.Now()
		for _, r := range replicas {
			g.Eventually(func() int { return deliver(r, secret) }, 5*time.Second, 20*time.Millisecond).
				Should(Equal(want), "%s: a delivery signed with secret %d", what, secret)
		}
		return time.Since(start)
	}
	g.Expect(deliver(replicas[0], 2)).To(Equal(http.StatusOK), "the mounted secret")
	g.Expect(deliver(replicas[0], 0)).To(Equal(http.StatusUnauthorized))
	g.Expect(deliver(replicas[1], 5)).To(Equal(http.StatusUnauthorized), "another Secret's key")

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName},
		Data: map[string][]byte{"default.endpoint-a": []byte(testSecretString(0))}}
	g.Expect(e.Client.Create(ctx, secret)).To(Succeed())
	created := waitAll(0, http.StatusOK, "created")

	secret.Data["team-a.endpoint-b"] = []byte(testSecretString(1))
	g.Expect(e.Client.Update(ctx, secret)).To(Succeed())
	added := waitAll(1, http.StatusOK, "key added")
	g.Expect(deliver(replicas[0], 0)).To(Equal(http.StatusOK), "the first key stays")

	delete(secret.Data, "default.endpoint-a")
	g.Expect(e.Client.Update(ctx, secret)).To(Succeed())
	removed := waitAll(0, http.StatusUnauthorized, "key removed")
	g.Expect(deliver(replicas[1], 1)).To(Equal(http.StatusOK), "the other key stays")

	g.Expect(e.Client.Delete(ctx, secret)).To(Succeed())
	deleted := waitAll(1, http.StatusUnauthorized, "Secret deleted")
	g.Expect(deliver(replicas[0], 2)).To(Equal(http.StatusOK), "the mounted secret stays")
	for _, r := range replicas {
		g.Expect(testutilGauge(r.Metrics().SigningSecrets)).To(Equal(1.0))
	}
	t.Logf("two replicas accept or refuse after: Secret created %s, key added %s, key removed %s, Secret deleted %s",
		created.Round(time.Millisecond), added.Round(time.Millisecond), removed.Round(time.Millisecond), deleted.Round(time.Millisecond))
}
