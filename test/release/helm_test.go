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

package release

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// The chart's objects are compared with the kustomize install's, rendered the way a
// user installs them: release openai-operator in namespace openai-operator-system.
const (
	releaseName      = "openai-operator"
	releaseNamespace = "openai-operator-system"
	chartDir         = "charts/openai-operator"
)

// tool returns the path of a pinned tool: $ENV (the Makefile sets it), or bin/NAME-*.
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	matches, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "bin", name+"-v*"))
	if len(matches) == 0 {
		t.Fatalf("no %s in bin/: run `make %s` (make test does)", name, name)
	}
	sort.Strings(matches)
	return matches[len(matches)-1]
}

func run(t *testing.T, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// objects decodes a stream of YAML documents.
func objects(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func helmTemplate(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := make([]string, 0, 7+2*len(set))
	args = append(args, "template", releaseName, chartDir, "--namespace", releaseNamespace, "--kube-version", "1.37.2")
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return objects(t, run(t, testenv.RepoRoot(), tool(t, "HELM", "helm"), args...))
}

// kustomizeBuild writes files (path: content) into a temporary directory of the
// repository, bin/helm-test-XXX (kustomize loads bases only from below a
// kustomization's parent folders, so it sits at config/default's depth), and builds
// its kustomization.yaml.
func kustomizeBuild(t *testing.T, files map[string]string) []*unstructured.Unstructured {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(testenv.RepoRoot(), "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(testenv.RepoRoot(), "bin"), "helm-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs := objects(t, run(t, dir, tool(t, "KUSTOMIZE", "kustomize"), "build", "."))
	for _, o := range objs {
		// kustomize's namespace transformer does not know these kinds are cluster-scoped
		// (the API server ignores the namespace it gives them); the chart gives none.
		if o.GetKind() == "ValidatingAdmissionPolicy" || o.GetKind() == "ValidatingAdmissionPolicyBinding" {
			o.SetNamespace("")
		}
	}
	return objs
}

func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func key(o *unstructured.Unstructured) string {
	k := o.GetKind() + " " + o.GetName()
	if o.GetNamespace() != "" {
		k = o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	return k
}

// field returns o's value at path (dot-separated), or nil.
func field(o *unstructured.Unstructured, path string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(o.Object, strings.Split(path, ".")...)
	return v
}

// comparedFields lists, for each kind, what must be the same in both installs: what
// the API server acts on. Labels and annotations differ by design (Helm's own labels),
// except the ones that aggregate roles.
var comparedFields = map[string][]string{
	"CustomResourceDefinition":         {"spec"},
	"ClusterRole":                      {"rules", "metadata.labels.rbac\\.aggregate"},
	"Role":                             {"rules"},
	"ClusterRoleBinding":               {"roleRef", "subjects"},
	"RoleBinding":                      {"roleRef", "subjects"},
	"ServiceAccount":                   {"automountServiceAccountToken"},
	"Secret":                           {"type", "metadata.annotations"},
	"Deployment":                       {"spec.replicas", "spec.selector", "spec.template.spec", "spec.strategy"},
	"Service":                          {"spec"},
	"PodDisruptionBudget":              {"spec"},
	"NetworkPolicy":                    {"spec"},
	"ServiceMonitor":                   {"spec"},
	"PrometheusRule":                   {"spec"},
	"Certificate":                      {"spec"},
	"Issuer":                           {"spec"},
	"Ingress":                          {"spec"},
	"ValidatingAdmissionPolicy":        {"spec"},
	"ValidatingAdmissionPolicyBinding": {"spec"},
}

// normalise removes what differs by design: the image (a placeholder in kustomize, the
// release's in the chart) and its pull policy; and keeps only aggregation labels.
func normalise(o *unstructured.Unstructured) *unstructured.Unstructured {
	o = o.DeepCopy()
	if o.GetKind() == "Deployment" {
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			c := c.(map[string]any)
			c["image"] = "IMAGE"
			delete(c, "imagePullPolicy")
		}
		_ = unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
	}
	if o.GetKind() == "ClusterRole" {
		agg := map[string]any{}
		for k, v := range o.GetLabels() {
			if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
				agg[k] = v
			}
		}
		o.Object["rbacAggregation"] = agg
	}
	return o
}

// compare reports every object one install has and the other lacks, and every compared
// field that differs, with a line diff.
func compare(t *testing.T, kustomize, chart []*unstructured.Unstructured, ignoreKinds ...string) {
	t.Helper()
	index := func(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
		m := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			if !containsString(ignoreKinds, o.GetKind()) {
				m[key(o)] = o
			}
		}
		return m
	}
	k, c := index(kustomize), index(chart)
	keys := make([]string, 0, len(k))
	for n := range k {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	for _, n := range keys {
		co, ok := c[n]
		if !ok {
			t.Errorf("the chart has no %s, which the kustomize install has", n)
			continue
		}
		fields, ok := comparedFields[k[n].GetKind()]
		if !ok {
			t.Errorf("%s: no fields to compare are listed for kind %s", n, k[n].GetKind())
			continue
		}
		ko, co := normalise(k[n]), normalise(co)
		for _, f := range fields {
			if f == "metadata.labels.rbac\\.aggregate" {
				f = "rbacAggregation"
			}
			if want, got := field(ko, f), field(co, f); !reflect.DeepEqual(want, got) {
				t.Errorf("%s: %s differs (- kustomize, + chart):\n%s", n, f, lineDiff(toYAML(want), toYAML(got)))
			}
		}
	}
	for n := range c {
		if _, ok := k[n]; !ok {
			t.Errorf("the chart has %s, which the kustomize install does not", n)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func toYAML(v any) []string {
	if v == nil {
		return []string{"<absent>"}
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return []string{fmt.Sprint(v)}
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// lineDiff is a small LCS diff of two line lists: "-" lines only in a, "+" only in b,
// and up to two lines of context around each change.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	var out strings.Builder
	for k, l := range lines {
		near := false
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(lines) && lines[k+d].op != ' ' {
				near = true
			}
		}
		if near {
			fmt.Fprintf(&out, "%c %s\n", l.op, l.text)
		}
	}
	return out.String()
}

// TestLineDiff checks the diff the drift tests print.
func TestLineDiff(t *testing.T) {
	got := lineDiff([]string{"a", "b", "c"}, []string{"a", "x", "c"})
	if want := "  a\n- b\n+ x\n  c\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestChartMatchesKustomizeInstall renders the chart with its default values and
// config/default, and checks that both install the same objects with the same CRDs,
// RBAC rules and bindings, ServiceAccounts, Deployments (replicas, selectors and the
// whole Pod spec but the image: args, ports, probes, security settings, volumes),
// Services and PodDisruptionBudget. The kustomize install also creates its Namespace;
// the chart installs into the release's.
func TestChartMatchesKustomizeInstall(t *testing.T) {
	kust := kustomizeBuild(t, map[string]string{
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../config/default\n",
	})
	chart := helmTemplate(t)
	if len(chart) < 20 {
		t.Fatalf("the chart rendered only %d objects", len(chart))
	}
	compare(t, kust, chart, "Namespace")
}

// TestChartOptionsMatchKustomizeComponents does the same with the chart's optional
// parts on and the kustomize install's optional components: the cert-manager metrics
// certificate (config/certmanager), the ServiceMonitors, scraper identity and alerts
// (config/prometheus), and the NetworkPolicies (config/network-policy).
func TestChartOptionsMatchKustomizeComponents(t *testing.T) {
	// config/default with its optional components uncommented, as its comments say, and
	// config/certmanager on top of it: the same files, one folder deeper.
	def := readRepoFile(t, "config/default/kustomization.yaml")
	for _, c := range []string{"../prometheus", "../network-policy"} {
		if !strings.Contains(def, "#- "+c+"\n") {
			t.Fatalf("config/default/kustomization.yaml has no commented-out %s", c)
		}
		def = strings.Replace(def, "#- "+c+"\n", "- "+c+"\n", 1)
	}
	def = strings.ReplaceAll(def, "- ../", "- ../../../config/")
	cm := readRepoFile(t, "config/certmanager/kustomization.yaml")
	if !strings.Contains(cm, "- ../default\n") {
		t.Fatal("config/certmanager/kustomization.yaml does not build on ../default")
	}
	files := map[string]string{
		"default/kustomization.yaml":                def,
		"default/metrics_service.yaml":              readRepoFile(t, "config/default/metrics_service.yaml"),
		"kustomization.yaml":                        strings.Replace(cm, "- ../default\n", "- default\n", 1),
		"issuer.yaml":                               readRepoFile(t, "config/certmanager/issuer.yaml"),
		"certificate_metrics.yaml":                  readRepoFile(t, "config/certmanager/certificate_metrics.yaml"),
		"manager_metrics_cert_patch.yaml":           readRepoFile(t, "config/certmanager/manager_metrics_cert_patch.yaml"),
		"certificate_webhook_receiver_metrics.yaml": readRepoFile(t, "config/certmanager/certificate_webhook_receiver_metrics.yaml"),
		"webhook_receiver_metrics_cert_patch.yaml":  readRepoFile(t, "config/certmanager/webhook_receiver_metrics_cert_patch.yaml"),
	}
	kust := kustomizeBuild(t, files)
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "Certificate", "NetworkPolicy"} {
		found := false
		for _, o := range kust {
			found = found || o.GetKind() == kind
		}
		if !found {
			t.Fatalf("the kustomize install with its components has no %s", kind)
		}
	}
	chart := helmTemplate(t, "prometheus.enable=true", "metrics.certManager.enable=true", "networkPolicy.enable=true")
	compare(t, kust, chart, "Namespace")
}

// TestChartSwitches renders the chart with each part switched off or changed and checks
// what the value promises: nothing of the part is left, and nothing refers to it.
func TestChartSwitches(t *testing.T) {
	args := func(objs []*unstructured.Unstructured, deployment string) []string {
		for _, o := range objs {
			if o.GetKind() == "Deployment" && strings.HasSuffix(o.GetName(), deployment) {
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				a, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
				return a
			}
		}
		return nil
	}
	tests := map[string]struct {
		set   []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		"receiver off": {
			set: []string{"webhookReceiver.enable=false", "prometheus.enable=true", "networkPolicy.enable=true"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				for _, o := range objs {
					if strings.Contains(o.GetName(), "webhook-receiver") {
						t.Errorf("%s is installed with the receiver off", key(o))
					}
				}
				if args(objs, "controller-manager") == nil {
					t.Error("no manager Deployment")
				}
			},
		},
		"metrics off": {
			set: []string{"metrics.enable=false", "prometheus.enable=true", "metrics.certManager.enable=true"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if a := args(objs, "controller-manager"); !containsString(a, "--metrics-bind-address=0") {
					t.Errorf("manager args %v do not disable metrics", a)
				}
				for _, o := range objs {
					switch {
					case strings.Contains(o.GetName(), "controller-manager-metrics"), strings.Contains(o.GetName(), "metrics-auth"),
						strings.Contains(o.GetName(), "metrics-reader"), strings.Contains(o.GetName(), "metrics-scraper"),
						o.GetKind() == "Certificate", o.GetKind() == "Issuer":
						t.Errorf("%s is installed with metrics off", key(o))
					}
				}
			},
		},
		"receiver watches one namespace, CRDs not installed": {
			set: []string{"webhookReceiver.watchNamespace=team-a", "crd.enable=false", "webhookReceiver.extraArgs={--tolerance=2m}"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				a := args(objs, "webhook-receiver")
				if !containsString(a, "--namespace=team-a") || !containsString(a, "--tolerance=2m") {
					t.Errorf("receiver args %v", a)
				}
				for _, o := range objs {
					if o.GetKind() == "CustomResourceDefinition" {
						t.Errorf("%s is installed with crd.enable=false", key(o))
					}
				}
			},
		},
		"image": {
			set: []string{"image.repository=registry.example.com/oo", "image.tag=v9.9.9"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				n := 0
				for _, o := range objs {
					containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
					for _, c := range containers {
						n++
						if img := c.(map[string]any)["image"]; img != "registry.example.com/oo:v9.9.9" {
							t.Errorf("%s runs %v", key(o), img)
						}
					}
				}
				if n != 2 {
					t.Errorf("%d containers, want 2", n)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.check(t, helmTemplate(t, tc.set...))
		})
	}
}
