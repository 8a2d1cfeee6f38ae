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

package faultschedule

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// TestAManagerCrashedBeforeItsCachesSyncedStops crashes managers at once after their
// start, before their caches can have synced. A manager whose context is cancelled
// before its caches synced waits for them to sync before it returns (controller-runtime
// v0.25's runnable group start loop does not return on cancellation; it spins), so a
// crash that also cut the dead process off from the API server's reads left it spinning
// a core for the rest of the run and the next manager started 60 s late. A crash cuts
// off what the world can see (writes, and every OpenAI call) at once; the dead
// process's reads carry on until it has stopped.
func TestAManagerCrashedBeforeItsCachesSyncedStops(t *testing.T) {
	g := NewWithT(t)
	s := newTestSeedRun(t, g)
	s.wire = newWire(&s.sched, http.DefaultTransport.(*http.Transport).Clone(), s.book)

	g.Expect(s.startManager()).To(Succeed())
	for range 3 {
		start := time.Now()
		g.Expect(s.crash(0, "at once after the start")).To(Succeed())
		g.Expect(time.Since(start)).To(BeNumerically("<", 45*time.Second), "the crashed manager stopped")
	}
	s.stopManager()
	g.Expect(strings.Join(s.book.tail(400), "\n")).NotTo(ContainSubstring("did not stop"))
}

// TestTheReceiversLinesGoIntoTheBook: the seed's receiver logs into the seed's book,
// where I8 looks for signing secrets in every line, as it does in the managers'.
func TestTheReceiversLinesGoIntoTheBook(t *testing.T) {
	g := NewWithT(t)
	s := newTestSeedRun(t, g)
	ctx := context.Background()
	_, stop, err := s.startReceiver(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	stop()
	g.Expect(s.book.tail(400)).To(ContainElement(ContainSubstring(" receiver ")), "the receiver's lines are in the book")
}

// newTestSeedRun starts an API server and an emulator for one test and returns a seed
// run of the ci-size schedule of seed 1 in a namespace of its own, with nothing started.
func newTestSeedRun(t *testing.T, g *WithT) *seedRun {
	env, err := testenv.Start()
	if err != nil {
		t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	em, err := emulator.Start(emulator.Options{APIKeys: []string{"sk-process-test"}, TimeScale: TimeScale})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(em.Close)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fs-process-"}}
	g.Expect(env.Client.Create(context.Background(), ns)).To(Succeed())
	return &seedRun{sched: Draw(1, Sizes["ci"], Kinds), opts: ManagerOptions(), env: env, c: env.Client, ns: ns.Name, em: em,
		book: newLogBook(400)}
}
