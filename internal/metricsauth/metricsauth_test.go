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

package metricsauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// countingTokens and countingAccess count the reviews the filter asks for.
type countingTokens struct {
	authnclient.TokenReviewInterface
	n atomic.Int32
}

func (c *countingTokens) Create(ctx context.Context, r *authenticationv1.TokenReview, o metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	c.n.Add(1)
	return c.TokenReviewInterface.Create(ctx, r, o)
}

type countingAccess struct {
	authzclient.SubjectAccessReviewInterface
	n atomic.Int32
}

func (c *countingAccess) Create(ctx context.Context, r *authorizationv1.SubjectAccessReview, o metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	c.n.Add(1)
	return c.SubjectAccessReviewInterface.Create(ctx, r, o)
}

// TestOnlyAuthorizedServiceAccountsReadMetrics runs the filter against a real API
// server: a ServiceAccount bound to a role allowing "get" on /metrics reads them; one
// without, a bad token or no token are refused with the status controller-runtime's
// filter gives; answers are reused rather than asked again per scrape.
func TestOnlyAuthorizedServiceAccountsReadMetrics(t *testing.T) {
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	const ns = "default"
	token := func(name string) string {
		t.Helper()
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	reader, stranger := token("metrics-reader"), token("stranger")
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "metrics-reader", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	tokens := &countingTokens{TokenReviewInterface: cs.AuthenticationV1().TokenReviews()}
	access := &countingAccess{SubjectAccessReviewInterface: cs.AuthorizationV1().SubjectAccessReviews()}
	handler, err := New(tokens, access)(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "metrics")
	}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no token", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", http.MethodGet, "/metrics", "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"a token the API server does not know", http.MethodGet, "/metrics", "Bearer not-a-token", http.StatusUnauthorized},
		{"a ServiceAccount without the role", http.MethodGet, "/metrics", "Bearer " + stranger, http.StatusForbidden},
		{"the reader, another verb", http.MethodPost, "/metrics", "Bearer " + reader, http.StatusForbidden},
		{"the reader, another path", http.MethodGet, "/debug", "Bearer " + reader, http.StatusForbidden},
		{"the reader", http.MethodGet, "/metrics", "Bearer " + reader, http.StatusOK},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d (%s), want %d", tc.name, resp.StatusCode, body, tc.want)
		}
		if (tc.want == http.StatusOK) != (string(body) == "metrics") {
			t.Errorf("%s: body %q", tc.name, body)
		}
	}

	// Scrapes by the reader reuse the answers.
	tokensBefore, accessBefore := tokens.n.Load(), access.n.Load()
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a repeated scrape got %d", resp.StatusCode)
		}
	}
	if got := tokens.n.Load() - tokensBefore; got != 0 {
		t.Errorf("5 repeated scrapes asked for %d TokenReviews, want 0 (cached)", got)
	}
	if got := access.n.Load() - accessBefore; got != 0 {
		t.Errorf("5 repeated scrapes asked for %d SubjectAccessReviews, want 0 (cached)", got)
	}
}
