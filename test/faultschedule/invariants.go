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
	"math"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Invariant names.
const (
	I1 = "I1" // at most one OpenAI object per resource (responses: re-creations announced)
	I2 = "I2" // nothing runs on OpenAI for a resource that is gone or terminal
	I3 = "I3" // terminal only if the OpenAI object is terminal or none was created
	I4 = "I4" // every uploaded file is used by a running batch or fine-tuning job, or deleted
	I5 = "I5" // Complete and Failed never both True; phase and conditions agree
	I6 = "I6" // OpenAI calls within the stated bound
	I7 = "I7" // everything settles within the stated time, status matching OpenAI
	I8 = "I8" // no signing secret in a status, an Event or a log line
)

// InvariantNames describe each invariant, for reports.
var InvariantNames = map[string]string{
	I1: "at most one OpenAI object per resource; a response created again is announced by a PossibleDuplicate Warning",
	I2: "no OpenAI work still running whose resource is gone or terminal (unless cancelOnDelete: false)",
	I3: "a resource is terminal only if its OpenAI object is terminal, or none was created and OpenAI refused the create, " +
		"the user cancelled, or the input became invalid",
	I4: "every file the operator uploaded is used by a running batch or fine-tuning job or deleted, and none running lost its input",
	I5: "Complete and Failed are never both True, phase and conditions agree (Reconciling, Stalled and Ready included), " +
		"and a terminal phase never changes",
	I6: "OpenAI calls per resource, and per project under refusals, within the stated bounds",
	I7: "every resource settles within the stated time after faults stop, its status matching OpenAI",
	I8: "no webhook signing secret OpenAI returned appears in a status, an Event or a log line",
}

// OrphanWarningReasons are the reasons of the Warning Events by which the operator
// announces that OpenAI may hold an object of a resource it cannot find again (a
// response whose create answer was lost: OpenAI cannot list responses). Such an
// announced orphan is exempt from I2, I3 and I7; nothing else can be done about it.
var OrphanWarningReasons = []string{"PossibleDuplicate", "OutcomeUnknown"}

// announcedOrphans reports whether r's kind cannot be searched and the operator
// announced that it may have orphans: by a Warning, or by counting more than one create
// call in status.
func announcedOrphans(r *ResourceState) bool {
	if r.Kind.CanSearch() {
		return false
	}
	if r.CreateAttempts > 1 || r.Live != nil && r.Live.OutcomeUnknown {
		return true
	}
	for _, reason := range OrphanWarningReasons {
		if r.Events[reason] > 0 {
			return true
		}
	}
	return false
}

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Resource  string
	Message   string
	// Definitive violations cannot be undone by waiting (an object OpenAI created, a
	// status the watch saw), so the seed stops looking once one is found.
	Definitive bool
}

func (v Violation) String() string {
	if v.Resource == "" {
		return fmt.Sprintf("%s: %s", v.Invariant, v.Message)
	}
	return fmt.Sprintf("%s %s: %s", v.Invariant, v.Resource, v.Message)
}

// Deletion is what the harness knows about a resource the schedule deleted.
type Deletion struct {
	// CancelOnDelete was false at the deletion request or after it: the user asked to
	// leave the work running.
	KeepRunning bool
	// CredentialsMissing: the credentials Secret was absent at some time after the
	// deletion request (the manager then gives up cleaning up at once, as documented).
	CredentialsMissing bool
}

// ResourceState is everything known about one planned resource at a snapshot.
type ResourceState struct {
	Plan ResourcePlan
	Kind Kind
	UID  types.UID
	// Live is the resource as the API server has it; nil when it is gone (or was never
	// created: see Created).
	Live    *Observed
	Created bool
	Deleted *Deletion
	// Named is the last OpenAI id the resource's status named (kept after it is gone).
	Named string
	// CreateAttempts is the most create calls its status counted (kept after it is
	// gone): the durable announcement of re-creations, which survives a crash that
	// loses the Warning Events.
	CreateAttempts int
	// Remote is what OpenAI holds for it.
	Remote []Remote
	// Events counts the Events about it by reason (both event APIs' series counted).
	Events map[string]int
	// Calls are its OpenAI calls; Deliveries the webhook deliveries about its objects.
	Calls      CallStats
	Deliveries int
	// InputInvalid: the schedule made its input invalid. Actions: the schedule's
	// actions on it.
	InputInvalid bool
	Actions      int
	// ReceiverKeys are the hints of the secrets the receiver's Secret holds under the
	// resource's keys (webhook endpoints; "" when a key is absent).
	ReceiverKeys ReceiverKeys
}

// ReceiverKeys are the secrets the receiver's Secret holds for one webhook endpoint, as
// hints (secretHint): under its key, and under its previous key during an overlap.
type ReceiverKeys struct {
	Current, Previous string
}

// RemoteFile is a file on OpenAI that the operator uploaded for a resource.
type RemoteFile struct {
	ID, Filename, Resource string
}

// Bounds are the manager's timings that the call bounds (I6) are derived from.
type Bounds struct {
	PollMin, PollMax time.Duration
	// BackoffMin and BackoffMax bound the project gate's backoff after refusals that
	// did not say how long to wait.
	BackoffMin, BackoffMax time.Duration
	// Workers is how many reconciles run at once (MaxConcurrentReconciles per kind):
	// the most calls on their way when a refusal arrives.
	Workers int
}

// Snapshot is the state of one seed: the API server's, OpenAI's, and the wire's.
type Snapshot struct {
	Namespace string
	Resources []*ResourceState
	Files     []RemoteFile
	// Crashes performed; ProjectActions are the Secret and key actions, which touch
	// every resource.
	Crashes, ProjectActions int
	Refused                 map[string]refusals
	Windows                 []Window
	Bounds                  Bounds
	// Receiver: the seed runs a webhook receiver (webhook endpoints deliver to it;
	// without it, to a closed port).
	Receiver bool
	// Leaks describe each place a signing secret appeared (I8).
	Leaks []string
}

// Per-event allowances of the call bound (I6), in calls and in reads of the resource's
// progress (a read is CallsPerRead calls of its kind); see callBound.
const (
	callsPerFault    = 3 // the call again and a search (two lists), and a read
	callsPerCrash    = 4 // a search, the step that was cut short again, and a read
	callsPerAction   = 2 // a cancel, what follows it, and a re-read
	readsPerDelivery = 2 // a read, and a pass run again after a conflicting write
)

// callBound is the most OpenAI calls resource r may make (I6), with c = CallsPerRead
// of its kind (1 for batches and responses, so 4, 5, 3 and 2):
//
//	BaseCalls + (3+c) x faults + (4+c) x crashes + (2+c) x actions
//	+ 2c x webhook deliveries + c x reads(T) + refused calls
//
// where reads(T) = ceil(log2(PollMax/PollMin)) + 1 + ceil(T/PollMax) is the most
// progress reads of an exponential poll backoff over T, the time from its first call to
// its last, and refused calls (windows, revoked keys) are bounded per project instead.
func callBound(s *Snapshot, r *ResourceState) (int, string) {
	faults := 0
	for _, n := range r.Calls.Faults {
		faults += n
	}
	span := r.Calls.Last.Sub(r.Calls.First)
	reads := int(math.Ceil(math.Log2(float64(s.Bounds.PollMax)/float64(s.Bounds.PollMin)))) + 1 + int(math.Ceil(float64(span)/float64(s.Bounds.PollMax)))
	refused := r.Calls.Refused
	actions := r.Actions + s.ProjectActions
	c := r.Kind.CallsPerRead()
	perFault, perCrash, perAction, perDelivery := callsPerFault+c, callsPerCrash+c, callsPerAction+c, readsPerDelivery*c
	bound := r.Kind.BaseCalls() + perFault*faults + perCrash*s.Crashes + perAction*actions + perDelivery*r.Deliveries + c*reads + refused
	why := fmt.Sprintf("%d base + %dx%d faults + %dx%d crashes + %dx%d actions + %dx%d webhook deliveries + %dx%d reads over %s + %d refused",
		r.Kind.BaseCalls(), perFault, faults, perCrash, s.Crashes, perAction, actions, perDelivery, r.Deliveries, c, reads,
		span.Round(time.Millisecond), refused)
	return bound, why
}

// refusalBound is the most calls one project (one credentials Secret) may make while
// every call is refused the same way (kind) for span (I6). The project's gate
// (internal/openaiclient.Gate) learns from the first refusal: the calls already on
// their way, one per worker, are refused too, and from then on one call at a time
// tries again after each wait: at least Retry-After when the answer has one, and at
// least BackoffMin doubling with each refusal up to BackoffMax (jitter only lengthens
// the waits). A gate has a lane for every call and one for create calls: a rate limit
// of requests holds every call through the first, while insufficient_quota and a
// refused key hold create calls through the second and the other calls through the
// first, two sequences. A fresh manager process (a crash) or a change of the
// credentials Secret starts the gate afresh (restarts).
func refusalBound(kind string, span, retryAfter time.Duration, b Bounds, restarts int) int {
	lanes := 2
	if kind == WindowRateLimit || kind == WindowRateLimitNoHeader {
		lanes = 1
	}
	probes := 0
	for t, i := time.Duration(0), 0; ; i++ {
		wait := max(retryAfter, min(b.BackoffMin<<min(i, 30), b.BackoffMax))
		if wait <= 0 {
			return math.MaxInt // no backoff at all: nothing bounds the calls
		}
		if t += wait; t > span {
			break
		}
		probes++
	}
	return lanes * (1 + restarts) * (b.Workers + probes)
}

// Check evaluates I1 to I8 (I5's history part is the monitor's) on a snapshot taken
// after faults stopped. An empty result means the seed has settled.
func Check(s *Snapshot) []Violation {
	out := make(violations, 0, len(s.Leaks))
	for _, r := range s.Resources {
		if r.Created {
			checkResource(&out, s, r)
		}
	}
	checkFiles(&out, s)
	checkRefusals(&out, s)
	// I8
	for _, l := range s.Leaks {
		out = append(out, Violation{Invariant: I8, Message: l, Definitive: true})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Invariant < out[j].Invariant })
	return out
}

// violations collects what Check finds.
type violations []Violation

func (v *violations) add(inv, res, format string, args ...any) {
	*v = append(*v, Violation{Invariant: inv, Resource: res, Message: fmt.Sprintf(format, args...)})
}

// checkResource evaluates I1, I2, I3, I5, I6 and I7 for one created resource.
func checkResource(out *violations, s *Snapshot, r *ResourceState) {
	id := r.Kind.Kind() + " " + r.Plan.Name
	live := r.Live
	named := r.Named
	if live != nil {
		named = live.RemoteID
	}
	// A re-creation is announced by a PossibleDuplicate Warning, or durably by the
	// count of create calls in status (a crash may lose the Warning).
	announced := max(r.Events["PossibleDuplicate"], r.CreateAttempts-1)

	// I1
	if n := len(r.Remote); n > 1 {
		if r.Kind.CanSearch() {
			*out = append(*out, Violation{Invariant: I1, Resource: id, Definitive: true,
				Message: fmt.Sprintf("OpenAI holds %d objects for it: %s", n, remoteList(r.Remote))})
		} else if announced < n-1 {
			out.add(I1, id, "OpenAI created it %d times (%s) but only %d PossibleDuplicate Warning(s) and status.createAttempts %d announced it",
				n, remoteList(r.Remote), r.Events["PossibleDuplicate"], r.CreateAttempts)
		}
	}

	// I2 and I3
	checkRunning(out, r, id, named)
	if live != nil && live.Terminal && len(tracked(r, named)) == 0 && !explained(r) {
		out.add(I3, id, "%s (%s) though OpenAI holds nothing for it, and neither did OpenAI refuse a create nor did the user cancel or break the input",
			live.Phase, failure(live))
	}

	// I5 (the final state; the monitor checks every write)
	if live != nil {
		if msg := disagree(r.Kind, live); msg != "" {
			out.add(I5, id, "%s", msg)
		}
	}

	// I6
	if bound, why := callBound(s, r); r.Calls.Calls > bound {
		out.add(I6, id, "%d OpenAI calls (%s), above the bound of %d = %s", r.Calls.Calls, opList(r.Calls.ByOp), bound, why)
	}

	// I7
	st, isStanding := r.Kind.(standing)
	switch {
	case live == nil && r.Deleted == nil:
		out.add(I7, id, "the resource is gone though the schedule never deleted it")
	case live != nil && live.Deleting:
		out.add(I7, id, "still being deleted (phase %s)", orNone(live.Phase))
	case isStanding:
		if msg := st.Unsettled(s, r); msg != "" {
			out.add(I7, id, "%s", msg)
		}
	case live != nil:
		if msg := unsettled(r, live); msg != "" {
			out.add(I7, id, "%s", msg)
		}
	}
}

// checkRunning evaluates I2 and I3 for the OpenAI objects of r that still run.
func checkRunning(out *violations, r *ResourceState, id, named string) {
	live := r.Live
	for _, o := range r.Remote {
		if o.Terminal {
			continue
		}
		orphan := o.ID != named
		announcedOrphan := orphan && announcedOrphans(r)
		switch {
		case live == nil && r.Deleted != nil:
			if r.Deleted.KeepRunning || announcedOrphan {
				continue
			}
			if r.Deleted.CredentialsMissing && r.Events["CleanupAbandoned"] > 0 {
				continue
			}
			out.add(I2, id, "%s is still %s on OpenAI after the resource was deleted (cancelOnDelete true)", o.ID, o.Status)
		case live != nil && live.Terminal && (!orphan || named == "") && !announcedOrphan:
			out.add(I3, id, "%s (%s) while %s is still %s on OpenAI", live.Phase, failure(live), o.ID, o.Status)
		case live != nil && live.Terminal && !announcedOrphan:
			out.add(I2, id, "%s, and %s (not the object its status names, %s) is still %s on OpenAI", live.Phase, o.ID, named, o.Status)
		}
	}
}

// checkFiles evaluates I4: every uploaded input file is used by running work or
// deleted, and no running work lost its input.
func checkFiles(out *violations, s *Snapshot) {
	running := map[string]Remote{} // input file id -> a running object using it
	for _, r := range s.Resources {
		for _, o := range r.Remote {
			for _, f := range o.InputFileIDs {
				if !o.Terminal && f != "" {
					running[f] = o
				}
			}
		}
	}
	uploaded := map[string]bool{}
	for _, f := range s.Files {
		uploaded[f.ID] = true
		if _, used := running[f.ID]; used {
			continue
		}
		if r := s.resource(f.Resource); r != nil && r.Live == nil && r.Deleted != nil &&
			(r.Deleted.KeepRunning || r.Deleted.CredentialsMissing && r.Events["CleanupAbandoned"] > 0) {
			// Left running on purpose, or the cleanup was given up, with a Warning, while
			// the credentials Secret was missing (as documented, and as I2 allows).
			continue
		}
		out.add(I4, f.Resource, "input file %s (%s) is left on OpenAI with no running batch using it", f.ID, f.Filename)
	}
	for _, r := range s.Resources {
		for _, o := range r.Remote {
			for _, f := range o.InputFileIDs {
				if !o.Terminal && f != "" && !uploaded[f] {
					out.add(I4, r.Kind.Kind()+" "+r.Plan.Name, "the input file %s of %s, still %s on OpenAI, was deleted", f, o.ID, o.Status)
				}
			}
		}
	}
}

// checkRefusals evaluates I6 per project under refusals.
func checkRefusals(out *violations, s *Snapshot) {
	for kind, ref := range s.Refused {
		var retryAfter time.Duration
		for _, w := range s.Windows {
			if w.Kind == kind {
				retryAfter = w.RetryAfter
			}
		}
		span := ref.Last.Sub(ref.First)
		restarts := s.Crashes + s.ProjectActions
		if bound := refusalBound(kind, span, retryAfter, s.Bounds, restarts); ref.Calls > bound {
			out.add(I6, "", "%d calls refused by %s over %s, above the bound of %d (per lane and gate: each of %d workers once, "+
				"then one backoff for the project; %d gate restarts)", ref.Calls, kind, span.Round(time.Millisecond), bound, s.Bounds.Workers, restarts)
		}
	}
}

func (s *Snapshot) resource(name string) *ResourceState {
	for _, r := range s.Resources {
		if r.Plan.Name == name {
			return r
		}
	}
	return nil
}

// explained reports whether a terminal resource with nothing on OpenAI ended for a
// reason the harness caused: OpenAI refused its create (400 or 422), the user
// cancelled, or the schedule made its input invalid.
func explained(r *ResourceState) bool {
	l := r.Live
	if l.Phase == phaseCancelled && l.Cancel {
		return true
	}
	if l.FailedReason == "InvalidInput" && r.InputInvalid {
		return true
	}
	for _, code := range r.Calls.CreateRefusals {
		if code == 400 || code == 422 {
			return true
		}
	}
	return false
}

// conditionsDisagree describes how the phase and the Complete and Failed conditions of o
// disagree, or returns "".
func conditionsDisagree(o *Observed) string {
	switch {
	case o.Complete && o.Failed:
		return fmt.Sprintf("Complete and Failed are both True (phase %s)", o.Phase)
	case o.Successful && !o.Complete:
		return fmt.Sprintf("phase %s without Complete=True", o.Phase)
	case o.Terminal && !o.Successful && !o.Failed:
		return fmt.Sprintf("phase %s without Failed=True", o.Phase)
	case !o.Terminal && (o.Complete || o.Failed):
		return fmt.Sprintf("phase %q with Complete=%v, Failed=%v", o.Phase, o.Complete, o.Failed)
	case o.Phase == "":
		// No status written yet: nothing for kstatus to read either.
	case o.Terminal == o.Reconciling:
		// kstatus (Flux, Argo CD) reads Reconciling=True as InProgress.
		return fmt.Sprintf("phase %s with Reconciling=%v", o.Phase, o.Reconciling)
	case o.Stalled != (o.Failed && o.FailedReason != phaseCancelled):
		// kstatus reads Stalled=True as Failed; work the user cancelled ended as asked.
		return fmt.Sprintf("phase %s with Stalled=%v beside Failed=%v (reason %s)", o.Phase, o.Stalled, o.Failed, o.FailedReason)
	case o.Ready != (o.Complete || o.Failed && o.FailedReason == phaseCancelled):
		// kstatus reads Ready=False (without Stalled) as InProgress.
		return fmt.Sprintf("phase %s with Ready=%v beside Complete=%v, Failed=%v (reason %s)", o.Phase, o.Ready, o.Complete, o.Failed, o.FailedReason)
	}
	return ""
}

// tracked returns the OpenAI objects of r that its status must account for: all of
// them, but for announced orphans (objects other than the named one, of a kind OpenAI
// cannot search).
func tracked(r *ResourceState, named string) []Remote {
	if !announcedOrphans(r) {
		return r.Remote
	}
	var out []Remote
	for _, o := range r.Remote {
		if o.ID == named {
			out = append(out, o)
		}
	}
	return out
}

// unsettled describes how a live resource differs from what OpenAI holds for it, or
// returns "" when it has settled there.
func unsettled(r *ResourceState, l *Observed) string {
	if l.ObservedGeneration != l.Generation {
		return fmt.Sprintf("status.observedGeneration %d behind metadata.generation %d (phase %s)", l.ObservedGeneration, l.Generation, l.Phase)
	}
	remote := tracked(r, l.RemoteID)
	if len(remote) == 0 {
		if !l.Terminal {
			return fmt.Sprintf("still %s, and OpenAI holds nothing for it", orNone(l.Phase))
		}
		return ""
	}
	var named *Remote
	for i := range remote {
		if remote[i].ID == l.RemoteID {
			named = &remote[i]
		}
	}
	switch {
	case l.RemoteID == "":
		return fmt.Sprintf("phase %s names no OpenAI object, though OpenAI holds %s", orNone(l.Phase), remoteList(remote))
	case named == nil:
		return fmt.Sprintf("names %s, which OpenAI does not hold for it (it holds %s)", l.RemoteID, remoteList(remote))
	case named.Phase != l.Phase:
		return fmt.Sprintf("phase %s, but %s is %s on OpenAI", orNone(l.Phase), named.ID, named.Status)
	case !named.Terminal && (r.Plan.Lifetime != LifetimeHang || l.Cancel):
		return fmt.Sprintf("%s is still %s on OpenAI", named.ID, named.Status)
	case l.Successful && l.ResultsWanted && named.HasOutput && !l.ResultsStored:
		return "Completed, but its results are not stored"
	}
	return ""
}

func failure(o *Observed) string {
	if o.FailedReason == "" && o.Message == "" {
		return "no message"
	}
	return strings.TrimSpace(o.FailedReason + ": " + o.Message)
}

func orNone(phase string) string {
	if phase == "" {
		return "(no phase)"
	}
	return phase
}

func remoteList(rs []Remote) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.ID + " " + r.Status
	}
	return strings.Join(parts, ", ")
}

func opList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
