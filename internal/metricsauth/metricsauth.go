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

// Package metricsauth protects a metrics endpoint the way controller-runtime's
// filters.WithAuthenticationAndAuthorization does: the caller's bearer token is checked
// with a TokenReview, then the caller must be allowed the request's verb on its path
// (a SubjectAccessReview, e.g. "get" on the non-resource URL /metrics). It uses only
// client-go: controller-runtime's filter links the API server's authentication and
// authorization libraries (and CEL), which made up 36 MB of the manager's 91 MB
// executable and its resident memory.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// How long answers are reused, as controller-runtime's filter does: an authenticated
// token for a minute, an allowed request for 5 minutes, a denied one for 30 seconds.
const (
	authnTTL    = time.Minute
	allowTTL    = 5 * time.Minute
	denyTTL     = 30 * time.Second
	callTimeout = 10 * time.Second
	// maxCached bounds each cache; past it, expired entries are dropped, then all.
	maxCached = 1024
)

// WithAuthenticationAndAuthorization is a metricsserver.Options.FilterProvider.
func WithAuthenticationAndAuthorization(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authnclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authzclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return New(authn.TokenReviews(), authz.SubjectAccessReviews()), nil
}

// New returns a filter that asks tokens and access of the given review clients.
func New(tokens authnclient.TokenReviewInterface, access authzclient.SubjectAccessReviewInterface) metricsserver.Filter {
	a := &authenticator{tokens: tokens, access: access, users: cache[authenticationv1.UserInfo]{}, decisions: cache[bool]{}}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			ctx, cancel := context.WithTimeout(req.Context(), callTimeout)
			defer cancel()
			user, ok, err := a.authenticate(ctx, req)
			switch {
			case err != nil:
				log.Error(err, "Authenticating a metrics request failed")
				http.Error(w, "Authentication failed", http.StatusInternalServerError)
				return
			case !ok:
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			allowed, err := a.authorize(ctx, user, strings.ToLower(req.Method), req.URL.Path)
			switch {
			case err != nil:
				log.Error(err, "Authorizing a metrics request failed", "user", user.Username)
				http.Error(w, "Authorization for user "+user.Username+" failed", http.StatusInternalServerError)
				return
			case !allowed:
				http.Error(w, "Authorization denied for user "+user.Username, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, req)
		}), nil
	}
}

type authenticator struct {
	tokens    authnclient.TokenReviewInterface
	access    authzclient.SubjectAccessReviewInterface
	users     cache[authenticationv1.UserInfo] // by the token's SHA-256, never the token
	decisions cache[bool]                      // by user, verb and path
}

// authenticate returns who the request's bearer token belongs to; ok is false for a
// request without one, or with one the API server does not accept.
func (a *authenticator) authenticate(ctx context.Context, req *http.Request) (authenticationv1.UserInfo, bool, error) {
	scheme, token, found := strings.Cut(req.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return authenticationv1.UserInfo{}, false, nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	key := string(sum[:])
	if user, ok := a.users.get(key); ok {
		return user, user.Username != "", nil
	}
	review, err := a.tokens.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: strings.TrimSpace(token)},
	}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, false, errors.New("the TokenReview failed: " + err.Error())
	}
	if !review.Status.Authenticated {
		a.users.put(key, authenticationv1.UserInfo{}, denyTTL)
		return authenticationv1.UserInfo{}, false, nil
	}
	a.users.put(key, review.Status.User, authnTTL)
	return review.Status.User, true, nil
}

// authorize asks whether user may use verb on the non-resource path.
func (a *authenticator) authorize(ctx context.Context, user authenticationv1.UserInfo, verb, path string) (bool, error) {
	key := user.Username + "\x00" + user.UID + "\x00" + strings.Join(user.Groups, ",") + "\x00" + verb + "\x00" + path
	if allowed, ok := a.decisions.get(key); ok {
		return allowed, nil
	}
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review, err := a.access.Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, errors.New("the SubjectAccessReview failed: " + err.Error())
	}
	allowed := review.Status.Allowed && !review.Status.Denied
	ttl := denyTTL
	if allowed {
		ttl = allowTTL
	}
	a.decisions.put(key, allowed, ttl)
	return allowed, nil
}

// cache is a small map of answers that expire.
type cache[V any] struct {
	mu      sync.Mutex
	entries map[string]cached[V]
}

type cached[V any] struct {
	value   V
	expires time.Time
}

func (c *cache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *cache[V]) put(key string, v V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.entries == nil {
		c.entries = map[string]cached[V]{}
	}
	if len(c.entries) >= maxCached {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCached {
			clear(c.entries)
		}
	}
	c.entries[key] = cached[V]{value: v, expires: now.Add(ttl)}
}
