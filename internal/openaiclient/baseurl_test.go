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
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"
)

func TestBaseURLAllowList(t *testing.T) {
	list, err := ParseBaseURLs([]string{"https://api.openai.com/v1", " http://proxy.internal:8080/openai/v1/ ", ""})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	cases := map[string]bool{
		"https://api.openai.com/v1":                  true,
		"https://api.openai.com/v1/":                 true,
		"HTTPS://API.OPENAI.COM/v1":                  true,
		"https://api.openai.com:443/v1":              true,
		"http://proxy.internal:8080/openai/v1":       true,
		"https://api.openai.com/v2":                  false,
		"https://api.openai.com/v1/../../admin":      false,
		"https://api.openai.com":                     false,
		"http://api.openai.com/v1":                   false,
		"https://api.openai.com.evil.example/v1":     false,
		"https://api.openai.com@evil.example/v1":     false,
		"https://user:pw@api.openai.com/v1":          false,
		"https://api.openai.com/v1?x=1":              false,
		"https://api.openai.com/v1#x":                false,
		"http://169.254.169.254/latest/meta-data":    false,
		"http://proxy.internal/openai/v1":            false,
		"file:///etc/passwd":                         false,
		"api.openai.com/v1":                          false,
		"":                                           false,
		"http://[::1]:8080/v1":                       false,
		"https://api.openai.com/V1":                  false,
		"https://api.openai.com/v1%2F..%2F..%2Fx":    false,
		"https://api.openai.com:8443/v1":             false,
		"https://api.openai.com/v1/files":            false,
		"gopher://api.openai.com/v1":                 false,
		"https://api.openai.com/v1 ":                 true,
		"https://api.openai.com/v1\n":                true,
		"https://api.openai.com/v1\x00":              false,
		"https://api.openai.com./v1":                 false,
		"https://xn--api-openai-com.example.org/v1/": false,
	}
	for raw, want := range cases {
		t.Run(raw, func(t *testing.T) {
			NewWithT(t).Expect(list.Allows(raw)).To(Equal(want))
		})
	}
}

func TestParseBaseURLsRefusesNonsense(t *testing.T) {
	g := NewWithT(t)
	for _, bad := range []string{"api.openai.com", "ftp://x/v1", "https://u:p@x/v1", "https://x/v1?q=1", "://"} {
		_, err := ParseBaseURLs([]string{bad})
		g.Expect(err).To(HaveOccurred(), bad)
	}
	any, err := ParseBaseURLs([]string{AnyBaseURL})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(any.Allows("http://anything.example/v1")).To(BeTrue())
	g.Expect(BaseURLs{}.Allows(DefaultBaseURL)).To(BeFalse(), "the zero value allows nothing")
}

// TestFactoryCheckBaseURL checks that a factory allows its own base URL and its list,
// never names the refused URL in its error, and that a client is never pointed at a
// base URL the factory refuses, even if asked.
func TestFactoryCheckBaseURL(t *testing.T) {
	g := NewWithT(t)
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer evil.Close()
	f := &Factory{BaseURL: "http://127.0.0.1:1/v1"} // nothing listens there
	g.Expect(f.CheckBaseURL("")).To(Succeed())
	g.Expect(f.CheckBaseURL("http://127.0.0.1:1/v1/")).To(Succeed(), "the manager's own base URL")
	err := f.CheckBaseURL("https://sk-secret@" + evil.Listener.Addr().String() + "/v1")
	g.Expect(err).To(MatchError(ErrBaseURLNotAllowed))
	g.Expect(err.Error()).NotTo(ContainSubstring("sk-secret"))
	g.Expect(f.CheckBaseURL(DefaultBaseURL)).To(MatchError(ErrBaseURLNotAllowed), "only what the list says")

	f.AllowedBaseURLs, _ = ParseBaseURLs([]string{DefaultBaseURL})
	g.Expect(f.CheckBaseURL("https://api.openai.com/v1")).To(Succeed())
	g.Expect(f.CheckBaseURL(evil.URL + "/v1")).To(MatchError(ErrBaseURLNotAllowed))

	// Even when asked, New does not point a client at a refused base URL.
	c := f.New(Credentials{APIKey: "sk-test", BaseURL: evil.URL + "/v1"})
	_, _ = c.Files.Get(context.Background(), "file-1")
	g.Expect(hits.Load()).To(BeZero())
}
