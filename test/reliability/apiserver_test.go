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
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/devenv"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// TestAPIServerTroubleLosesNothing takes the API server away from the operator twice.
//
// First the receiver's RBAC binding is deleted while a delivery is retried, as OpenAI
// retries: the receiver answers 503 (so OpenAI keeps retrying), records nothing,
// remembers nothing (the retry is recorded, not dropped as a duplicate), and accepts
// the same delivery once the binding is back, without a restart.
//
// Then the API server itself is stopped and started again (same etcd, certificates and
// port) while batches and responses run on OpenAI: their webhooks fail meanwhile, the
// receiver answers 503, and the manager keeps running: same process, everything
// completes, one create each. This manager runs without leader election, so that its
// survival does not depend on how fast the API server restarts on a loaded machine.
// With leader election (as deployed), an outage longer than the lease's renew deadline
// (10 s) makes controller-runtime stop the manager on purpose ("leader election lost");
// at full scale a second, 15 s outage shows that: the test restarts the manager as the
// kubelet would, and still nothing is lost or created twice.
//
//nolint:gocyclo // the scenario's phases, top to bottom as the doc comment tells them
func TestAPIServerTroubleLosesNothing(t *testing.T) {
	t.Parallel()
	rec := record(t)
	const ns, outageNS = "restart", "outage"
	h := up(t, envOptions{timeScale: 1, namespaces: []string{ns}, managerArgs: append([]string{"--leader-elect=false"}, fastPolls...)})
	c := h.ControlPlane.Client
	recv, mgr := h.proc("webhook-receiver"), h.proc("manager")
	recvPID, mgrPID := recv.Pid(), mgr.Pid()
	secret, err := standardwebhooks.ParseSecret(h.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	// The receiver's target lives in a namespace without credentials, so the manager
	// leaves it alone (Pending) and its status carries a made-up OpenAI id.
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: outageNS}}); err != nil {
		t.Fatal(err)
	}
	target := hostileTarget(outageNS, 0)
	createAll(t, c, []client.Object{target})
	setHostileStatus(t, c, target)
	created := time.Now().Add(-time.Minute)
	delivery := func(n string) *hostileRequest {
		return signed(secret, "wh_"+n, time.Now(), eventBody("evt_"+n, targetEventType(0), created, targetID(0)))
	}
	recorded := func() string {
		if ev := lastWebhookEvent(t, c, target); ev != nil {
			return ev.ID
		}
		return ""
	}
	if code := sendUntil(t, h.ReceiverURL, delivery("warm"), http.StatusOK, 30*time.Second); code != http.StatusOK {
		t.Fatalf("the warm-up event got %d", code)
	}

	// 1. The receiver's RBAC binding is deleted, then restored.
	bindings := receiverBindings(t, c)
	revoked := time.Now()
	for _, b := range bindings {
		if err := c.Delete(context.Background(), b.DeepCopy()); err != nil {
			t.Fatalf("deleting %s: %v", b.Name, err)
		}
	}
	// New deliveries until one is refused (RBAC changes apply at once, but be sure).
	var failed *hostileRequest
	var failedID string
	for i := 0; failed == nil; i++ {
		n := fmt.Sprintf("rbac_%d", i)
		q := delivery(n)
		code, err := send(httpClient, h.ReceiverURL, q)
		switch {
		case err != nil:
			t.Fatalf("sending: %v", err)
		case code == http.StatusServiceUnavailable:
			failed, failedID = q, "evt_"+n
		case code != http.StatusOK || time.Since(revoked) > 30*time.Second:
			t.Fatalf("after the RBAC binding was deleted the receiver answered %d (after %s)", code, time.Since(revoked).Round(time.Millisecond))
		}
	}
	rbac503After := time.Since(revoked)
	for range 3 { // OpenAI retries: still refused, nothing recorded
		if code, err := send(httpClient, h.ReceiverURL, failed); err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("a retry without RBAC got %d %v, want 503", code, err)
		}
	}
	if recorded() == failedID {
		t.Fatalf("the event was recorded although the receiver answered 503")
	}
	restored := time.Now()
	for _, b := range bindings {
		b.ResourceVersion, b.UID, b.CreationTimestamp, b.ManagedFields = "", "", metav1.Time{}, nil
		if err := c.Create(context.Background(), &b); err != nil {
			t.Fatalf("restoring %s: %v", b.Name, err)
		}
	}
	if code := sendUntil(t, h.ReceiverURL, failed, http.StatusOK, time.Minute); code != http.StatusOK {
		t.Fatalf("after the RBAC binding came back the retry got %d", code)
	}
	rbacRecovery := time.Since(restored)
	if got := recorded(); got != failedID {
		t.Errorf("after recovery the resource records %q, want %q", got, failedID)
	}

	// 2. The API server restarts while work runs on OpenAI.
	nb, nr := 4, 4
	if size == fullScale {
		nb, nr = 20, 20
	}
	wave := func(name string) []client.Object {
		var objs []client.Object
		for i := range nb {
			objs = append(objs, newBatch(ns, fmt.Sprintf("%s-batch-%02d", name, i), 5))
		}
		for i := range nr {
			objs = append(objs, newResponse(ns, fmt.Sprintf("%s-response-%02d", name, i)))
		}
		return objs
	}
	createAll(t, c, wave("before"))
	waitSubmitted(t, c, ns, nb+nr, time.Minute)
	inFlightBefore := inFlight(t, c, ns)
	outage := restartAPIServer(t, h, time.Second, func() {
		// Meanwhile the receiver cannot write, and says so.
		for range 3 {
			code, err := send(httpClient, h.ReceiverURL, delivery("down"))
			if err != nil || code != http.StatusServiceUnavailable {
				t.Errorf("while the API server was down the receiver answered %d %v, want 503", code, err)
			}
		}
	})
	backAt := time.Now()
	inFlightAfter := inFlight(t, c, ns)
	if code := sendUntil(t, h.ReceiverURL, delivery("down"), http.StatusOK, time.Minute); code != http.StatusOK {
		t.Fatalf("after the API server restarted the retry got %d", code)
	}
	apiRecovery := time.Since(backAt)
	createAll(t, c, wave("after"))
	took := waitComplete(t, c, ns, 2*(nb+nr), 2*time.Minute)
	survived := mgr.Running() && mgr.Pid() == mgrPID
	if !survived {
		t.Errorf("the manager did not survive the API server restart:\n%s", lastLines(mgr.Log(), 20))
	}
	want := 2 * nb

	// 3. At full scale: an outage longer than the leader election's renew deadline.
	longOutage, mgrExited := time.Duration(0), false
	if size == fullScale {
		mgr.Stop()
		le, err := h.StartManager("manager-le", "--leader-elect=true")
		if err != nil {
			t.Fatalf("starting a manager with leader election: %v", err)
		}
		waitLeader(t, h, []string{"manager-le"}, time.Minute)
		createAll(t, c, wave("long"))
		waitSubmitted(t, c, ns, 3*(nb+nr), time.Minute)
		longOutage = restartAPIServer(t, h, 15*time.Second, nil)
		deadline := time.Now().Add(30 * time.Second)
		for le.Running() && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if !le.Running() {
			mgrExited = true
			if !strings.Contains(le.Log(), "leader election lost") {
				t.Errorf("the manager exited for another reason than a lost lease:\n%s", lastLines(le.Log(), 20))
			}
			if _, err := h.StartManager("manager-le", "--leader-elect=true"); err != nil { // as the kubelet would
				t.Fatalf("restarting the manager: %v", err)
			}
		}
		waitComplete(t, c, ns, 3*(nb+nr), 3*time.Minute)
		want = 3 * nb
	}

	stats := h.emulatorStats()
	if got := stats.Calls[emulator.OpBatchesCreate]; got != int64(want) {
		t.Errorf("OpenAI received %d batch creates for %d OpenAIBatches", got, want)
	}
	if got, wantR := stats.Calls[emulator.OpResponsesCreate], int64(want/nb*nr); got != wantR {
		t.Errorf("OpenAI received %d response creates for %d OpenAIResponses", got, wantR)
	}
	checkBatchesOnOpenAI(t, h.sdk(), h.ControlPlane.Client, ns, want)
	sameReceiver := recv.Running() && recv.Pid() == recvPID
	if !sameReceiver {
		t.Errorf("the receiver process restarted or died")
	}
	m := scrape(t, h.ReceiverMetricsURL())
	// A retry answered "duplicate" found its event already recorded: an attempt that
	// timed out on the restarting API server had landed after all.
	dups := m.sum("openai_webhook_events_total", "outcome", receiver.OutcomeDuplicate, "type", targetEventType(0))

	rec.add("RBAC binding deleted: first 503 after", rbac503After)
	rec.add("RBAC binding restored: the same delivery accepted after", rbacRecovery)
	rec.add("API server outage (stop to ready again)", outage)
	rec.add("API server back: the refused delivery accepted after", apiRecovery)
	rec.setup("batches + responses per wave", fmt.Sprintf("%d + %d", nb, nr))
	rec.add("resources in flight when the API server stopped, and when it was back", fmt.Sprintf("%d, %d", inFlightBefore, inFlightAfter))
	rec.add("manager survived the restart (same process)", survived)
	rec.add("time from the second wave to all Complete", took)
	rec.add("retries that found their event already recorded (answered 200 duplicate)", dups)
	rec.add("receiver 503 answers (write_error + unavailable)", fmt.Sprintf(
		"%v + %v",
		m.sum(
			"openai_webhook_events_total",
			"outcome",
			receiver.OutcomeWriteError,
		),
		m.sum("openai_webhook_events_total", "outcome", receiver.OutcomeUnavailable),
	))
	if size == fullScale {
		rec.add("long API server outage (stop to ready again)", longOutage)
		rec.add("leader-elected manager stopped by its lost lease during the long outage (then restarted)", mgrExited)
	}
	rec.add(
		"batches.create / responses.create calls",
		fmt.Sprintf("%d / %d", stats.Calls[emulator.OpBatchesCreate], stats.Calls[emulator.OpResponsesCreate]),
	)
	rec.add("receiver the same process from start to end (same pid, running)", sameReceiver)
}

// inFlight counts the resources of ns not yet Complete or Failed.
func inFlight(t *testing.T, c client.Client, ns string) int {
	t.Helper()
	p, err := readProgress(c, ns)
	if err != nil {
		t.Fatalf("reading the resources: %v", err)
	}
	return p.total - p.complete - p.failed
}

// restartAPIServer stops the API server, keeps it down for down (running during, if
// set, meanwhile), starts it again and returns how long it was away.
func restartAPIServer(t *testing.T, h *harness, down time.Duration, during func()) time.Duration {
	t.Helper()
	stopped := time.Now()
	restart := h.stopAPIServer(time.Second)
	if during != nil {
		during()
	}
	time.Sleep(time.Until(stopped.Add(down)))
	startup := restart()
	t.Logf("the API server was away for %s (start to ready %s)", time.Since(stopped).Round(time.Millisecond), startup.Round(time.Millisecond))
	return time.Since(stopped)
}

// waitSubmitted waits until want resources of ns carry an OpenAI id.
func waitSubmitted(t *testing.T, c client.Client, ns string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var batches openaiv1alpha1.OpenAIBatchList
		var responses openaiv1alpha1.OpenAIResponseList
		n := 0
		if c.List(context.Background(), &batches, client.InNamespace(ns)) == nil &&
			c.List(context.Background(), &responses, client.InNamespace(ns)) == nil {
			for _, b := range batches.Items {
				if b.Status.BatchID != "" {
					n++
				}
			}
			for _, r := range responses.Items {
				if r.Status.ResponseID != "" {
					n++
				}
			}
			if n >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d resources submitted after %s", n, want, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receiverBindings returns the ClusterRoleBindings that grant the receiver's
// ServiceAccount its permissions.
func receiverBindings(t *testing.T, c client.Client) []rbacv1.ClusterRoleBinding {
	t.Helper()
	var list rbacv1.ClusterRoleBindingList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var out []rbacv1.ClusterRoleBinding
	for _, b := range list.Items {
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == devenv.ReceiverServiceAccount && s.Namespace == devenv.Namespace {
				out = append(out, b)
				break
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no ClusterRoleBinding grants the receiver anything")
	}
	return out
}

// sendUntil sends q every 200ms until it is answered want or timeout passes, and
// returns the last answer.
func sendUntil(t *testing.T, url string, q *hostileRequest, want int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, err := send(httpClient, url, q)
		if err == nil && code == want {
			return code
		}
		if time.Now().After(deadline) {
			t.Logf("last answer %d %v", code, err)
			return code
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lastWebhookEvent(t *testing.T, c client.Client, obj client.Object) *openaiv1alpha1.WebhookEvent {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("reading %s: %v", obj.GetName(), err)
	}
	switch o := obj.(type) {
	case *openaiv1alpha1.OpenAIBatch:
		return o.Status.LastWebhookEvent
	case *openaiv1alpha1.OpenAIResponse:
		return o.Status.LastWebhookEvent
	}
	return nil
}
