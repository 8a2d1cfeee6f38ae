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

package reliability

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// history is what a watch saw of one resource over its life.
type history struct {
	kind string
	name string
	// writes counts the changes seen after the resource was first seen.
	writes int
	// completeSet counts the times the Complete condition became True.
	completeSet int
	// failedSet counts the times the Failed condition became True.
	failedSet int
	// completeRestamped counts writes that kept Complete True but moved its
	// lastTransitionTime (a terminal transition applied again).
	completeRestamped int
	// ids are the distinct OpenAI ids status carried, in order.
	ids []string
	// phases are the distinct consecutive phases.
	phases []string
	// afterTerminal counts phase changes after a terminal phase.
	afterTerminal int

	complete, failed bool
	completeSince    metav1.Time
	lastRV           string
}

// tracker watches the OpenAIBatch and OpenAIResponse resources of a namespace and keeps
// the history of each, so that tests can assert how often something happened, not only
// how things ended.
type tracker struct {
	mu   sync.Mutex
	objs map[string]*history // kind/name -> history
	errs []error
}

// track starts watching namespace ns with cfg until the test ends.
func track(t *testing.T, cfg *rest.Config, ns string) *tracker {
	t.Helper()
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracker{objs: map[string]*history{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, list := range []client.ObjectList{&openaiv1alpha1.OpenAIBatchList{}, &openaiv1alpha1.OpenAIResponseList{}} {
		// Start from a list, so that the watch misses nothing after it.
		if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		rv := list.(metav1.ListInterface).GetResourceVersion()
		items, _ := meta.ExtractList(list)
		for _, o := range items {
			tr.observe(o.(client.Object))
		}
		wg.Go(func() { tr.run(ctx, c, list, ns, rv) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return tr
}

// run follows one kind from rv, re-opening the watch where it ends, until ctx ends.
func (tr *tracker) run(ctx context.Context, c client.WithWatch, list client.ObjectList, ns, rv string) {
	for ctx.Err() == nil {
		w, err := c.Watch(
			ctx,
			list,
			client.InNamespace(ns),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}},
		)
		if err != nil {
			tr.fail(fmt.Errorf("watching: %w", err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified:
				obj := ev.Object.(client.Object)
				rv = obj.GetResourceVersion()
				tr.observe(obj)
			case watch.Bookmark:
				rv = ev.Object.(client.Object).GetResourceVersion()
			case watch.Error:
				tr.fail(fmt.Errorf("watch error: %v", ev.Object))
			}
		}
		w.Stop()
	}
}

func (tr *tracker) fail(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.errs) < 10 {
		tr.errs = append(tr.errs, err)
	}
}

func (tr *tracker) observe(obj client.Object) {
	var kind, phase, id string
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		kind, phase, id, conds = "OpenAIBatch", string(o.Status.Phase), o.Status.BatchID, o.Status.Conditions
	case *openaiv1alpha1.OpenAIResponse:
		kind, phase, id, conds = "OpenAIResponse", string(o.Status.Phase), o.Status.ResponseID, o.Status.Conditions
	default:
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	key := kind + "/" + obj.GetName()
	h := tr.objs[key]
	if h == nil {
		h = &history{kind: kind, name: obj.GetName()}
		tr.objs[key] = h
	} else if obj.GetResourceVersion() == h.lastRV {
		return // the same version again (a re-opened watch)
	} else {
		h.writes++
	}
	h.lastRV = obj.GetResourceVersion()
	if id != "" && (len(h.ids) == 0 || h.ids[len(h.ids)-1] != id) {
		h.ids = append(h.ids, id)
	}
	if phase != "" && (len(h.phases) == 0 || h.phases[len(h.phases)-1] != phase) {
		if n := len(h.phases); n > 0 && isTerminalPhase(h.phases[n-1]) {
			h.afterTerminal++
		}
		h.phases = append(h.phases, phase)
	}
	complete := meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionComplete)
	failed := meta.IsStatusConditionTrue(conds, openaiv1alpha1.ConditionFailed)
	if complete && !h.complete {
		h.completeSet++
	}
	if c := meta.FindStatusCondition(conds, openaiv1alpha1.ConditionComplete); complete && c != nil {
		if h.complete && !c.LastTransitionTime.Equal(&h.completeSince) {
			h.completeRestamped++
		}
		h.completeSince = c.LastTransitionTime
	}
	if failed && !h.failed {
		h.failedSet++
	}
	h.complete, h.failed = complete, failed
}

func isTerminalPhase(p string) bool {
	switch p {
	case "Completed", "Failed", "Expired", "Cancelled", "Incomplete":
		return true
	}
	return false
}

// snapshot returns a copy of every history, sorted by key.
func (tr *tracker) snapshot() []history {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]history, 0, len(tr.objs))
	for _, h := range tr.objs {
		c := *h
		c.ids = append([]string(nil), h.ids...)
		c.phases = append([]string(nil), h.phases...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].kind+out[i].name < out[j].kind+out[j].name })
	return out
}

// errors returns the watch errors seen so far.
func (tr *tracker) errors() []error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]error(nil), tr.errs...)
}

// completedOnce checks every tracked resource: Complete became True exactly once, Failed
// never, at most one OpenAI id, and no phase change after a terminal phase.
func (tr *tracker) completedOnce(t *testing.T, want int) {
	t.Helper()
	hs := tr.snapshot()
	if len(hs) != want {
		t.Errorf("the watch saw %d resources, want %d", len(hs), want)
	}
	bad := 0
	for _, h := range hs {
		if h.completeSet != 1 || h.failedSet != 0 || len(h.ids) != 1 || h.afterTerminal != 0 {
			bad++
			if bad <= 10 {
				t.Errorf("%s %s: Complete set %d times, Failed set %d times, OpenAI ids %v, phases %v",
					h.kind, h.name, h.completeSet, h.failedSet, h.ids, h.phases)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more", bad-10)
	}
	if errs := tr.errors(); len(errs) > 0 {
		t.Errorf("watch errors: %v", errs)
	}
}

// restamped returns how many resources had a terminal transition applied again, and
// how often in all.
func (tr *tracker) restamped() (resources, times int) {
	for _, h := range tr.snapshot() {
		if h.completeRestamped > 0 {
			resources++
			times += h.completeRestamped
		}
	}
	return resources, times
}

// recordRestamped adds the restamped count of tr to rec.
func recordRestamped(rec *results, tr *tracker) {
	resources, _ := tr.restamped()
	rec.add("resources whose Complete condition was written again", resources)
}
