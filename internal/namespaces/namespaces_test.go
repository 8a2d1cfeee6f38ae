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

package namespaces

import (
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

func TestParse(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    []string
		wantErr string
	}{
		"all namespaces":       {in: ""},
		"one":                  {in: "team-a", want: []string{"team-a"}},
		"several, with spaces": {in: " team-a, team-b ,,team-a", want: []string{"team-a", "team-b"}},
		"not a namespace":      {in: "team-a,Team_B", wantErr: `namespace "Team_B"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Parse(tc.in)
			if tc.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestCacheConfig(t *testing.T) {
	g := NewWithT(t)
	g.Expect(CacheConfig(nil)).To(BeNil(), "all namespaces")
	g.Expect(CacheConfig([]string{"a", "b"})).To(Equal(map[string]cache.Config{"a": {}, "b": {}}))
}
