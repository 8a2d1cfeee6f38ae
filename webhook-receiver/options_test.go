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
	"flag"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

func TestFlagDefaults(t *testing.T) {
	g := NewWithT(t)
	var o Options
	fs := flag.NewFlagSet("webhook-receiver", flag.ContinueOnError)
	o.BindFlags(fs)
	g.Expect(fs.Parse(nil)).To(Succeed())
	g.Expect(o).To(Equal(Options{
		BindAddress:            ":9000",
		Path:                   "/openai/webhook",
		SecretsPath:            "/etc/openai-webhook",
		SigningSecretName:      "openai-webhook-secret",
		SigningSecretNamespace: podNamespace(),
		Tolerance:              5 * time.Minute,
		MaxBodyBytes:           64 << 10,
		MaxConcurrentReads:     64,
		MetricsBindAddress:     ":8443",
		MetricsSecure:          true,
		MetricsCertName:        "tls.crt",
		MetricsCertKey:         "tls.key",
		HealthProbeBindAddress: ":8081",
		EarlyEventTTL:          10 * time.Minute,
		MaxEarlyEvents:         10000,
		DrainPeriod:            10 * time.Second,
	}))

	g.Expect(fs.Parse([]string{"--path=/hooks/openai", "--tolerance=2m", "--namespace=team-a", "--max-body-bytes=4096"})).To(Succeed())
	g.Expect(o.Path).To(Equal("/hooks/openai"))
	g.Expect(o.Tolerance).To(Equal(2 * time.Minute))
	g.Expect(o.Namespace).To(Equal("team-a"))
	g.Expect(fs.Parse([]string{"--namespaces=team-a,team-b"})).To(Succeed())
	g.Expect(CacheOptions(o.Namespace).DefaultNamespaces).To(HaveLen(2))
	g.Expect(o.MaxBodyBytes).To(Equal(int64(4096)))
	g.Expect(fs.Parse([]string{"--pprof-bind-address=127.0.0.1:8082"})).To(Succeed())
	g.Expect(ManagerOptions(o).PprofBindAddress).To(Equal("127.0.0.1:8082"))
}

func TestOptionsValidate(t *testing.T) {
	cases := map[string]struct {
		opts    Options
		wantErr string
	}{
		"defaults":             {opts: Options{}},
		"relative path":        {opts: Options{Path: "openai/webhook"}, wantErr: "must start with /"},
		"sub-second tolerance": {opts: Options{Tolerance: time.Millisecond}, wantErr: "tolerance"},
		"negative body cap":    {opts: Options{MaxBodyBytes: -1}, wantErr: "max-body-bytes"},
		"negative early ttl":   {opts: Options{EarlyEventTTL: -time.Second}, wantErr: "negative"},
		"namespaces":           {opts: Options{Namespace: "team-a, team-b"}},
		"invalid namespace":    {opts: Options{Namespace: "team-a,Team_B"}, wantErr: `namespace "Team_B"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := tc.opts.withDefaults().validate()
			if tc.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
			} else {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
			}
		})
	}
}

func TestStripForRoutingKeepsWhatRoutingReads(t *testing.T) {
	g := NewWithT(t)
	b := newBatch("ns", "b", "batch_1")
	b.Labels = map[string]string{"team": "a"}
	b.Status.Message = "long message"
	out, err := StripForRouting(b)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.(*openaiv1alpha1.OpenAIBatch).Labels).To(BeEmpty())
	g.Expect(batchIDOf(out.(*openaiv1alpha1.OpenAIBatch))).To(Equal([]string{"batch_1"}))
	g.Expect(out.(*openaiv1alpha1.OpenAIBatch).Spec.Input.Requests).To(BeEmpty())
	g.Expect(out.(*openaiv1alpha1.OpenAIBatch).Status.Message).To(BeEmpty())

	r := newResponse("ns", "r", "resp_1")
	r.Status.OutputText = "a long answer"
	out, err = StripForRouting(r)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(responseIDOf(out.(*openaiv1alpha1.OpenAIResponse))).To(Equal([]string{"resp_1"}))
	g.Expect(out.(*openaiv1alpha1.OpenAIResponse).Status.OutputText).To(BeEmpty())
	g.Expect(out.(*openaiv1alpha1.OpenAIResponse).Name).To(Equal("r"))

	other := "not an object"
	out, err = StripForRouting(other)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal(other))
}
