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

// Package cluster runs the operator as users do, on a real one-node cluster: the image
// built from the Dockerfile, the install applied with `kubectl apply -k`, the manager and
// the receiver as Pods under a kubelet (probes, restricted security contexts, a mounted
// Secret, in-cluster clients, a Service, leader election, rollouts, a drain and the
// PodDisruptionBudget), and the OpenAI emulator on the host, reached by the Pods through
// the node's bridge and delivering its webhooks through the receiver's Service.
//
// hack/cluster/cluster.sh starts the cluster and sets OPENAI_OPERATOR_CLUSTER; without it
// these tests skip. `make test-cluster` does both and cleans up.
package cluster

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// emulatorTimeScale makes the emulator's lifecycles (a batch in about 3 s) and its
// webhook retry schedule (5 s, 5 min, ...) OpenAI's, halved.
const emulatorTimeScale = 0.5

func labelsSelector(s string) (labels.Selector, error) { return labels.Parse(s) }

// suite holds what the scenarios share.
type suite struct {
	*cluster
	emu *emulator.Server
	// receiverURL is the webhook endpoint through the receiver's Service (its ClusterIP).
	receiverURL string
	// secret is the signing secret the emulator signs with, stored in the Secret.
	secret string
}

func TestOperatorOnACluster(t *testing.T) {
	s := &suite{cluster: loadCluster(t)}
	// The emulator listens on the node's bridge address, where the Pods reach the host.
	emu, err := emulator.Listen(net.JoinHostPort(s.hostIP, "0"), emulator.Options{TimeScale: emulatorTimeScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	s.emu, s.secret = emu, emu.WebhookSecret()

	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"install: both Deployments become Available under restricted Pod Security", s.install},
		{"one manager Pod holds the lease", s.oneLeader},
		{"the samples complete through webhooks delivered to the receiver's Service", s.samplesComplete},
		{"deleting the leader Pod hands over with nothing lost", s.leaderHandover},
		{"a rollout restart of both Deployments during webhook deliveries loses no event", s.rolloutRestart},
		{"a drain of the node respects the receiver's PodDisruptionBudget", s.drain},
		{"a rotated signing Secret reaches the receiver without a restart", s.rotateSecret},
		{"the uninstall leaves nothing", s.uninstall},
	}
	failed := false
	for _, step := range steps {
		last := step.name == steps[len(steps)-1].name
		if failed && !last {
			t.Run(step.name, func(t *testing.T) { t.Skip("an earlier step failed") })
			continue
		}
		if !t.Run(step.name, step.run) && !failed {
			failed = true
			s.diagnose(t)
		}
	}
}

func (s *suite) install(t *testing.T) {
	g := NewWithT(t)
	overlay := filepath.Join(testenv.RepoRoot(), "test", "cluster", "overlay")
	s.kubectl(t, "apply", "-k", overlay)

	// What an admin adds: the signing secret, and the work namespace's credentials, whose
	// baseURL points the manager at the emulator on the host.
	g.Expect(s.c.Create(ctx(t), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: signingSecret},
		StringData: map[string]string{"signing-secret": s.secret},
	})).To(Succeed())
	g.Expect(s.c.Create(ctx(t), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: workNamespace, Name: credentials},
		StringData: map[string]string{"apiKey": emulator.DefaultAPIKey, "baseURL": s.emu.URL()},
	})).To(Succeed())

	out := s.kubectl(t, "wait", "-n", namespace, "--for=condition=Available", "--timeout=5m",
		"deployment/"+managerDeploy, "deployment/"+receiverDeploy)
	g.Expect(strings.Count(out, "condition met")).To(Equal(2), out)
	for _, name := range []string{managerDeploy, receiverDeploy} {
		var d appsv1.Deployment
		g.Expect(s.c.Get(ctx(t), types.NamespacedName{Namespace: namespace, Name: name}, &d)).To(Succeed())
		g.Expect(d.Status.AvailableReplicas).To(Equal(int32(2)), name)
	}

	var svc corev1.Service
	g.Expect(s.c.Get(ctx(t), types.NamespacedName{Namespace: namespace, Name: receiverService}, &svc)).To(Succeed())
	s.receiverURL = fmt.Sprintf("http://%s/openai/webhook", net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port))))
	s.emu.AddWebhookURL(s.receiverURL)

	// The kubelet runs each container as the restricted profile says: user 65532, no
	// capabilities, no privilege escalation, seccomp, a read-only root filesystem; and
	// from the image's files with the Deployment's command.
	for selector, binary := range map[string]string{managerLabel: "/manager", receiverLabel: "/webhook-receiver"} {
		pods := readyPods(s.pods(t, selector))
		g.Expect(pods).To(HaveLen(2), selector)
		for _, p := range pods {
			g.Expect(p.Spec.Containers[0].Image).To(Equal(s.image))
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeZero(), p.Name)
			pid := s.containerPID(t, p)
			st := procStatus(t, pid)
			g.Expect(st["Uid"]).To(Equal("65532 65532 65532 65532"), p.Name)
			g.Expect(st["Gid"]).To(Equal("65532 65532 65532 65532"), p.Name)
			g.Expect(st["CapEff"]).To(Equal("0000000000000000"), p.Name)
			g.Expect(st["CapPrm"]).To(Equal("0000000000000000"), p.Name)
			g.Expect(st["NoNewPrivs"]).To(Equal("1"), p.Name)
			g.Expect(st["Seccomp"]).To(Equal("2"), p.Name) // filter mode: RuntimeDefault
			g.Expect(strings.Split(rootMountOptions(t, pid), ",")).To(ContainElement("ro"), p.Name)
			cmdline, err := readCmdline(pid)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cmdline[0]).To(Equal(binary), p.Name)
		}
	}
}

func (s *suite) oneLeader(t *testing.T) {
	g := NewWithT(t)
	leader := s.leader(t)
	pods := readyPods(s.pods(t, managerLabel))
	g.Expect(pods).To(HaveLen(2))
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	g.Expect(names).To(ContainElement(leader), "the lease holder is not a manager Pod")
	// The other replica waits for the lease and has not held it.
	for _, name := range names {
		if name == leader {
			continue
		}
		logs := s.kubectl(t, "logs", "-n", namespace, name)
		g.Expect(logs).To(MatchRegexp(`(?i)attempting to acquire leader lease`), name)
		g.Expect(logs).NotTo(MatchRegexp(`(?i)successfully acquired lease`), name)
	}
}

// leader returns the Pod name of the lease holder (the identity is "<pod>_<uuid>").
func (s *suite) leader(t *testing.T) string {
	t.Helper()
	var lease coordinationv1.Lease
	if err := s.c.Get(ctx(t), types.NamespacedName{Namespace: namespace, Name: leaseName}, &lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		return ""
	}
	pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
	return pod
}

func (s *suite) samplesComplete(t *testing.T) {
	g := NewWithT(t)
	s.kubectl(t, "apply", "-n", workNamespace, "-k", filepath.Join(testenv.RepoRoot(), "config", "samples"))
	out := s.kubectl(t, "wait", "-n", workNamespace, "--for=condition=Complete", "--timeout=3m",
		"openaibatch/nightly-embeddings", "openaibatch/support-triage", "openairesponse/release-notes-summary")
	g.Expect(strings.Count(out, "condition met")).To(Equal(3), out)

	// The receiver recorded each one's terminal event: the webhooks reached it through the
	// Service, and it wrote the status with its in-cluster ServiceAccount credentials.
	for _, obj := range []string{"openaibatch/nightly-embeddings", "openaibatch/support-triage", "openairesponse/release-notes-summary"} {
		ev := s.kubectl(t, "get", "-n", workNamespace, obj, "-o", "jsonpath={.status.lastWebhookEvent.type}")
		g.Expect(ev).To(BeElementOf("batch.completed", "response.completed"), obj)
	}
	deliveries := s.deliveriesTo(s.receiverURL)
	g.Expect(deliveries).To(HaveLen(3))
	for _, d := range deliveries {
		g.Expect(d.State).To(Equal("delivered"), "%s for %s: %s", d.Type, d.DataID, d.LastError)
	}
	lines := s.kubectl(t, "get", "configmap", "-n", workNamespace, "embeddings-results", "-o", `jsonpath={.data.output\.jsonl}`)
	g.Expect(strings.Count(strings.TrimSpace(lines), "\n") + 1).To(Equal(3))
	text := s.kubectl(t, "get", "-n", workNamespace, "openairesponse/release-notes-summary", "-o", "jsonpath={.status.outputText}")
	g.Expect(text).To(HavePrefix("echo: Summarise"))
}

func (s *suite) deliveriesTo(url string) []emulator.WebhookDelivery {
	var out []emulator.WebhookDelivery
	for _, d := range s.emu.Stats().Webhooks {
		if d.Endpoint == url {
			out = append(out, d)
		}
	}
	return out
}

func newBatch(name string, n int) *openaiv1alpha1.OpenAIBatch {
	b := &openaiv1alpha1.OpenAIBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: workNamespace, Name: name},
		Spec:       openaiv1alpha1.OpenAIBatchSpec{Endpoint: openaiv1alpha1.BatchEndpointEmbeddings},
	}
	for i := range n {
		body := fmt.Sprintf(`{"model":"text-embedding-3-small","input":"%s document %d"}`, name, i)
		b.Spec.Input.Requests = append(b.Spec.Input.Requests, openaiv1alpha1.BatchRequest{
			CustomID: fmt.Sprintf("req-%d", i), Body: runtime.RawExtension{Raw: []byte(body)},
		})
	}
	return b
}

func newResponse(name string) *openaiv1alpha1.OpenAIResponse {
	return &openaiv1alpha1.OpenAIResponse{
		ObjectMeta: metav1.ObjectMeta{Namespace: workNamespace, Name: name},
		Spec: openaiv1alpha1.OpenAIResponseSpec{
			Model: "gpt-5-mini", Input: openaiv1alpha1.ResponseInput{Text: "Summarise " + name},
		},
	}
}

// outcome is where one resource stands.
type outcome struct {
	complete, failed bool
	id, event        string
}

func (s *suite) outcomes(t *testing.T, prefix string) map[string]outcome {
	t.Helper()
	out := map[string]outcome{}
	var batches openaiv1alpha1.OpenAIBatchList
	if err := s.c.List(ctx(t), &batches, client.InNamespace(workNamespace)); err != nil {
		t.Fatal(err)
	}
	for _, b := range batches.Items {
		if strings.HasPrefix(b.Name, prefix) {
			o := outcome{id: b.Status.BatchID,
				complete: meta.IsStatusConditionTrue(b.Status.Conditions, openaiv1alpha1.ConditionComplete),
				failed:   meta.IsStatusConditionTrue(b.Status.Conditions, openaiv1alpha1.ConditionFailed)}
			if b.Status.LastWebhookEvent != nil {
				o.event = b.Status.LastWebhookEvent.Type
			}
			out["OpenAIBatch/"+b.Name] = o
		}
	}
	var responses openaiv1alpha1.OpenAIResponseList
	if err := s.c.List(ctx(t), &responses, client.InNamespace(workNamespace)); err != nil {
		t.Fatal(err)
	}
	for _, r := range responses.Items {
		if strings.HasPrefix(r.Name, prefix) {
			o := outcome{id: r.Status.ResponseID,
				complete: meta.IsStatusConditionTrue(r.Status.Conditions, openaiv1alpha1.ConditionComplete),
				failed:   meta.IsStatusConditionTrue(r.Status.Conditions, openaiv1alpha1.ConditionFailed)}
			if r.Status.LastWebhookEvent != nil {
				o.event = r.Status.LastWebhookEvent.Type
			}
			out["OpenAIResponse/"+r.Name] = o
		}
	}
	return out
}

// waitAllComplete waits until want resources named with prefix are Complete; none may fail.
func (s *suite) waitAllComplete(t *testing.T, prefix string, want int, timeout time.Duration) map[string]outcome {
	t.Helper()
	var last map[string]outcome
	NewWithT(t).Eventually(func(g Gomega) {
		last = s.outcomes(t, prefix)
		complete := 0
		for name, o := range last {
			g.Expect(o.failed).To(BeFalse(), "%s failed", name)
			if o.complete {
				complete++
			}
		}
		g.Expect(complete).To(Equal(want), "complete of %d", len(last))
	}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
	return last
}

func (s *suite) leaderHandover(t *testing.T) {
	g := NewWithT(t)
	before := s.emu.Calls("batches.create")
	old := s.leader(t)
	g.Expect(old).NotTo(BeEmpty())
	const n = 6
	for i := range n {
		g.Expect(s.c.Create(ctx(t), newBatch(fmt.Sprintf("handover-%d", i), 3))).To(Succeed())
	}
	// Delete the leader while the batches are in flight: some submitted, none finished.
	g.Eventually(func() int { return int(s.emu.Calls("batches.create") - before) }).
		WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(BeNumerically(">=", 1))
	progress := s.outcomes(t, "handover-")
	start := time.Now()
	s.kubectl(t, "delete", "pod", "-n", namespace, old, "--wait=false")

	var next string
	g.Eventually(func() string { next = s.leader(t); return next }).
		WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).ShouldNot(Or(BeEmpty(), Equal(old)))
	t.Logf("lease handed over from %s to %s in %s; at the deletion %d of %d batches were complete",
		old, next, time.Since(start).Round(100*time.Millisecond), countComplete(progress), n)
	g.Expect(countComplete(progress)).To(BeNumerically("<", n), "every batch was done before the handover")

	final := s.waitAllComplete(t, "handover-", n, 3*time.Minute)
	// Nothing lost, nothing spent twice: one OpenAI batch for each resource.
	g.Expect(s.emu.Calls("batches.create") - before).To(Equal(int64(n)))
	ids := map[string]bool{}
	for name, o := range final {
		g.Expect(o.id).To(HavePrefix("batch_"), name)
		ids[o.id] = true
	}
	g.Expect(ids).To(HaveLen(n))
	out := s.kubectl(t, "wait", "-n", namespace, "--for=condition=Available", "--timeout=3m", "deployment/"+managerDeploy)
	g.Expect(out).To(ContainSubstring("condition met"))
}

func countComplete(m map[string]outcome) int {
	n := 0
	for _, o := range m {
		if o.complete {
			n++
		}
	}
	return n
}

func (s *suite) rolloutRestart(t *testing.T) {
	g := NewWithT(t)
	beforeResponses := s.emu.Calls("responses.create")
	beforeBatches := s.emu.Calls("batches.create")

	// A stream of work, one resource every 500 ms, for as long as the rollout lasts (at
	// least 10 s, at most 2 minutes).
	var (
		mu      sync.Mutex
		created []string
		stop    = make(chan struct{})
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		deadline := time.Now().Add(2 * time.Minute)
		minEnd := time.Now().Add(10 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				if time.Now().After(minEnd) {
					return
				}
			default:
			}
			var obj client.Object = newResponse(fmt.Sprintf("rollout-r%d", i))
			if i%4 == 3 {
				obj = newBatch(fmt.Sprintf("rollout-b%d", i), 2)
			}
			if err := s.c.Create(ctx(t), obj); err != nil {
				t.Errorf("creating %s: %v", obj.GetName(), err)
				return
			}
			mu.Lock()
			created = append(created, obj.GetName())
			mu.Unlock()
			time.Sleep(500 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second)
	oldPods := map[string]bool{}
	for _, p := range append(s.pods(t, managerLabel), s.pods(t, receiverLabel)...) {
		oldPods[p.Name] = true
	}
	start := time.Now()
	s.kubectl(t, "rollout", "restart", "-n", namespace, "deployment/"+managerDeploy, "deployment/"+receiverDeploy)
	for _, d := range []string{managerDeploy, receiverDeploy} {
		s.kubectl(t, "rollout", "status", "-n", namespace, "deployment/"+d, "--timeout=5m")
	}
	rollout := time.Since(start)
	close(stop)
	<-done
	mu.Lock()
	n := len(created)
	mu.Unlock()

	// Every Pod is new.
	for _, p := range append(s.pods(t, managerLabel), s.pods(t, receiverLabel)...) {
		if p.DeletionTimestamp == nil {
			g.Expect(oldPods).NotTo(HaveKey(p.Name), "pod %s was not replaced", p.Name)
		}
	}
	final := s.waitAllComplete(t, "rollout-", n, 5*time.Minute)
	// No event lost: every resource recorded its terminal event, and every delivery to the
	// Service ended delivered (after OpenAI-style retries, if any).
	for name, o := range final {
		g.Expect(o.event).To(BeElementOf("batch.completed", "response.completed"), "%s has no webhook event recorded", name)
	}
	ids := map[string]bool{}
	for _, o := range final {
		ids[o.id] = true
	}
	retried := 0
	for _, d := range s.deliveriesTo(s.receiverURL) {
		if !ids[d.DataID] {
			continue
		}
		g.Expect(d.State).To(Equal("delivered"), "%s for %s: %s", d.Type, d.DataID, d.LastError)
		if d.Attempts > 1 {
			retried++
		}
	}
	responses, batches := s.emu.Calls("responses.create")-beforeResponses, s.emu.Calls("batches.create")-beforeBatches
	g.Expect(responses+batches).To(Equal(int64(n)), "one OpenAI object per resource")
	t.Logf(
		"rollout of both Deployments took %s; %d resources created during it all completed with their event recorded; %d of their deliveries needed a retry",
		rollout.Round(100*time.Millisecond),
		n,
		retried,
	)
}

func (s *suite) drain(t *testing.T) {
	g := NewWithT(t)
	// While the node drains, watch the receiver's ready Pods (never none) and keep
	// delivering through the Service, each on a new connection, every 20 ms from two
	// senders (events of a type the operator does not manage: verified, then answered
	// 200 without being held).
	var (
		mu        sync.Mutex
		minReady  = 99
		readings  int
		delivered int
		refused   []string
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	wg.Go(func() {
		sel, _ := labels.Parse(receiverLabel)
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			var list corev1.PodList
			if err := s.c.List(ctx(t), &list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
				continue
			}
			mu.Lock()
			readings++
			minReady = min(minReady, len(readyPods(list.Items)))
			mu.Unlock()
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				code, err := deliverEvent(t, s.receiverURL, s.secret, "eval.run.succeeded", "evalrun_drain_probe")
				mu.Lock()
				switch {
				case err != nil:
					refused = append(refused, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
				case !accepted(code):
					refused = append(refused, fmt.Sprintf("%s: HTTP %d", time.Now().Format("15:04:05.000"), code))
				default:
					delivered++
				}
				mu.Unlock()
			}
		})
	}
	// Whatever happens, the node takes pods again afterwards.
	defer func() { _, _ = s.tryKubectl("uncordon", s.node) }()
	out, err := s.tryKubectl("drain", s.node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=45s")
	close(stop)
	wg.Wait()

	// The first receiver is evicted; the second is not, since its replacement cannot be
	// scheduled on the cordoned node and the budget keeps one available.
	g.Expect(err).To(HaveOccurred(), "drain evicted everything:\n%s", out)
	g.Expect(out).To(ContainSubstring("Cannot evict pod as it would violate the pod's disruption budget"))
	mu.Lock()
	g.Expect(readings).To(BeNumerically(">", 10))
	g.Expect(delivered).To(BeNumerically(">", 100))
	g.Expect(minReady).To(BeNumerically(">=", 1), "no receiver was ready at some point of the drain")
	g.Expect(refused).To(BeEmpty(), "deliveries through the Service were refused during the drain (%d accepted)", delivered)
	mu.Unlock()
	g.Expect(readyPods(s.pods(t, receiverLabel))).To(HaveLen(1))
	g.Eventually(func(g Gomega) {
		var pdb policyv1.PodDisruptionBudget
		g.Expect(s.c.Get(ctx(t), types.NamespacedName{Namespace: namespace, Name: receiverPDB}, &pdb)).To(Succeed())
		g.Expect(pdb.Status.CurrentHealthy).To(Equal(int32(1)))
		g.Expect(pdb.Status.DisruptionsAllowed).To(BeZero())
	}).WithTimeout(30 * time.Second).Should(Succeed())
	// The managers have no budget: both were evicted, and wait for a node.
	g.Expect(readyPods(s.pods(t, managerLabel))).To(BeEmpty())

	s.kubectl(t, "uncordon", s.node)
	out = s.kubectl(t, "wait", "-n", namespace, "--for=condition=Available", "--timeout=3m",
		"deployment/"+managerDeploy, "deployment/"+receiverDeploy)
	g.Expect(strings.Count(out, "condition met")).To(Equal(2), out)
	g.Eventually(func() []corev1.Pod { return readyPods(s.pods(t, receiverLabel)) }).
		WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(HaveLen(2))
	t.Logf("drain: at least %d receiver ready in %d readings; all %d deliveries through the Service accepted", minReady, readings, delivered)
}

func (s *suite) rotateSecret(t *testing.T) {
	g := NewWithT(t)
	pods := readyPods(s.pods(t, receiverLabel))
	g.Expect(pods).To(HaveLen(2))
	restarts := map[string]int32{}
	for _, p := range pods {
		restarts[string(p.UID)] = p.Status.ContainerStatuses[0].RestartCount
	}
	// Each receiver Pod directly, and the Service.
	urls := []string{s.receiverURL}
	for _, p := range pods {
		urls = append(urls, fmt.Sprintf("http://%s/openai/webhook", net.JoinHostPort(p.Status.PodIP, strconv.Itoa(receiverHookPort))))
	}
	expect := func(secret string, ok bool, timeout time.Duration) time.Duration {
		start := time.Now()
		g.Eventually(func(g Gomega) {
			for _, u := range urls {
				code, err := deliver(t, u, secret, "batch_rotation_probe")
				g.Expect(err).NotTo(HaveOccurred())
				if ok {
					g.Expect(accepted(code)).To(BeTrue(), "%s answered %d", u, code)
				} else {
					g.Expect(code).To(Equal(http.StatusUnauthorized), u)
				}
			}
		}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
		return time.Since(start)
	}
	newSecret := newSigningSecret(t)
	expect(s.secret, true, 10*time.Second)
	expect(newSecret, false, 10*time.Second)

	// Add the new secret under a second key: both are accepted once the kubelet has
	// refreshed the volume.
	var sec corev1.Secret
	g.Expect(s.c.Get(ctx(t), types.NamespacedName{Namespace: namespace, Name: signingSecret}, &sec)).To(Succeed())
	sec.Data["signing-secret-next"] = []byte(newSecret)
	g.Expect(s.c.Update(ctx(t), &sec)).To(Succeed())
	added := expect(newSecret, true, 3*time.Minute)
	expect(s.secret, true, 10*time.Second)

	// Remove the old one: refused once the kubelet has refreshed the volume.
	g.Expect(s.c.Get(ctx(t), types.NamespacedName{Namespace: namespace, Name: signingSecret}, &sec)).To(Succeed())
	delete(sec.Data, "signing-secret")
	g.Expect(s.c.Update(ctx(t), &sec)).To(Succeed())
	removed := expect(s.secret, false, 3*time.Minute)
	expect(newSecret, true, 10*time.Second)

	// Without a restart: the same Pods, the same containers.
	now := s.pods(t, receiverLabel)
	g.Expect(readyPods(now)).To(HaveLen(2))
	for _, p := range now {
		g.Expect(restarts).To(HaveKeyWithValue(string(p.UID), p.Status.ContainerStatuses[0].RestartCount), p.Name)
	}
	t.Logf("the receivers accepted the added secret after %s and refused the removed one after %s (kubelet syncFrequency 20s), without a restart",
		added.Round(time.Second), removed.Round(time.Second))
}

func (s *suite) uninstall(t *testing.T) {
	g := NewWithT(t)
	// As the README says: the resources first, while the manager still runs.
	s.kubectl(t, "delete", "-n", workNamespace, "-k", filepath.Join(testenv.RepoRoot(), "config", "samples"), "--ignore-not-found", "--timeout=3m")
	s.kubectl(t, "delete", "-n", workNamespace, "openaibatches,openairesponses", "--all", "--timeout=3m")
	// The credentials the test gave the work namespace are the admin's, not the install's.
	s.kubectl(t, "delete", "-n", workNamespace, "secret", credentials, "--ignore-not-found")
	overlay := filepath.Join(testenv.RepoRoot(), "test", "cluster", "overlay")
	s.kubectl(t, "delete", "-k", overlay, "--timeout=5m")

	// Nothing of the install is left in the API ...
	err := s.c.Get(ctx(t), types.NamespacedName{Name: namespace}, &corev1.Namespace{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "namespace %s: %v", namespace, err)
	out := s.kubectl(t, "get", "crd,clusterrole,clusterrolebinding,pods,deployments,services,secrets,configmaps,leases", "-A", "-o", "name")
	for _, line := range strings.Split(out, "\n") {
		g.Expect(line).NotTo(ContainSubstring("openai"), "left behind")
	}
	out = s.kubectl(t, "get", "all", "-A", "-l", installLabel, "-o", "name")
	g.Expect(strings.TrimSpace(out)).To(BeEmpty())
	// ... the results the batches owned went with them (garbage collection) ...
	for name, obj := range map[string]client.Object{
		"embeddings-results": &corev1.ConfigMap{}, "release-notes-summary-output": &corev1.ConfigMap{}, "support-triage-results": &corev1.Secret{},
	} {
		g.Eventually(func() bool {
			return apierrors.IsNotFound(s.c.Get(ctx(t), types.NamespacedName{Namespace: workNamespace, Name: name}, obj))
		}).WithTimeout(time.Minute).Should(BeTrue(), "%s is still there", name)
	}
	// ... and on the node, no container of the image runs any more.
	g.Eventually(func() []string {
		var left []string
		for _, line := range strings.Split(s.ctr(t, "containers", "ls"), "\n")[1:] {
			if strings.Contains(line, s.image) {
				left = append(left, line)
			}
		}
		return left
	}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(BeEmpty())
	g.Expect(slices.DeleteFunc(strings.Split(strings.TrimSpace(s.ctr(t, "tasks", "ls", "-q")), "\n"), func(s string) bool { return s == "" })).
		To(BeEmpty(), "containers still running")
}
