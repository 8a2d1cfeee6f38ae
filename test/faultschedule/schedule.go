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
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Size bounds what one seed draws.
type Size struct {
	// Name is "ci" or "full" (FAULT_SIZE).
	Name string
	// Resources is the most resources a seed creates (at least one).
	Resources int
	// Phase is how long faults, crashes and user actions go on; then they stop.
	Phase time.Duration
	// Crashes is the most manager crashes a seed draws.
	Crashes int
	// Actions is the most user actions a seed draws.
	Actions int
}

// Sizes are the sizes a run can use.
var Sizes = map[string]Size{
	sizeCI:   {Name: sizeCI, Resources: 3, Phase: 3 * time.Second, Crashes: 2, Actions: 4},
	sizeFull: {Name: sizeFull, Resources: 5, Phase: 6 * time.Second, Crashes: 4, Actions: 8},
}

// Lifetimes of the work a resource asks for: "fast" ends within about a second, "slow"
// within a few, "hang" never ends on its own (the emulator's emulator-hang model): only
// a cancel ends it.
const (
	LifetimeFast = "fast"
	LifetimeSlow = "slow"
	LifetimeHang = "hang"
)

// Size names.
const (
	sizeCI   = "ci"
	sizeFull = "full"
)

// Input edits (ActEditInput's Arg), and the edit that restores an input.
const (
	editContent   = "content"
	editRemoveKey = "remove-key"
	editInvalid   = "invalid"
	editRestore   = "restore"
)

// Input sources of a batch or a fine-tuning job.
const (
	InputInline    = "inline"
	InputConfigMap = "configmap"
)

// ResourcePlan is one resource a seed creates.
type ResourcePlan struct {
	// Name is the resource's name: the kind's prefix and an index ("b0", "r1").
	Name string
	// Kind is the adapter's kind, e.g. "OpenAIBatch".
	Kind string
	// Lifetime is fast, slow or hang.
	Lifetime string
	// Requests is the number of requests of a batch.
	Requests int
	// Examples, Epochs and Validation shape a fine-tuning job: its training examples,
	// its epochs, and whether it has validation data.
	Examples, Epochs int
	Validation       bool
	// Input is inline or configmap (batches, fine-tuning jobs).
	Input string
	// CancelOnDelete is spec.cancelOnDelete at creation; nil leaves it unset (true).
	CancelOnDelete *bool
	// Results asks for results in a ConfigMap.
	Results bool
	// CustomEvents: a webhook endpoint asks for event types of its own.
	CustomEvents bool
	// CreateAt is when, from the start of the phase, the resource is created.
	CreateAt time.Duration
}

// Action kinds: what the schedule does at a point in time.
const (
	// ActCrash stops the manager at once; a fresh one (no memory) starts after Delay.
	ActCrash = "crash"
	// ActCrashAfterAnswer lets the next successful call of Op (about Target, or any
	// resource when Target is empty) reach OpenAI, then stops the manager before the
	// answer reaches it; a fresh one starts after Delay.
	ActCrashAfterAnswer = "crash-after-answer"
	// ActCancel sets spec.cancel.
	ActCancel = "cancel"
	// ActDelete deletes the resource.
	ActDelete = "delete"
	// ActFlipCancelOnDelete flips spec.cancelOnDelete.
	ActFlipCancelOnDelete = "flip-cancelOnDelete"
	// ActSecretDelete deletes the credentials Secret; ActSecretRestore creates it again.
	ActSecretDelete  = "secret-delete"
	ActSecretRestore = "secret-restore"
	// ActSecretRotate writes a new API key into the Secret; ActRevokeOldKey then makes
	// OpenAI refuse the key it replaced (401 invalid_api_key).
	ActSecretRotate = "secret-rotate"
	ActRevokeOldKey = "revoke-old-key"
	// ActEditInput edits the input ConfigMap of a batch or a fine-tuning job: Arg is
	// "content" (other valid requests or examples), "remove-key" (the key is gone until
	// ActRestoreInput) or "invalid" (not a batch, or not training data, at all).
	ActEditInput    = "edit-input"
	ActRestoreInput = "restore-input"
)

// Action is one scheduled event.
type Action struct {
	At     time.Duration
	Kind   string
	Target string        // resource name, for actions on one resource
	Op     string        // operation, for ActCrashAfterAnswer
	Arg    string        // for ActEditInput
	Delay  time.Duration // restart delay of a crash
}

func (a Action) String() string {
	s := fmt.Sprintf("%6.2fs %s", a.At.Seconds(), a.Kind)
	if a.Op != "" {
		s += " " + a.Op
	}
	if a.Target != "" {
		s += " " + a.Target
	}
	if a.Arg != "" {
		s += " (" + a.Arg + ")"
	}
	if a.Kind == ActCrash || a.Kind == ActCrashAfterAnswer {
		s += fmt.Sprintf(", restart after %s", a.Delay.Round(time.Millisecond))
	}
	return s
}

// Refusal windows: for a stretch of the phase every call is refused the same way, so
// that the harness can see how often the manager retries (I6).
const (
	WindowRateLimit         = "429-rate-limit"          // 429 rate_limit_exceeded with Retry-After
	WindowRateLimitNoHeader = "429-without-retry-after" // 429 rate_limit_exceeded, no Retry-After
	WindowQuota             = "429-insufficient-quota"  // 429 insufficient_quota
)

// Window is a stretch of the phase in which every OpenAI call is refused.
type Window struct {
	Kind       string
	Start, End time.Duration
	RetryAfter time.Duration // WindowRateLimit only
}

// Webhooks are the emulator's delivery knobs for the phase.
type Webhooks struct {
	// Receiver runs the webhook receiver; without it only polling finds the ends.
	Receiver                bool
	DropRate, DuplicateRate float64
	DelayRate               float64
	Delay                   time.Duration
	Reorder                 bool
}

// Schedule is everything one seed does. Draw makes it from the seed alone; the fault on
// any call is FaultFor(resource, operation, attempt), so the same seed injects the same
// faults into the same calls however goroutines interleave.
type Schedule struct {
	Seed uint64
	Size Size
	// Resources in creation order.
	Resources []ResourcePlan
	// FaultRate is the share of calls (of their first MaxFaultedAttempts) that get a fault.
	FaultRate float64
	// Actions in time order.
	Actions []Action
	// Windows of refusals, if any.
	Windows []Window
	// Webhooks knobs.
	Webhooks Webhooks
}

// MaxFaultedAttempts: only the first attempts of an operation about a resource may be
// faulted, so every resource gets through in the end whatever the seed.
const MaxFaultedAttempts = 4

// Draw makes the schedule of seed at size.
func Draw(seed uint64, size Size, kinds []Kind) Schedule {
	r := rand.New(rand.NewPCG(seed, 0x5eed_fa17))
	s := Schedule{Seed: seed, Size: size}
	phase := size.Phase
	at := func(lo, hi float64) time.Duration { // a moment between lo and hi of the phase
		return time.Duration((lo + r.Float64()*(hi-lo)) * float64(phase))
	}

	n := 1 + r.IntN(size.Resources)
	count := map[string]int{}
	for range n {
		k := kinds[r.IntN(len(kinds))]
		p := ResourcePlan{Kind: k.Kind(), CreateAt: at(0, 0.5)}
		p.Name = fmt.Sprintf("%s%d", k.Prefix(), count[k.Kind()])
		count[k.Kind()]++
		switch x := r.Float64(); {
		case x < 0.45:
			p.Lifetime = LifetimeFast
		case x < 0.75:
			p.Lifetime = LifetimeSlow
		default:
			p.Lifetime = LifetimeHang
		}
		switch r.IntN(3) {
		case 0:
			f := false
			p.CancelOnDelete = &f
		case 1:
			t := true
			p.CancelOnDelete = &t
		}
		p.Results = r.IntN(2) == 0
		k.Plan(r, &p)
		s.Resources = append(s.Resources, p)
	}
	sort.SliceStable(s.Resources, func(i, j int) bool { return s.Resources[i].CreateAt < s.Resources[j].CreateAt })

	s.FaultRate = []float64{0, 0.1, 0.2, 0.3}[r.IntN(4)]

	target := func() ResourcePlan { return s.Resources[r.IntN(len(s.Resources))] }
	kindOf := func(name string) Kind {
		for _, k := range kinds {
			if k.Kind() == name {
				return k
			}
		}
		panic("no kind " + name)
	}
	for range r.IntN(size.Crashes + 1) {
		a := Action{At: at(0.05, 0.95), Kind: ActCrash, Delay: time.Duration(r.IntN(400)) * time.Millisecond}
		if r.IntN(2) == 0 {
			// Armed on a call the target makes; for a create, from just before the
			// target exists, so that its first create is the one cut off.
			p := target()
			ops := kindOf(p.Kind).ArmableOps()
			a.Kind, a.Target, a.Op = ActCrashAfterAnswer, p.Name, ops[r.IntN(len(ops))]
			a.At = at(0, 0.6)
			if isCreate(a.Op) {
				a.At = max(0, p.CreateAt-100*time.Millisecond)
			}
		}
		s.Actions = append(s.Actions, a)
	}

	var secretGone, rotations int
	for range r.IntN(size.Actions + 1) {
		t := at(0.05, 0.95)
		p := target()
		switch x := r.IntN(10); {
		case x < 2:
			s.Actions = append(s.Actions, Action{At: t, Kind: ActCancel, Target: p.Name})
		case x < 4:
			s.Actions = append(s.Actions, Action{At: t, Kind: ActDelete, Target: p.Name})
		case x < 5:
			s.Actions = append(s.Actions, Action{At: t, Kind: ActFlipCancelOnDelete, Target: p.Name})
		case x < 6 && secretGone == 0:
			secretGone++
			back := t + time.Duration((0.1+0.4*r.Float64())*float64(phase))
			s.Actions = append(s.Actions, Action{At: t, Kind: ActSecretDelete}, Action{At: min(back, phase), Kind: ActSecretRestore})
		case x < 8 && rotations < 3:
			rotations++
			s.Actions = append(s.Actions, Action{At: t, Kind: ActSecretRotate},
				Action{At: min(t+time.Duration(r.IntN(1000))*time.Millisecond, phase), Kind: ActRevokeOldKey})
		case p.Input == InputConfigMap:
			edit := []string{editContent, editRemoveKey, editInvalid}[r.IntN(3)]
			s.Actions = append(s.Actions, Action{At: t, Kind: ActEditInput, Target: p.Name, Arg: edit})
			if edit == editRemoveKey {
				back := t + time.Duration((0.1+0.4*r.Float64())*float64(phase))
				s.Actions = append(s.Actions, Action{At: min(back, phase), Kind: ActRestoreInput, Target: p.Name})
			}
		}
	}
	sort.SliceStable(s.Actions, func(i, j int) bool { return s.Actions[i].At < s.Actions[j].At })

	if r.IntN(4) == 0 {
		w := Window{Kind: []string{WindowRateLimit, WindowRateLimitNoHeader, WindowQuota}[r.IntN(3)], Start: at(0.05, 0.4)}
		// Long enough for a retry every second to show against a backoff (I6); the
		// phase lasts until the window ends.
		w.End = w.Start + time.Duration(2500+r.IntN(2500))*time.Millisecond
		if w.Kind == WindowRateLimit {
			w.RetryAfter = time.Duration(500+r.IntN(1000)) * time.Millisecond
		}
		s.Windows = append(s.Windows, w)
	}

	s.Webhooks = Webhooks{Receiver: r.IntN(5) != 0}
	if r.IntN(2) == 0 {
		s.Webhooks.DropRate = []float64{0, 0.3, 1}[r.IntN(3)]
		s.Webhooks.DuplicateRate = []float64{0, 0.5}[r.IntN(2)]
		s.Webhooks.DelayRate = []float64{0, 0.5}[r.IntN(2)]
		s.Webhooks.Delay = time.Duration(200+r.IntN(1500)) * time.Millisecond
		s.Webhooks.Reorder = r.IntN(2) == 0
	}
	return s
}

// Plan returns the plan of the resource named name.
func (s *Schedule) Plan(name string) (ResourcePlan, bool) {
	for _, p := range s.Resources {
		if p.Name == name {
			return p, true
		}
	}
	return ResourcePlan{}, false
}

// Touches reports whether the schedule has an action of one of kinds.
func (s *Schedule) Touches(kinds ...string) bool {
	for _, a := range s.Actions {
		for _, k := range kinds {
			if a.Kind == k {
				return true
			}
		}
	}
	return false
}

// String prints the schedule as the failure report shows it.
func (s Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, size %s, phase %s, faults on %.0f%% of the first %d attempts of each call\n",
		s.Seed, s.Size.Name, s.Size.Phase, 100*s.FaultRate, MaxFaultedAttempts)
	for _, p := range s.Resources {
		cod := "unset"
		if p.CancelOnDelete != nil {
			cod = fmt.Sprint(*p.CancelOnDelete)
		}
		extra := ""
		if p.Requests > 0 {
			extra = fmt.Sprintf(", %d requests, input %s", p.Requests, p.Input)
		}
		if p.Examples > 0 {
			extra = fmt.Sprintf(", %d examples x %d epochs, validation data %v, input %s", p.Examples, p.Epochs, p.Validation, p.Input)
		}
		if p.Lifetime == "" {
			fmt.Fprintf(&b, "  %6.2fs create %s %s: custom event types %v\n", p.CreateAt.Seconds(), p.Kind, p.Name, p.CustomEvents)
			continue
		}
		fmt.Fprintf(&b, "  %6.2fs create %s %s: %s%s, cancelOnDelete %s, results %v\n",
			p.CreateAt.Seconds(), p.Kind, p.Name, p.Lifetime, extra, cod, p.Results)
	}
	for _, a := range s.Actions {
		fmt.Fprintf(&b, "  %s\n", a)
	}
	for _, w := range s.Windows {
		fmt.Fprintf(&b, "  %6.2fs..%.2fs every call refused: %s", w.Start.Seconds(), w.End.Seconds(), w.Kind)
		if w.RetryAfter > 0 {
			fmt.Fprintf(&b, " (Retry-After %s)", w.RetryAfter)
		}
		b.WriteString("\n")
	}
	wh := s.Webhooks
	if !wh.Receiver {
		b.WriteString("  webhooks: no receiver (polling only)\n")
	} else {
		fmt.Fprintf(&b, "  webhooks: drop %.0f%%, duplicate %.0f%%, delay %.0f%% by %s, reorder %v\n",
			100*wh.DropRate, 100*wh.DuplicateRate, 100*wh.DelayRate, wh.Delay, wh.Reorder)
	}
	return b.String()
}
