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
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
)

// TestLostAndLateWebhooksLoseNothing streams batches and background responses to the
// operator while the emulator drops 10% of the webhook deliveries and the receiver is
// killed (SIGKILL) and restarted a few times, so that deliveries fail and the emulator
// retries them on OpenAI's schedule. Every resource still reaches Complete (through its
// webhook or through polling), and none is processed twice: one create each on OpenAI,
// Complete set once per resource (seen by a watch), one Completed transition each in
// the manager's metrics.
func TestLostAndLateWebhooksLoseNothing(t *testing.T) {
	t.Parallel()
	rec := record(t)
	const ns, dropRate = "webhooks", 0.1
	r := rng(t)
	h := up(t, envOptions{
		timeScale:    1,
		namespaces:   []string{ns},
		emulatorArgs: []string{fmt.Sprintf("--webhook-drop-rate=%v", dropRate), fmt.Sprintf("--seed=%d", r.Int64N(1<<40)+1)},
		// Polling scaled down: 1 s to 10 s before the project's webhooks arrive, then the
		// safety net from 5 s to 30 s (by default 15 s to 10 min, then 10 min to 6 h).
		managerArgs: []string{"--poll-interval-min=1s", "--poll-interval-max=10s",
			"--webhook-poll-interval-min=5s", "--webhook-poll-interval-max=30s", "--retry-interval=1s"},
	})
	c := h.ControlPlane.Client
	tr := track(t, h.ControlPlane.Config, ns)
	nb, nr, kills := size.webhookBatches, size.webhookResponses, size.receiverKills
	n := nb + nr

	// Batches and responses interleaved.
	objs := make([]client.Object, 0, n)
	for i := 0; i < max(nb, nr); i++ {
		if i < nb {
			objs = append(objs, newBatch(ns, fmt.Sprintf("batch-%04d", i), 1))
		}
		if i < nr {
			objs = append(objs, newResponse(ns, fmt.Sprintf("response-%04d", i)))
		}
	}
	streamFor := time.Duration(kills+1) * 4 * time.Second
	if size == fullScale {
		streamFor = 40 * time.Second
	}
	start := time.Now()
	done := createStream(t, c, objs, streamFor/time.Duration(n))

	var downtime time.Duration
	for k := range kills {
		slot := start.Add(streamFor * time.Duration(k+1) / time.Duration(kills+1))
		time.Sleep(time.Until(slot.Add(time.Duration(r.Int64N(int64(time.Second))))))
		down := 500*time.Millisecond + time.Duration(r.Int64N(int64(2500*time.Millisecond)))
		t.Logf("kill %d: SIGKILL the receiver for %s", k+1, down.Round(time.Millisecond))
		h.proc("webhook-receiver").Kill()
		killed := time.Now()
		time.Sleep(down)
		if _, err := h.StartReceiver(); err != nil {
			t.Fatalf("restarting the receiver: %v", err)
		}
		downtime += time.Since(killed)
	}
	<-done
	took := waitComplete(t, c, ns, n, 2*time.Minute+time.Duration(n)*50*time.Millisecond)
	total := time.Since(start)

	stats := h.emulatorStats()
	if got := stats.Calls[emulator.OpBatchesCreate]; got != int64(nb) {
		t.Errorf("OpenAI received %d batch creates for %d OpenAIBatches", got, nb)
	}
	if got := stats.Calls[emulator.OpResponsesCreate]; got != int64(nr) {
		t.Errorf("OpenAI received %d response creates for %d OpenAIResponses", got, nr)
	}
	checkBatchesOnOpenAI(t, h.sdk(), h.ControlPlane.Client, ns, nb)
	tr.completedOnce(t, n)
	// The manager's own count of transitions to Completed, and its Completed Events:
	// exactly one per resource. More would mean a pass acted on a stale read of a
	// resource another pass had just completed (status writes carry the resource
	// version they read, so such a pass loses its write and runs again).
	m := scrape(t, h.proc("manager").MetricsURL)
	transitions := map[string]float64{}
	for kind, want := range map[string]int{"OpenAIBatch": nb, "OpenAIResponse": nr} {
		got := m.sum("openai_operator_phase_transitions_total", "kind", kind, "phase", "Completed")
		transitions[kind] = got
		switch {
		case got < float64(want):
			t.Errorf("the manager counted %v transitions of %s to Completed, want %d", got, kind, want)
		case got > float64(want):
			t.Errorf("the manager counted %v transitions of %s to Completed for %d resources (a pass acted on a stale read)", got, kind, want)
			for name, lines := range repeatedTransitions(h.proc("manager").Log(), kind, "Completed", 3) {
				t.Logf("%s %s went Completed in more than one pass:\n%s", kind, name, strings.Join(lines, "\n"))
			}
		}
	}
	restampedResources, restamped := tr.restamped()
	if restamped > 0 {
		t.Errorf("%d resources had Complete written again with a new lastTransitionTime (a pass acted on a stale read)", restampedResources)
	}
	completedEvents := eventReasons(t, c, ns)["Completed"]
	if completedEvents < n {
		t.Errorf("%d Completed Events for %d resources", completedEvents, n)
	}

	// How each resource learned of its end.
	var dropped, retried, deliveredAfterRetry, failedOrPending int
	for _, d := range stats.Webhooks {
		switch {
		case d.State == emulator.DeliveryDropped:
			dropped++
		case d.State == emulator.DeliveryDelivered && d.Attempts > 1+boolInt(d.Duplicated):
			deliveredAfterRetry++
		case d.State != emulator.DeliveryDelivered:
			failedOrPending++
		}
		if d.Attempts > 1+boolInt(d.Duplicated) {
			retried++
		}
	}
	var withWebhook, pollingOnly int
	var batches openaiv1alpha1.OpenAIBatchList
	var responses openaiv1alpha1.OpenAIResponseList
	if err := c.List(context.Background(), &batches, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if err := c.List(context.Background(), &responses, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	count := func(ev *openaiv1alpha1.WebhookEvent) {
		if ev != nil {
			withWebhook++
		} else {
			pollingOnly++
		}
	}
	for _, b := range batches.Items {
		count(b.Status.LastWebhookEvent)
	}
	for _, r := range responses.Items {
		count(r.Status.LastWebhookEvent)
	}
	if dropped > 0 && pollingOnly == 0 {
		t.Errorf("%d deliveries were dropped, yet every resource records a webhook event", dropped)
	}

	rec.setup("batches + responses", fmt.Sprintf("%d + %d", nb, nr))
	rec.setup("receiver kills (SIGKILL)", kills)
	rec.setup("the emulator's webhook drop rate", fmt.Sprintf("%.0f%%", 100*dropRate))
	rec.add("receiver downtime in all", downtime)
	rec.add("webhook deliveries", len(stats.Webhooks))
	rec.add("deliveries dropped by the emulator's drop knob", dropped)
	rec.add("deliveries retried by the emulator (receiver down)", retried)
	rec.add("deliveries that succeeded on a retry", deliveredAfterRetry)
	rec.add("deliveries never answered 2xx by the end", failedOrPending)
	rec.add("resources recording their webhook event", withWebhook)
	rec.add("resources completed by polling alone (no event recorded)", pollingOnly)
	rec.add(
		"Completed transitions counted by the manager (batches / responses)",
		fmt.Sprintf("%v / %v", transitions["OpenAIBatch"], transitions["OpenAIResponse"]),
	)
	rec.add("Completed Events", completedEvents)
	recordRestamped(rec, tr)
	rec.add(
		"batches.create / responses.create calls",
		fmt.Sprintf("%d / %d", stats.Calls[emulator.OpBatchesCreate], stats.Calls[emulator.OpResponsesCreate]),
	)
	rec.add("retrieve calls (batches + responses)", stats.Calls[emulator.OpBatchesRetrieve]+stats.Calls[emulator.OpResponsesRetrieve])
	rec.add("all API calls", sumCalls(stats))
	rec.add("time from the first create to all Complete", total)
	rec.add("time from the end of the stream to all Complete", took)
	h.recordPeakRSS(rec)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// repeatedTransitions returns, for up to max resources of kind that the manager's log
// shows entering phase more than once, the log lines that say so.
func repeatedTransitions(log, kind, phase string, max int) map[string][]string {
	byName := map[string][]string{}
	for _, line := range strings.Split(log, "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || !strings.HasSuffix(fmt.Sprint(entry["msg"]), "phase changed") || entry["phase"] != phase {
			continue
		}
		ref, ok := entry[kind].(map[string]any)
		if !ok {
			continue
		}
		name := fmt.Sprint(ref["name"])
		byName[name] = append(byName[name], fmt.Sprintf("  %v reconcileID=%v", entry["ts"], entry["reconcileID"]))
	}
	out := map[string][]string{}
	for name, lines := range byName {
		if len(lines) > 1 && len(out) < max {
			out[name] = lines
		}
	}
	return out
}
