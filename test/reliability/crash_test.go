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
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

// killSlot is the stretch of the stream of new batches that holds one kill of the
// manager (a restart takes well under a second).
const killSlot = 1500 * time.Millisecond

// TestManagerKilledMidSubmissionCreatesEachBatchOnce kills the manager with SIGKILL
// while batches are being submitted, and restarts it each time, as a Deployment would.
// The kills take turns: right after OpenAI created a batch but before the manager could
// learn its id (a proxy between the manager and OpenAI holds the answer back and kills
// the manager), at a random point, and right after an input upload. So the next process
// must find the batch (or the upload) on OpenAI and adopt it. In the end every batch is
// Complete, OpenAI saw exactly one create and one upload per resource, each resource
// names its own batch, and no input file is left behind.
//
// The manager runs without leader election here (one replica), so a restart takes
// over at once; TestLeaderHandoverCreatesEachBatchOnce covers the lease.
func TestManagerKilledMidSubmissionCreatesEachBatchOnce(t *testing.T) {
	t.Parallel()
	rec := record(t)
	const ns = "crash"
	proxy := startProxy(t)
	args := append([]string{"--leader-elect=false", "--openai-base-url=" + proxy.URL()}, fastPolls...)
	h := up(t, envOptions{timeScale: 0.05, namespaces: []string{ns}, managerArgs: args})
	proxy.setTarget(h.EmulatorURL)
	c := h.ControlPlane.Client
	tr := track(t, h.ControlPlane.Config, ns)
	r := rng(t)
	n, kills := size.crashBatches, size.crashKills

	objs := make([]client.Object, n)
	for i := range objs {
		objs[i] = newBatch(ns, fmt.Sprintf("crash-%03d", i), 1)
	}
	// The kills are spread over the stream of creations, each at a random moment of
	// its own slot.
	streamFor := time.Duration(kills) * killSlot
	start := time.Now()
	streamDone := createStream(t, c, objs, streamFor/time.Duration(n))

	kinds := map[string]int{}
	var inCreateWindow, inUploadWindow int
	for k := 0; k < kills; k++ {
		slot := start.Add(time.Duration(k) * killSlot)
		time.Sleep(time.Until(slot.Add(time.Duration(r.Int64N(int64(killSlot / 2))))))
		created := h.emulatorStats().Calls[emulator.OpBatchesCreate]
		switch kind := []string{emulator.OpBatchesCreate, "random", emulator.OpFilesCreate}[k%3]; kind {
		case "random":
			t.Logf("kill %d: SIGKILL the manager at a random point (%d of %d batches created on OpenAI)", k+1, created, n)
			h.proc("manager").Kill()
			kinds[kind]++
		default:
			p := h.proc("manager")
			killed := proxy.arm(kind, p.Kill)
			select {
			case <-killed:
				t.Logf(
					"kill %d: SIGKILL the manager after OpenAI answered %s, before the answer reached it (%d of %d batches created on OpenAI)",
					k+1,
					kind,
					h.emulatorStats().Calls[emulator.OpBatchesCreate],
					n,
				)
				kinds[kind]++
			case <-time.After(30 * time.Second):
				proxy.arm("", nil)
				t.Logf("kill %d: no %s within 30s; SIGKILL the manager anyway", k+1, kind)
				p.Kill()
				kinds["random"]++
			}
		}
		// Where the kill landed, read before a new manager can change anything: a batch
		// on OpenAI that no status names (the create window), or an upload that no
		// status names and no batch uses (the upload window).
		caught, uploads := openWindows(t, h, ns)
		t.Logf("kill %d landed with %d resources in the create window and %d in the upload window", k+1, caught, uploads)
		if caught > 0 {
			inCreateWindow++
		}
		if uploads > 0 {
			inUploadWindow++
		}
		if _, err := h.StartManager("manager"); err != nil {
			t.Fatalf("restarting the manager: %v", err)
		}
	}
	<-streamDone
	streamed := time.Since(start)
	took := waitComplete(t, c, ns, n, 3*time.Minute+time.Duration(n)*time.Second)

	stats := checkEachBatchOnce(t, h, tr, ns, n)
	reasons := eventReasons(t, c, ns)
	if kinds[emulator.OpBatchesCreate] > 0 && reasons["Adopted"] == 0 {
		t.Errorf("a batch was created on OpenAI by a killed manager, but no Adopted event was recorded")
	}
	// Every third kill waits for a create to be answered: those, at least, must have
	// landed inside the create window, or the scenario did not test what it promises.
	minInCreateWindow := (kills + 2) / 3
	if inCreateWindow < minInCreateWindow {
		t.Errorf(
			"%d of %d kills landed in the create window (a batch on OpenAI that no status named), want at least %d",
			inCreateWindow,
			kills,
			minInCreateWindow,
		)
	}

	rec.setup("batches", n)
	rec.setup("manager kills (SIGKILL)", kills)
	rec.add(
		"kills that landed in the create window (a batch on OpenAI that no status named)",
		fmt.Sprintf("%d (at least %d required)", inCreateWindow, minInCreateWindow),
	)
	rec.add("kills that landed in the upload window (an upload that no status named and no batch used)", inUploadWindow)
	rec.add("kills after OpenAI created a batch, before the manager saw the answer", kinds[emulator.OpBatchesCreate])
	rec.add("kills after an upload, before the manager saw the answer", kinds[emulator.OpFilesCreate])
	rec.add("kills at a random point", kinds["random"])
	rec.add("batches adopted from OpenAI after a crash (Adopted events)", reasons["Adopted"])
	rec.add("batches.create calls", stats.Calls[emulator.OpBatchesCreate])
	rec.add("files.create calls", stats.Calls[emulator.OpFilesCreate])
	rec.add("files.create calls that stored a file", stats.Succeeded[emulator.OpFilesCreate])
	rec.add("batches.list calls (searches after a restart)", stats.Calls[emulator.OpBatchesList])
	rec.add("all API calls", sumCalls(stats))
	recordRestamped(rec, tr)
	rec.add("stream of creations (kills included)", streamed)
	rec.add("time from the end of the stream to all Complete", took)
	h.recordPeakRSS(rec)
}

// openWindows counts the OpenAIBatches of ns caught between OpenAI's answer and the
// status write that records it: with a batch on OpenAI that their status does not name
// (created), or with an input file on OpenAI that their status does not name and that no
// batch of theirs uses (uploaded).
func openWindows(t *testing.T, h *harness, ns string) (created, uploaded int) {
	t.Helper()
	api := h.sdk()
	batches := remoteBatches(t, api, ns)
	files := remoteInputFiles(t, api, ns)
	var list openaiv1alpha1.OpenAIBatchList
	if err := h.ControlPlane.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, b := range list.Items {
		remote := batches[ns+"/"+b.Name+"/"+string(b.UID)]
		if len(remote) > 0 && b.Status.BatchID == "" {
			created++
			continue
		}
		if len(remote) > 0 || b.Status.InputFileID != "" {
			continue
		}
		for _, f := range files {
			if strings.Contains(f.Filename, string(b.UID)) {
				uploaded++
				break
			}
		}
	}
	return created, uploaded
}

// waitInputFilesDeleted waits until OpenAI holds none of the input files the operator
// uploaded for ns.
func waitInputFilesDeleted(t *testing.T, h *harness, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		files := remoteInputFiles(t, h.sdk(), ns)
		if len(files) == 0 {
			return
		}
		if time.Now().After(deadline) {
			names := make([]string, 0, len(files))
			for _, f := range files {
				names = append(names, f.Filename)
			}
			t.Errorf("input files left on OpenAI after every batch ended: %v", names)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// sumCalls adds every API call the emulator counted.
func sumCalls(s emulator.Stats) int64 {
	var n int64
	for _, v := range s.Calls {
		n += v
	}
	return n
}

// TestLeaderHandoverCreatesEachBatchOnce runs two managers with leader election and
// kills the leader with SIGKILL in the middle of a stream of batches; the standby takes
// the lease over once it expires and finishes the work. The killed one comes back as
// the new standby, and the next wave kills the new leader. In the end every batch is
// Complete and OpenAI saw exactly one create per resource.
func TestLeaderHandoverCreatesEachBatchOnce(t *testing.T) {
	t.Parallel()
	rec := record(t)
	const ns = "handover"
	h := up(t, envOptions{timeScale: 0.05, namespaces: []string{ns}, managerArgs: fastPolls})
	c := h.ControlPlane.Client
	tr := track(t, h.ControlPlane.Config, ns)
	r := rng(t)
	if _, err := h.StartManager("manager-b"); err != nil {
		t.Fatalf("starting the standby: %v", err)
	}
	names := [2]string{"manager", "manager-b"}
	leader := waitLeader(t, h, names[:], time.Minute)

	n, waves := size.handoverBatches, size.handovers
	perWave := n / waves
	var takeovers []time.Duration
	for w := range waves {
		count := perWave
		if w == waves-1 {
			count = n - perWave*(waves-1)
		}
		objs := make([]client.Object, count)
		for i := range objs {
			objs[i] = newBatch(ns, fmt.Sprintf("wave%d-%03d", w, i), 1)
		}
		streamFor := 4 * time.Second
		done := createStream(t, c, objs, streamFor/time.Duration(count))
		time.Sleep(streamFor/4 + time.Duration(r.Int64N(int64(streamFor/4))))
		created := h.emulatorStats().Calls[emulator.OpBatchesCreate]
		t.Logf("wave %d: SIGKILL the leader %s (%d batch creates on OpenAI so far)", w+1, leader, created)
		killed := time.Now()
		h.proc(leader).Kill()
		standby := names[0]
		if leader == names[0] {
			standby = names[1]
		}
		if got := waitLeader(t, h, []string{standby}, 90*time.Second); got != standby {
			t.Fatalf("the standby did not take over")
		}
		takeovers = append(takeovers, time.Since(killed))
		t.Logf("wave %d: %s took over after %s", w+1, standby, time.Since(killed).Round(time.Millisecond))
		if _, err := h.StartManager(leader); err != nil {
			t.Fatalf("restarting %s as the standby: %v", leader, err)
		}
		leader = standby
		<-done
	}
	took := waitComplete(t, c, ns, n, 3*time.Minute+time.Duration(n)*time.Second)

	stats := checkEachBatchOnce(t, h, tr, ns, n)

	rec.setup("batches", n)
	rec.setup("leader kills (SIGKILL)", waves)
	for i, d := range takeovers {
		rec.add(fmt.Sprintf("handover %d: kill to standby leading", i+1), d)
	}
	rec.add("batches.create calls", stats.Calls[emulator.OpBatchesCreate])
	rec.add("files.create calls", stats.Calls[emulator.OpFilesCreate])
	rec.add("all API calls", sumCalls(stats))
	recordRestamped(rec, tr)
	rec.add("time from the last stream to all Complete", took)
	h.recordPeakRSS(rec)
}

// waitLeader waits until exactly one of the named managers leads and returns it.
func waitLeader(t *testing.T, h *harness, names []string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var leaders []string
		for _, name := range names {
			if p := h.Processes()[name]; p != nil && p.Running() && isLeader(t, p) {
				leaders = append(leaders, name)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single leader among %v after %s (leading: %v)", names, timeout, leaders)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkEachBatchOnce checks what both crash scenarios promise for the n batches of ns:
// one upload and one batch made on OpenAI for each (its counters and its list),
// Complete set once each, and no input file left behind. It returns the emulator's
// counters. What OpenAI made is counted, not calls: a manager killed while it sent an
// upload leaves OpenAI a cut-off request that made no file (the emulator counts it as a
// call). A full run at 7051c46 counted 201 upload calls for 200 resources, with 200
// batches and every upload deleted; its logs were not kept, so what the 201st call was
// is not known; a second stored upload still fails this check.
func checkEachBatchOnce(t *testing.T, h *harness, tr *tracker, ns string, n int) emulator.Stats {
	t.Helper()
	stats := h.emulatorStats()
	if got := stats.Succeeded[emulator.OpBatchesCreate]; got != int64(n) {
		t.Errorf("OpenAI made %d batches for %d resources (%d create calls)", got, n, stats.Calls[emulator.OpBatchesCreate])
	}
	if got := stats.Succeeded[emulator.OpFilesCreate]; got != int64(n) {
		t.Errorf("OpenAI stored %d uploads for %d resources (%d upload calls)", got, n, stats.Calls[emulator.OpFilesCreate])
	}
	checkBatchesOnOpenAI(t, h.sdk(), h.ControlPlane.Client, ns, n)
	tr.completedOnce(t, n)
	waitInputFilesDeleted(t, h, ns)
	return stats
}
