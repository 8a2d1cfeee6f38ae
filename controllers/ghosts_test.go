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

package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

// Resources deleted while their first pass adds the finalizer (`kubectl apply` then at
// once `kubectl delete`) leave nothing behind on OpenAI: the API server may remove an
// object whose finalizer was added while the DELETE was on its way, and the pass that
// added it then creates the work for a resource that no longer exists (see ghostStore).
// Each resource's DELETE is sent as its finalizer patch is, the patch a few milliseconds
// later (drawn from a seed the test prints; RESOURCE_DELETE_SEED replays the draws):
// the DELETE then wins outright, loses to the finalizer, or deletes the object under it.
func TestResourcesDeletedAtOnceLeaveNothing(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("RESOURCE_DELETE_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("RESOURCE_DELETE_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("RESOURCE_DELETE_SEED=%d", seed)
	for i, kind := range []struct {
		name  string
		build func(f *fixture, name string) client.Object
		check func(g Gomega, f *fixture)
	}{
		{"OpenAIWebhookEndpoint", func(f *fixture, name string) client.Object { return f.endpoint(name) }, func(g Gomega, f *fixture) {
			g.Expect(f.emu.WebhookEndpoints()).To(BeEmpty(), "endpoints left on OpenAI")
			g.Expect(f.receiverKeys()).To(BeEmpty(), "keys left in the receiver's Secret")
		}},
		{"OpenAIBatch", func(f *fixture, name string) client.Object { return f.batch(name, 2, emulator.ModelHang) }, func(g Gomega, f *fixture) {
			page, err := f.sdk().Batches.List(f.ctx, openai.BatchListParams{Limit: openai.Int(100)})
			g.Expect(err).NotTo(HaveOccurred())
			for _, b := range page.Data {
				// Every resource was deleted at once and its work never ends by
				// itself (ModelHang): any batch created for one must have been cancelled.
				g.Expect(b.Status).To(BeElementOf(openai.BatchStatusCancelling, openai.BatchStatusCancelled),
					"batch %s was left to run for a deleted resource", b.ID)
			}
		}},
		{"OpenAIResponse", func(f *fixture, name string) client.Object { return f.response(name, emulator.ModelHang, "never ends") }, func(g Gomega, f *fixture) {
			// Responses cannot be listed: every one created must have been cancelled
			// (at least as many cancel calls as creates; a cancel may be sent again).
			g.Expect(f.emu.Calls(emulator.OpResponsesCancel)).To(BeNumerically(">=", f.emu.Calls(emulator.OpResponsesCreate)),
				"responses created for deleted resources and left to run")
		}},
		{"OpenAIFineTuningJob", func(f *fixture, name string) client.Object {
			j := f.fineTuningJob(name, 10)
			j.Spec.Model = emulator.ModelHang
			return j
		}, func(g Gomega, f *fixture) {
			page, err := f.sdk().FineTuning.Jobs.List(f.ctx, openai.FineTuningJobListParams{Limit: openai.Int(100)})
			g.Expect(err).NotTo(HaveOccurred())
			for _, j := range page.Data {
				g.Expect(j.Status).To(Equal(openai.FineTuningJobStatusCancelled), "fine-tuning job %s was left to run for a deleted resource", j.ID)
			}
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			opts := endpointOptions()
			f := newFixture(t, fixtureOptions{noManager: true})
			mr := f.startSecretReceiver()
			opts.Webhooks.ReceiverURL = mr.srv.URL + "/openai/webhook"
			const n = 30
			racer := &deleteDuringFinalizerPatch{admin: f.c, limit: n, rng: rand.New(rand.NewPCG(seed, uint64(i))), sent: map[types.UID]bool{}}
			f.startManager(opts, func(c client.Client) client.Client { racer.Client = c; return racer })

			for j := range n {
				f.create(kind.build(f, fmt.Sprintf("brief-%d", j)))
			}
			f.g.Eventually(func() int { return racer.count() }, 30*time.Second, 20*time.Millisecond).Should(Equal(n))
			racer.wg.Wait()
			for _, err := range racer.errs {
				f.g.Expect(err).NotTo(HaveOccurred())
			}
			f.g.Eventually(func() int {
				list := &openaiv1alpha1.OpenAIWebhookEndpointList{}
				f.g.Expect(f.c.List(f.ctx, list, client.InNamespace(f.ns))).To(Succeed())
				n := len(list.Items)
				batches := &openaiv1alpha1.OpenAIBatchList{}
				f.g.Expect(f.c.List(f.ctx, batches, client.InNamespace(f.ns))).To(Succeed())
				jobs := &openaiv1alpha1.OpenAIFineTuningJobList{}
				f.g.Expect(f.c.List(f.ctx, jobs, client.InNamespace(f.ns))).To(Succeed())
				responses := &openaiv1alpha1.OpenAIResponseList{}
				f.g.Expect(f.c.List(f.ctx, responses, client.InNamespace(f.ns))).To(Succeed())
				return n + len(batches.Items) + len(jobs.Items) + len(responses.Items)
			}, 30*time.Second, 50*time.Millisecond).Should(BeZero())
			// A ghost's cleanup runs after the object has gone: give it the time a
			// deletion takes.
			f.g.Eventually(func(g Gomega) { kind.check(g, f) },
				10*time.Second, 50*time.Millisecond).Should(Succeed())

			// A ghost does not outlive its cleanup: a new resource of a deleted one's
			// name is reconciled as itself (its finalizer added), not as the ghost.
			again := kind.build(f, "brief-0")
			f.create(again)
			f.g.Eventually(func() []string {
				f.g.Expect(f.c.Get(f.ctx, client.ObjectKeyFromObject(again), again)).To(Succeed())
				return again.GetFinalizers()
			}, 10*time.Second, 20*time.Millisecond).Should(ContainElement(Finalizer))
			f.g.Expect(again.GetDeletionTimestamp()).To(BeNil())
		})
	}
}

// deleteDuringFinalizerPatch sends an admin DELETE of each resource when the manager
// patches its finalizer on, and the patch itself a few milliseconds later.
type deleteDuringFinalizerPatch struct {
	client.Client
	admin client.Client
	limit int // the resources it deletes; later ones are left alone
	wg    sync.WaitGroup

	mu   sync.Mutex
	rng  *rand.Rand
	sent map[types.UID]bool
	errs []error
}

func (d *deleteDuringFinalizerPatch) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sent)
}

func (d *deleteDuringFinalizerPatch) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	d.mu.Lock()
	first := controllerutil.ContainsFinalizer(obj, Finalizer) && obj.GetDeletionTimestamp().IsZero() && !d.sent[obj.GetUID()] &&
		len(d.sent) < d.limit
	var wait time.Duration
	if first {
		// Counted with the DELETE under the lock: once count() reaches n, every DELETE
		// is in the WaitGroup before the test waits on it.
		d.sent[obj.GetUID()] = true
		wait = time.Duration(d.rng.Int64N(int64(5 * time.Millisecond)))
		victim := obj.DeepCopyObject().(client.Object)
		d.wg.Go(func() {
			if err := client.IgnoreNotFound(d.admin.Delete(context.Background(), victim)); err != nil {
				d.mu.Lock()
				d.errs = append(d.errs, err)
				d.mu.Unlock()
			}
		})
	}
	d.mu.Unlock()
	time.Sleep(wait)
	return d.Client.Patch(ctx, obj, patch, opts...)
}
