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
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// TestRoutesFineTuningJobEvents checks, against a real API server, that the three
// fine_tuning.job.* events are recorded on the OpenAIFineTuningJob whose status.jobID
// carries their ftjob- id, that one arriving before the id is recorded is held and then
// applied, and that the cache keeps of the kind only what routing reads.
func TestRoutesFineTuningJobEvents(t *testing.T) {
	g := NewWithT(t)
	e := apiServer(t)
	ctx := context.Background()
	ns := newNamespace(t, e.Client)
	jobs := map[string]*openaiv1alpha1.OpenAIFineTuningJob{}
	for _, typ := range []string{"fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled"} {
		j := newFineTuningJob(ns, "ft-"+typ[len("fine_tuning.job."):], "ftjob-"+typ[len("fine_tuning.job."):]+ns)
		create(t, e.Client, j)
		jobs[typ] = j
	}
	r := startReceiver(t, e.Config, Options{Namespace: ns})
	sec := testSecret(t, 0)
	created := time.Unix(time.Now().Unix()-5, 0)
	for typ, j := range jobs {
		g.Expect(signedEvent(sec, "wh_"+typ, time.Now(), eventBody("evt_"+typ, typ, created, j.Status.JobID)).send(t, url(r))).
			To(Equal(http.StatusOK), typ)
		got := lastEvent(g, e.Client, j)
		g.Expect(got).NotTo(BeNil(), typ)
		g.Expect(got.ID).To(Equal("evt_" + typ))
		g.Expect(got.Type).To(Equal(typ))
		g.Expect(j.Status.Phase).To(Equal(openaiv1alpha1.FineTuningPhaseRunning), "the controller's fields stay")
		g.Expect(events(r.Metrics(), typ, OutcomeAccepted)).To(Equal(1.0))
	}

	// An event for a job whose id no resource carries yet is held, then applied.
	late := newFineTuningJob(ns, "late", "")
	create(t, e.Client, late)
	w := signedEvent(sec, "wh_early", time.Now(), eventBody("evt_early", "fine_tuning.job.succeeded", created, "ftjob-late"+ns))
	g.Expect(w.send(t, url(r))).To(Equal(http.StatusAccepted))
	withID := late.DeepCopy()
	withID.Status.JobID = "ftjob-late" + ns
	setStatus(t, e.Client, late, withID)
	g.Eventually(func(g Gomega) {
		got := lastEvent(g, e.Client, late)
		g.Expect(got).NotTo(BeNil())
		g.Expect(got.ID).To(Equal("evt_early"))
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	var cached openaiv1alpha1.OpenAIFineTuningJob
	g.Expect(r.deps.Cache.Get(ctx, client.ObjectKeyFromObject(late), &cached)).To(Succeed())
	g.Expect(cached.Status.JobID).To(Equal("ftjob-late" + ns))
	g.Expect(cached.Spec.TrainingData.FileID).To(BeEmpty(), "the cache drops the spec")
	g.Expect(cached.Status.Phase).To(BeEmpty())
	g.Expect(cached.ManagedFields).To(BeEmpty())
}
