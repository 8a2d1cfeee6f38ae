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
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// settled is a snapshot where every invariant holds: a completed batch whose input was
// deleted, a completed response, and a batch that hangs (in progress, its input in use).
func settled() *Snapshot {
	t0 := time.Now()
	calls := func(n int) CallStats {
		return CallStats{Calls: n, ByOp: map[string]int{"batches.retrieve": n}, Faults: map[Fault]int{}, First: t0, Last: t0.Add(2 * time.Second)}
	}
	return &Snapshot{
		Namespace: "ns",
		Bounds: Bounds{PollMin: 250 * time.Millisecond, PollMax: 2 * time.Second,
			BackoffMin: 250 * time.Millisecond, BackoffMax: 2 * time.Second, Workers: 4},
		Refused: map[string]refusals{},
		Files:   []RemoteFile{{ID: "file-2", Filename: "openai-operator_ns_b1_uid.jsonl", Resource: "b1"}},
		Resources: []*ResourceState{
			{
				Plan: ResourcePlan{Name: "b0", Kind: "OpenAIBatch", Lifetime: LifetimeFast}, Kind: batchKind{}, Created: true,
				Live: &Observed{Kind: "OpenAIBatch", Name: "b0", Generation: 1, ObservedGeneration: 1, Phase: "Completed", Terminal: true,
					Successful: true, Complete: true, Ready: true, RemoteID: "batch_1", ResultsWanted: true, ResultsStored: true},
				Remote: []Remote{{ID: "batch_1", Status: "completed", Terminal: true, Phase: "Completed", InputFileIDs: []string{"file-1"}, HasOutput: true}},
				Events: map[string]int{}, Calls: calls(5),
			},
			{
				Plan: ResourcePlan{Name: "r0", Kind: "OpenAIResponse", Lifetime: LifetimeFast}, Kind: responseKind{}, Created: true,
				Live: &Observed{Kind: "OpenAIResponse", Name: "r0", Generation: 1, ObservedGeneration: 1, Phase: "Completed", Terminal: true,
					Successful: true, Complete: true, Ready: true, RemoteID: "resp_1"},
				Remote: []Remote{{ID: "resp_1", Status: "completed", Terminal: true, Phase: "Completed", HasOutput: true}},
				Events: map[string]int{}, Calls: calls(2),
			},
			{
				Plan: ResourcePlan{Name: "b1", Kind: "OpenAIBatch", Lifetime: LifetimeHang}, Kind: batchKind{}, Created: true,
				Live: &Observed{Kind: "OpenAIBatch", Name: "b1", Generation: 1, ObservedGeneration: 1, Phase: "InProgress", Reconciling: true,
					RemoteID: "batch_2", CancelOnDelete: true},
				Remote: []Remote{{ID: "batch_2", Status: "in_progress", Phase: "InProgress", InputFileIDs: []string{"file-2"}}},
				Events: map[string]int{}, Calls: calls(4),
			},
		},
	}
}

func invariantsOf(vs []Violation) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !seen[v.Invariant] {
			seen[v.Invariant] = true
			out = append(out, v.Invariant)
		}
	}
	sort.Strings(out)
	return out
}

func TestCheckPassesASettledSeed(t *testing.T) {
	NewWithT(t).Expect(Check(settled())).To(BeEmpty())
}

// TestCheckFindsEachViolation breaks a settled snapshot in one way at a time: each break
// is reported as its invariant and only that one, and each allowed exception is not
// reported at all.
func TestCheckFindsEachViolation(t *testing.T) {
	res := func(s *Snapshot, name string) *ResourceState { return s.resource(name) }
	cases := map[string]struct {
		break_ func(s *Snapshot)
		want   []string
	}{
		"a second batch for one resource": {func(s *Snapshot) {
			res(s, "b0").Remote = append(res(s, "b0").Remote, Remote{ID: "batch_9", Status: "completed", Terminal: true, Phase: "Completed"})
		}, []string{I1}},
		"a response created again without a PossibleDuplicate Warning": {func(s *Snapshot) {
			res(s, "r0").Remote = append(res(s, "r0").Remote, Remote{ID: "resp_2", Status: "completed", Terminal: true, Phase: "Completed"})
		}, []string{I1}},
		"a response created again, its Warning lost with a crash, counted in status": {func(s *Snapshot) {
			res(s, "r0").Remote = append(res(s, "r0").Remote, Remote{ID: "resp_2", Status: "completed", Terminal: true, Phase: "Completed"})
			res(s, "r0").CreateAttempts = 2
		}, nil},
		"a response created three times, one Warning lost and the count behind": {func(s *Snapshot) {
			res(s, "r0").Remote = append(res(s, "r0").Remote, Remote{ID: "resp_2", Status: "completed", Terminal: true, Phase: "Completed"},
				Remote{ID: "resp_3", Status: "completed", Terminal: true, Phase: "Completed"})
			res(s, "r0").Events["PossibleDuplicate"] = 1
			res(s, "r0").CreateAttempts = 2
		}, []string{I1}},
		"a response created again and announced": {func(s *Snapshot) {
			res(s, "r0").Remote = append(res(s, "r0").Remote, Remote{ID: "resp_2", Status: "completed", Terminal: true, Phase: "Completed"})
			res(s, "r0").Events["PossibleDuplicate"] = 1
		}, nil},
		"a batch running after its resource was deleted": {func(s *Snapshot) {
			r := res(s, "b1")
			r.Live, r.Named, r.Deleted = nil, "batch_2", &Deletion{}
		}, []string{I2}},
		"a batch left running on purpose (cancelOnDelete false)": {func(s *Snapshot) {
			r := res(s, "b1")
			r.Live, r.Named, r.Deleted = nil, "batch_2", &Deletion{KeepRunning: true}
		}, nil},
		"a cleanup given up for missing credentials, announced": {func(s *Snapshot) {
			r := res(s, "b1")
			r.Live, r.Named, r.Deleted = nil, "batch_2", &Deletion{CredentialsMissing: true}
			r.Events["CleanupAbandoned"] = 1
		}, nil},
		"a response cancelled while one whose answer was lost runs, unannounced": {func(s *Snapshot) {
			r := res(s, "r0")
			r.Remote = []Remote{{ID: "resp_7", Status: "in_progress", Phase: "InProgress"}}
			r.Live.Phase, r.Live.Successful, r.Live.Complete = "Cancelled", false, false
			r.Live.Failed, r.Live.FailedReason, r.Live.RemoteID = true, "Cancelled", ""
			r.Live.Cancel = true
		}, []string{I3, I7}},
		"a response cancelled while one whose answer was lost runs, announced": {func(s *Snapshot) {
			r := res(s, "r0")
			r.Remote = []Remote{{ID: "resp_7", Status: "in_progress", Phase: "InProgress"}}
			r.Live.Phase, r.Live.Successful, r.Live.Complete = "Cancelled", false, false
			r.Live.Failed, r.Live.FailedReason, r.Live.RemoteID = true, "Cancelled", ""
			r.Live.Cancel = true
			r.Events["PossibleDuplicate"] = 1
		}, nil},
		"a batch cancelled while one whose answer was lost runs, announced or not": {func(s *Snapshot) {
			r := res(s, "b1")
			r.Live.Phase, r.Live.Terminal, r.Live.Failed, r.Live.FailedReason, r.Live.RemoteID, r.Live.Cancel = "Cancelled", true, true, "Cancelled", "", true
			r.Events["PossibleDuplicate"] = 1
		}, []string{I3, I7}},
		"a terminal resource with a duplicate still running": {func(s *Snapshot) {
			res(s, "b0").Remote = append(res(s, "b0").Remote, Remote{ID: "batch_9", Status: "in_progress", Phase: "InProgress"})
		}, []string{I1, I2}},
		"Failed while the batch runs": {func(s *Snapshot) {
			l := res(s, "b1").Live
			l.Phase, l.Terminal, l.Failed, l.FailedReason = "Failed", true, true, "Rejected"
		}, []string{I3, I7}},
		"Failed with nothing created and nothing refused": {func(s *Snapshot) {
			r := res(s, "r0")
			r.Remote = nil
			r.Live.Phase, r.Live.Successful, r.Live.Complete = "Failed", false, false
			r.Live.Failed, r.Live.FailedReason, r.Live.RemoteID = true, "Rejected", ""
		}, []string{I3}},
		"Failed after OpenAI refused the create": {func(s *Snapshot) {
			r := res(s, "r0")
			r.Remote = nil
			r.Live.Phase, r.Live.Successful, r.Live.Complete = "Failed", false, false
			r.Live.Failed, r.Live.FailedReason, r.Live.RemoteID = true, "Rejected", ""
			r.Calls.CreateRefusals = []int{400}
		}, nil},
		"an upload left behind": {func(s *Snapshot) {
			s.Files = append(s.Files, RemoteFile{ID: "file-3", Filename: "openai-operator_ns_b0_uid.jsonl", Resource: "b0"})
		}, []string{I4}},
		"the input of a running batch deleted": {func(s *Snapshot) { s.Files = nil }, []string{I4}},
		"an upload left by a cleanup given up for missing credentials, announced": {func(s *Snapshot) {
			r := res(s, "b0")
			r.Live, r.Named, r.Deleted = nil, "batch_1", &Deletion{CredentialsMissing: true}
			r.Events["CleanupAbandoned"] = 1
			s.Files = append(s.Files, RemoteFile{ID: "file-1", Filename: "openai-operator_ns_b0_uid.jsonl", Resource: "b0"})
		}, nil},
		"an upload left by a deleted resource while the credentials were missing, unannounced": {func(s *Snapshot) {
			r := res(s, "b0")
			r.Live, r.Named, r.Deleted = nil, "batch_1", &Deletion{CredentialsMissing: true}
			s.Files = append(s.Files, RemoteFile{ID: "file-1", Filename: "openai-operator_ns_b0_uid.jsonl", Resource: "b0"})
		}, []string{I4}},
		"Complete and Failed both True": {func(s *Snapshot) {
			l := res(s, "b0").Live
			l.Failed, l.FailedReason = true, "Rejected"
		}, []string{I5}},
		"too many calls for one resource": {func(s *Snapshot) {
			res(s, "b0").Calls.Calls = 200
		}, []string{I6}},
		"a project retrying every 250 ms under insufficient_quota": {func(s *Snapshot) {
			t0 := time.Now()
			s.Refused[WindowQuota] = refusals{Calls: 21, First: t0, Last: t0.Add(5 * time.Second)}
		}, []string{I6}},
		"a project backing off under insufficient_quota": {func(s *Snapshot) {
			t0 := time.Now()
			// Each lane: 4 workers' calls, then retries after 0.25, 0.5, 1 and 2 s.
			s.Refused[WindowQuota] = refusals{Calls: 16, First: t0, Last: t0.Add(5 * time.Second)}
		}, nil},
		"a project backing off under insufficient_quota, restarted by a crash": {func(s *Snapshot) {
			t0 := time.Now()
			s.Crashes = 1
			s.Refused[WindowQuota] = refusals{Calls: 32, First: t0, Last: t0.Add(5 * time.Second)}
		}, nil},
		"a project retrying at once under a rate limit": {func(s *Snapshot) {
			t0 := time.Now()
			s.Refused[WindowRateLimitNoHeader] = refusals{Calls: 9, First: t0, Last: t0.Add(5 * time.Second)}
		}, []string{I6}},
		"a status behind OpenAI": {func(s *Snapshot) {
			l := res(s, "r0").Live
			l.Phase, l.Terminal, l.Successful, l.Complete = "InProgress", false, false, false
		}, []string{I7}},
		"observedGeneration behind": {func(s *Snapshot) { res(s, "b0").Live.Generation = 2 }, []string{I7}},
		"results not stored":        {func(s *Snapshot) { res(s, "b0").Live.ResultsStored = false }, []string{I7}},
		"a deletion that never finishes": {func(s *Snapshot) {
			r := res(s, "b0")
			r.Live.Deleting, r.Deleted = true, &Deletion{}
		}, []string{I7}},
	}
	// The conditions kstatus reads, broken alone: every other case keeps them in
	// agreement with the phase it sets (withHealth).
	health := map[string]struct {
		break_ func(s *Snapshot)
		want   []string
	}{
		"a running batch without Reconciling": {func(s *Snapshot) { res(s, "b1").Live.Reconciling = false }, []string{I5}},
		"a completed batch still Reconciling": {func(s *Snapshot) { res(s, "b0").Live.Reconciling = true }, []string{I5}},
		"a completed response without Ready":  {func(s *Snapshot) { res(s, "r0").Live.Ready = false }, []string{I5}},
		"a failed response without Stalled": {func(s *Snapshot) {
			l := res(s, "r0").Live
			l.Phase, l.Successful, l.Complete, l.Ready, l.Failed, l.FailedReason = "Failed", false, false, false, true, "Failed"
			res(s, "r0").Remote[0].Status, res(s, "r0").Remote[0].Phase = "failed", "Failed"
		}, []string{I5}},
		"a failed response, Stalled": {func(s *Snapshot) {
			l := res(s, "r0").Live
			l.Phase, l.Successful, l.Complete, l.Ready, l.Failed, l.FailedReason, l.Stalled = "Failed", false, false, false, true, "Failed", true
			res(s, "r0").Remote[0].Status, res(s, "r0").Remote[0].Phase = "failed", "Failed"
		}, nil},
	}
	for name, tc := range health {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			s := settled()
			tc.break_(s)
			got := Check(s)
			g.Expect(invariantsOf(got)).To(Equal(tc.want), "%v", got)
		})
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			s := settled()
			tc.break_(s)
			withHealth(s)
			got := Check(s)
			g.Expect(invariantsOf(got)).To(Equal(tc.want), "%v", got)
		})
	}
}

// withHealth sets the conditions kstatus reads as the controllers derive them from the
// phase and Complete and Failed.
func withHealth(s *Snapshot) {
	for _, r := range s.Resources {
		if l := r.Live; l != nil {
			l.Reconciling, l.Stalled, l.Ready = !l.Terminal, l.Failed && l.FailedReason != "Cancelled", l.Complete || l.Failed && l.FailedReason == "Cancelled"
		}
	}
}
