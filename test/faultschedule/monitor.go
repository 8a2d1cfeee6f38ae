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
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// history is what the watch saw of one resource.
type history struct {
	kind  Kind
	last  Observed
	named string // the last OpenAI id its status named
	// createAttempts is the most create calls its status counted.
	createAttempts int
	phases         []string
	// keepRunning: spec.cancelOnDelete was false at some write after deletion began.
	keepRunning bool
	gone        bool
	writes      int
}

// monitor watches every resource of a namespace and checks, on every write the API
// server accepted, what must hold at all times: I5 (conditions agree with the phase, a
// terminal phase never changes) and I3 (a resource that turns terminal has nothing
// running on OpenAI: checked against OpenAI when the watch sees the write, and OpenAI's
// objects never leave a terminal status, so a running one was running at the write).
type monitor struct {
	ctx   context.Context
	kinds []Kind
	truth *Truth
	book  *logBook

	mu         sync.Mutex
	objs       map[string]*history
	violations []Violation
	errs       []string
	// writesChecked and terminalChecked count the checks made.
	writesChecked, terminalChecked int

	checks chan Observed
	wg     sync.WaitGroup
}

func startMonitor(ctx context.Context, c client.WithWatch, ns string, kinds []Kind, truth *Truth, book *logBook) (*monitor, error) {
	m := &monitor{ctx: ctx, kinds: kinds, truth: truth, book: book, objs: map[string]*history{}, checks: make(chan Observed, 64)}
	for _, k := range kinds {
		list := k.NewList()
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		items, _ := meta.ExtractList(list)
		for _, o := range items {
			m.observe(k, o.(client.Object))
		}
		rv := list.(metav1.ListInterface).GetResourceVersion()
		m.wg.Go(func() { m.run(ctx, c, k, ns, rv) })
	}
	m.wg.Go(func() { m.checkTerminal(ctx) })
	return m, nil
}

// wait returns once the watches stopped (their context ended).
func (m *monitor) wait() { m.wg.Wait() }

// run follows one kind from rv, re-opening the watch where it ends, until ctx ends.
func (m *monitor) run(ctx context.Context, c client.WithWatch, k Kind, ns, rv string) {
	for ctx.Err() == nil {
		opts := &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}}
		w, err := c.Watch(ctx, k.NewList(), client.InNamespace(ns), opts)
		if err != nil {
			m.fail(fmt.Sprintf("watching %s: %v", k.Kind(), err))
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
				m.observe(k, obj)
			case watch.Deleted:
				obj := ev.Object.(client.Object)
				rv = obj.GetResourceVersion()
				m.gone(k, obj)
			case watch.Bookmark:
				rv = ev.Object.(client.Object).GetResourceVersion()
			case watch.Error:
				m.fail(fmt.Sprintf("watch error on %s: %v", k.Kind(), ev.Object))
			}
		}
		w.Stop()
	}
}

func (m *monitor) fail(msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) < 10 {
		m.errs = append(m.errs, msg)
	}
}

func (m *monitor) violate(v Violation) {
	v.Definitive = true
	m.mu.Lock()
	defer m.mu.Unlock()
	m.violations = append(m.violations, v)
	m.book.add("VIOLATION " + v.String())
}

func (m *monitor) observe(k Kind, obj client.Object) {
	o := k.Observe(obj)
	id := o.Kind + " " + o.Name
	m.mu.Lock()
	h := m.objs[id]
	if h == nil {
		h = &history{kind: k}
		m.objs[id] = h
	} else if h.last.ResourceVersion == o.ResourceVersion {
		m.mu.Unlock()
		return // the same write again, from a re-opened watch
	}
	prev := h.last
	h.last = o
	h.writes++
	m.writesChecked++
	if o.RemoteID != "" {
		h.named = o.RemoteID
	}
	h.createAttempts = max(h.createAttempts, o.CreateAttempts)
	if o.Deleting && !o.CancelOnDelete {
		h.keepRunning = true
	}
	var phaseLeft string
	if o.Phase != "" && (len(h.phases) == 0 || h.phases[len(h.phases)-1] != o.Phase) {
		if n := len(h.phases); n > 0 && isTerminal(k, h.phases[n-1]) {
			phaseLeft = h.phases[n-1]
		}
		h.phases = append(h.phases, o.Phase)
	}
	m.mu.Unlock()

	if msg := disagree(k, &o); msg != "" {
		m.violate(Violation{Invariant: I5, Resource: id, Message: "a status write with " + msg})
	}
	if phaseLeft != "" {
		m.violate(Violation{Invariant: I5, Resource: id, Message: fmt.Sprintf("the terminal phase %s changed to %s", phaseLeft, o.Phase)})
	}
	if o.Terminal && (!prev.Terminal || prev.Phase != o.Phase) {
		select {
		case m.checks <- o:
		case <-m.ctx.Done():
		}
	}
}

// isTerminal reports whether phase ends a resource of kind k.
func isTerminal(_ Kind, phase string) bool {
	switch phase {
	case phaseCompleted, "Succeeded", phaseFailed, "Expired", phaseCancelled, "Incomplete":
		return true
	}
	return false
}

func (m *monitor) gone(k Kind, obj client.Object) {
	id := k.Kind() + " " + obj.GetName()
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.objs[id]; h != nil {
		h.gone = true
	}
}

// checkTerminal checks I3 for every resource the watch saw turn terminal: whatever
// OpenAI runs for it, read right after the write, must have ended.
func (m *monitor) checkTerminal(ctx context.Context) {
	for {
		var o Observed
		select {
		case <-ctx.Done():
			return
		case o = <-m.checks:
		}
		k := m.kind(o.Kind)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		remote, err := k.Remote(cctx, m.truth)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.fail(fmt.Sprintf("reading OpenAI after %s %s turned %s: %v", o.Kind, o.Name, o.Phase, err))
			}
			continue
		}
		m.mu.Lock()
		m.terminalChecked++
		m.mu.Unlock()
		for _, r := range remote[o.Name] {
			// Responses cannot be searched: only the one the status names is the
			// resource's for certain; the others are checked at the end (I1, I2).
			if r.Terminal || (!k.CanSearch() && r.ID != o.RemoteID) {
				continue
			}
			m.violate(Violation{Invariant: I3, Resource: o.Kind + " " + o.Name,
				Message: fmt.Sprintf("the status turned %s (%s) while %s was %s on OpenAI", o.Phase, failure(&o), r.ID, r.Status)})
		}
	}
}

func (m *monitor) kind(name string) Kind {
	for _, k := range m.kinds {
		if k.Kind() == name {
			return k
		}
	}
	return nil
}

// Violations returns what the monitor found so far.
func (m *monitor) Violations() []Violation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Violation(nil), m.violations...)
}

// checked returns how many writes were checked (I5) and how many terminal transitions
// were checked against OpenAI (I3).
func (m *monitor) checked() (writes, terminal int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writesChecked, m.terminalChecked
}

// Errors returns the watch errors.
func (m *monitor) Errors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}

// history returns a copy of the history of a resource.
func (m *monitor) history(kind, name string) (history, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.objs[kind+" "+name]
	if !ok {
		return history{}, false
	}
	c := *h
	c.phases = append([]string(nil), h.phases...)
	return c, true
}
