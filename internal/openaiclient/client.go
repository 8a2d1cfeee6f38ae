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

// Package openaiclient builds OpenAI SDK clients from the credentials in a Secret, counts
// the calls they make, and sorts their errors into what a reconciler should do next.
package openaiclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	corev1 "k8s.io/api/core/v1"
)

// Keys of the credentials Secret.
const (
	KeyAPIKey       = "apiKey"
	KeyOrganization = "organization"
	KeyProject      = "project"
	KeyBaseURL      = "baseURL"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Credentials are what a client needs to call OpenAI on a user's behalf.
type Credentials struct {
	APIKey       string
	Organization string
	Project      string
	// BaseURL overrides the factory's base URL when set.
	BaseURL string
}

// ErrMissingKey is returned by CredentialsFromSecret when the Secret has no API key.
var ErrMissingKey = errors.New("missing key")

// CredentialsFromSecret reads credentials from a Secret. The error names the missing key
// and the Secret, never a value.
func CredentialsFromSecret(s *corev1.Secret) (Credentials, error) {
	get := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
	c := Credentials{APIKey: get(KeyAPIKey), Organization: get(KeyOrganization), Project: get(KeyProject), BaseURL: get(KeyBaseURL)}
	if c.APIKey == "" {
		return Credentials{}, fmt.Errorf("%w: Secret %s/%s has no %q key", ErrMissingKey, s.Namespace, s.Name, KeyAPIKey)
	}
	return c, nil
}

// Factory makes clients that share one HTTP transport and one metrics recorder.
type Factory struct {
	// BaseURL is the API's base URL, e.g. https://api.openai.com/v1.
	BaseURL string
	// AllowedBaseURLs are the base URLs a credentials Secret may name besides BaseURL
	// (see CheckBaseURL); the zero value allows BaseURL only.
	AllowedBaseURLs BaseURLs
	// HTTPClient is shared by every client; nil means a default with a timeout.
	HTTPClient *http.Client
	// RequestTimeout bounds each API call.
	RequestTimeout time.Duration
	// Observe, when set, is called after every API call with its operation name (see
	// Operation), HTTP status code (0 for a transport error) and duration.
	Observe func(operation string, code int, d time.Duration)
}

// New returns a client for the given credentials, which CheckBaseURL must have
// accepted. It never retries by itself: the
// SDK's retries would sleep inside a reconcile (holding a worker) and could repeat a
// create whose first attempt reached OpenAI. Reconcilers requeue instead (see Classify).
func (f *Factory) New(c Credentials, extra ...option.RequestOption) openai.Client {
	base := f.defaultBaseURL()
	if c.BaseURL != "" && f.CheckBaseURL(c.BaseURL) == nil {
		base = c.BaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	hc := f.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	opts := []option.RequestOption{
		option.WithBaseURL(base),
		option.WithAPIKey(c.APIKey),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0),
	}
	if f.RequestTimeout > 0 {
		opts = append(opts, option.WithRequestTimeout(f.RequestTimeout))
	}
	if c.Organization != "" {
		opts = append(opts, option.WithOrganization(c.Organization))
	}
	if c.Project != "" {
		opts = append(opts, option.WithProject(c.Project))
	}
	// Observe innermost: a call that a middleware of extra answers itself (a gate's
	// *HeldError) never reached OpenAI and is not counted.
	opts = append(opts, extra...)
	if f.Observe != nil {
		opts = append(opts, option.WithMiddleware(f.observe))
	}
	return openai.NewClient(opts...)
}

func (f *Factory) observe(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	start := time.Now()
	resp, err := next(req)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	f.Observe(Operation(req.Method, req.URL.Path), code, time.Since(start))
	return resp, err
}

// opOther is the Operation of a call outside the APIs the operator uses.
const opOther = "other"

// Operation names an API call by method and path, e.g. "batches.create",
// "files.content" or "fine_tuning.jobs.pause", with ids removed so the name can be a
// metric label.
//
// webhook_endpoints/{id} answers POST as an update, and rotate_secret and test below it.
//
//nolint:gocyclo // one switch over OpenAI's paths, a case per metric label
func Operation(method, path string) string {
	i := strings.Index(path, "/v1/")
	if i < 0 {
		return opOther
	}
	parts := strings.Split(strings.Trim(path[i+len("/v1/"):], "/"), "/")
	resource := parts[0]
	switch {
	case resource == "files", resource == "batches", resource == "responses",
		resource == webhookEndpoints, resource == "webhook_event_types":
	case resource == "fine_tuning" && len(parts) > 1 && parts[1] == "jobs":
		// fine_tuning/jobs/{id}/... reads as one resource, "fine_tuning.jobs".
		resource, parts = "fine_tuning.jobs", parts[1:]
	default:
		return opOther
	}
	switch {
	case len(parts) == 3 && method == http.MethodPost && (parts[2] == "pause" || parts[2] == "resume"):
		return resource + "." + parts[2]
	case len(parts) == 3 && method == http.MethodGet && (parts[2] == "events" || parts[2] == "checkpoints"):
		return resource + "." + parts[2]
	case len(parts) == 1 && method == http.MethodPost:
		return resource + ".create"
	case len(parts) == 1 && method == http.MethodGet:
		return resource + ".list"
	case len(parts) == 2 && method == http.MethodGet:
		return resource + ".retrieve"
	case len(parts) == 2 && method == http.MethodDelete:
		return resource + ".delete"
	case len(parts) == 3 && method == http.MethodGet && parts[2] == "content":
		return resource + ".content"
	case len(parts) == 3 && method == http.MethodPost && parts[2] == "cancel":
		return resource + ".cancel"
	case len(parts) == 2 && method == http.MethodPost && resource == webhookEndpoints:
		return resource + ".update"
	case len(parts) == 3 && method == http.MethodPost && resource == webhookEndpoints && (parts[2] == "rotate_secret" || parts[2] == "test"):
		return resource + "." + parts[2]
	}
	return opOther
}

// webhookEndpoints is the path segment of OpenAI's webhook endpoints API.
const webhookEndpoints = "webhook_endpoints"
