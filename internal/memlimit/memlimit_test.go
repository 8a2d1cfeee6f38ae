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

package memlimit

import (
	"math"
	"runtime/debug"
	"testing"

	. "github.com/onsi/gomega"
)

func TestApply(t *testing.T) {
	cases := map[string]struct {
		env     map[string]string
		want    int64 // the limit set; 0: none
		wantErr bool
	}{
		"128Mi container":        {env: map[string]string{"MEMORY_LIMIT": "134217728"}, want: 120795955},
		"GOMEMLIMIT wins":        {env: map[string]string{"MEMORY_LIMIT": "134217728", "GOMEMLIMIT": "50MiB"}},
		"outside a container":    {env: map[string]string{}},
		"not a number":           {env: map[string]string{"MEMORY_LIMIT": "128Mi"}, wantErr: true},
		"zero":                   {env: map[string]string{"MEMORY_LIMIT": "0"}, wantErr: true},
		"surrounding whitespace": {env: map[string]string{"MEMORY_LIMIT": " 1000\n"}, want: 900},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			var set int64
			got, why, err := apply(func(k string) string { return tc.env[k] }, func(n int64) int64 { set = n; return math.MaxInt64 })
			if tc.wantErr {
				g.Expect(err).To(MatchError(ContainSubstring("MEMORY_LIMIT")))
				g.Expect(set).To(BeZero())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(why).NotTo(BeEmpty())
			g.Expect(got).To(Equal(tc.want))
			g.Expect(set).To(Equal(tc.want))
		})
	}
}

// TestApplySetsTheRuntimeLimit checks the limit reaches the Go runtime.
func TestApplySetsTheRuntimeLimit(t *testing.T) {
	g := NewWithT(t)
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	limit, _, err := Apply(func(k string) string { return map[string]string{"MEMORY_LIMIT": "1073741824"}[k] })
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(debug.SetMemoryLimit(-1)).To(Equal(limit))
	g.Expect(limit).To(Equal(int64(966367641)))
}
