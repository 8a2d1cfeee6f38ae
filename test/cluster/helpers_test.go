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

package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// EnvVar names the file hack/cluster/cluster.sh writes once the cluster is up. Without
// it the tests here skip: they need a real node (root, containerd, a kubelet).
const EnvVar = "OPENAI_OPERATOR_CLUSTER"

// Names of the install, as config/default renders them.
const (
	namespace        = "openai-operator-system"
	managerDeploy    = "openai-operator-controller-manager"
	receiverDeploy   = "openai-operator-webhook-receiver"
	receiverService  = "openai-operator-webhook-receiver"
	receiverPDB      = "openai-operator-webhook-receiver"
	leaseName        = "openai-operator.operator.dev"
	signingSecret    = "openai-webhook-secret"
	credentials      = "openai-credentials"
	managerLabel     = "control-plane=controller-manager"
	receiverLabel    = "app.kubernetes.io/component=webhook-receiver"
	installLabel     = "app.kubernetes.io/name=openai-operator"
	workNamespace    = "default"
	receiverHookPort = 9000
)

// cluster is the running cluster, as cluster.env describes it.
type cluster struct {
	dir, kubeconfig, kubectlPath, hostIP, node, image, containerd string
	c                                                             client.Client
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	path := os.Getenv(EnvVar)
	if path == "" {
		t.Skipf("%s is not set: run `make test-cluster` (hack/cluster/cluster.sh starts a one-node cluster)", EnvVar)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	defer func() { _ = f.Close() }()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	cl := &cluster{
		dir: env["CLUSTER_DIR"], kubeconfig: env["KUBECONFIG"], kubectlPath: env["KUBECTL"],
		hostIP: env["CLUSTER_HOST_IP"], node: env["CLUSTER_NODE_NAME"], image: env["CLUSTER_IMAGE"],
		containerd: env["CLUSTER_CONTAINERD_SOCKET"],
	}
	for k, v := range map[string]string{
		"KUBECONFIG": cl.kubeconfig, "KUBECTL": cl.kubectlPath, "CLUSTER_HOST_IP": cl.hostIP,
		"CLUSTER_NODE_NAME": cl.node, "CLUSTER_CONTAINERD_SOCKET": cl.containerd,
	} {
		if v == "" {
			t.Fatalf("%s lacks %s", path, k)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cl.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := openaiv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if cl.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	return cl
}

// kubectl runs kubectl as cluster admin and returns its output; it fails the test on error.
func (cl *cluster) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cl.tryKubectl(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// tryKubectl runs kubectl and returns its combined output and error.
func (cl *cluster) tryKubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cl.kubectlPath, append([]string{"--kubeconfig", cl.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// ctr runs containerd's client in the kubelet's namespace.
func (cl *cluster) ctr(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ctr", append([]string{"--address", cl.containerd, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// pods lists the install's pods matching a label selector, by name.
func (cl *cluster) pods(t *testing.T, selector string) []corev1.Pod {
	t.Helper()
	sel, err := labelsSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	var list corev1.PodList
	if err := cl.c.List(ctx(t), &list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func podReady(p corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func readyPods(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if podReady(p) {
			out = append(out, p)
		}
	}
	return out
}

// containerPID returns the host pid of a pod's first container, from containerd.
func (cl *cluster) containerPID(t *testing.T, p corev1.Pod) int {
	t.Helper()
	if len(p.Status.ContainerStatuses) == 0 {
		t.Fatalf("pod %s has no container status", p.Name)
	}
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	for _, line := range strings.Split(cl.ctr(t, "tasks", "ls"), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("containerd runs no task for %s (container %s)", p.Name, id)
	return 0
}

// procStatus reads /proc/PID/status into a map.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// rootMountOptions returns the mount options of a process's root filesystem.
func rootMountOptions(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			return f[5]
		}
	}
	t.Fatalf("no root mount for pid %d", pid)
	return ""
}

func newSigningSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// deliver posts a batch.completed event signed with secret to url, as OpenAI does, and
// returns the HTTP status (0 and the error when there was no answer).
func deliver(t *testing.T, url, secret, batchID string) (int, error) {
	return deliverEvent(t, url, secret, "batch.completed", batchID)
}

// deliverEvent posts an event of any type signed with secret to url.
func deliverEvent(t *testing.T, url, secret, eventType, dataID string) (int, error) {
	t.Helper()
	s, err := standardwebhooks.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	id := fmt.Sprintf("wh_cluster_%s_%d", strconv.FormatInt(now.UnixNano(), 36), deliveries.Add(1))
	body := fmt.Appendf(nil, `{"id":"evt_%s","object":"event","created_at":%d,"type":%q,"data":{"id":%q}}`, id, now.Unix(), eventType, dataID)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	standardwebhooks.Headers{ID: id, Timestamp: strconv.FormatInt(now.Unix(), 10), Signature: s.Sign(id, now, body)}.Set(req.Header)
	// A new connection for each delivery: what is measured is whether the receiver
	// takes new deliveries, not the race of HTTP/1.1 keep-alive (a pooled connection
	// reused at the instant its server closes it), which any sender meets and retries.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

var deliveries atomic.Int64

// accepted is what the receiver answers a verified event (recorded, held until a
// resource carries the id, duplicate, or of a type it does not manage).
func accepted(code int) bool { return code == http.StatusOK || code == http.StatusAccepted }

// diagnose logs what a person would look at when a scenario fails.
func (cl *cluster) diagnose(t *testing.T) {
	for _, args := range [][]string{
		{"get", "nodes,pods,deployments,replicasets,endpointslices,pdb,leases", "-n", namespace, "-o", "wide"},
		{"get", "openaibatches,openairesponses", "-A", "-o", "wide"},
		{"get", "events", "-n", namespace, "--sort-by=.lastTimestamp"},
		{"logs", "-n", namespace, "-l", managerLabel, "--tail=40", "--prefix"},
		{"logs", "-n", namespace, "-l", receiverLabel, "--tail=40", "--prefix"},
	} {
		out, _ := cl.tryKubectl(args...)
		t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
}

// readCmdline returns a process's arguments.
func readCmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}
