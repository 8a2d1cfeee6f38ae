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

package openaiclient

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// AnyBaseURL, as an entry of an allow-list, allows every base URL.
const AnyBaseURL = "*"

// ErrBaseURLNotAllowed means a credentials Secret names a base URL outside the
// manager's allow-list.
var ErrBaseURLNotAllowed = errors.New("base URL not allowed")

// BaseURLs is an allow-list of OpenAI API base URLs. The baseURL key of a credentials
// Secret is written by whoever may write Secrets in a namespace, and the manager sends
// that namespace's API key, and its requests, to it: without a list, a namespace user
// could make the manager call any address its network reaches (server-side request
// forgery). The zero value allows nothing.
type BaseURLs struct {
	any     bool
	allowed []string // normalized
}

// ParseBaseURLs parses an allow-list: absolute http or https URLs (a trailing slash, the
// case of the scheme and host, and a default port do not matter), or AnyBaseURL.
func ParseBaseURLs(list []string) (BaseURLs, error) {
	var b BaseURLs
	var errs []error
	for _, raw := range list {
		raw = strings.TrimSpace(raw)
		switch raw {
		case "":
			continue
		case AnyBaseURL:
			b.any = true
			continue
		}
		n, err := normalizeBaseURL(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowed base URL %q: %w", raw, err))
			continue
		}
		b.allowed = append(b.allowed, n)
	}
	return b, errors.Join(errs...)
}

// With returns b allowing also the given base URLs (which must be valid).
func (b BaseURLs) With(raw ...string) BaseURLs {
	out := BaseURLs{any: b.any, allowed: append([]string(nil), b.allowed...)}
	for _, r := range raw {
		if n, err := normalizeBaseURL(r); err == nil {
			out.allowed = append(out.allowed, n)
		}
	}
	return out
}

// Allows reports whether raw is on the list.
func (b BaseURLs) Allows(raw string) bool {
	if b.any {
		return true
	}
	n, err := normalizeBaseURL(raw)
	if err != nil {
		return false
	}
	for _, a := range b.allowed {
		if a == n {
			return true
		}
	}
	return false
}

// String lists the allowed base URLs, for logs.
func (b BaseURLs) String() string {
	if b.any {
		return AnyBaseURL
	}
	return strings.Join(b.allowed, ",")
}

// normalizeBaseURL returns scheme://host[:port]/path of an absolute http(s) URL,
// lower-case scheme and host, no default port, no trailing slash. URLs with user
// information, a query or a fragment are refused: none belongs in a base URL, and user
// information can make a URL look like another host's.
func normalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", errors.New("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New("no host")
	case u.User != nil:
		return "", errors.New("user information is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("a query or fragment is not allowed")
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host += ":" + port
	}
	return scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// CheckBaseURL returns nil when credentials may use base: empty (the factory's own
// base URL), the factory's BaseURL itself, or one of AllowedBaseURLs. Otherwise it
// returns ErrBaseURLNotAllowed; the error never contains the URL (it may carry
// credentials).
func (f *Factory) CheckBaseURL(base string) error {
	if base == "" {
		return nil
	}
	if f.AllowedBaseURLs.With(f.defaultBaseURL()).Allows(base) {
		return nil
	}
	return ErrBaseURLNotAllowed
}

func (f *Factory) defaultBaseURL() string {
	if f.BaseURL != "" {
		return f.BaseURL
	}
	return DefaultBaseURL
}
