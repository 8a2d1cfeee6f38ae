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

// Package install checks the kustomize install as rendered and as applied to a real API
// server: what the manifests promise (drain, disruption budget, network policies), the
// admission policy that confines the webhook receiver's status writes, and the
// namespace-scoped variant, by impersonating the ServiceAccounts.
package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// Names of the default install (config/default: namespace and name prefix).
const (
	installNamespace = "openai-operator-system"
	receiverSA       = "openai-operator-webhook-receiver"
	managerSA        = "openai-operator-controller-manager"
)

// render returns the objects kustomize renders from config/<dir>.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command(testenv.KubectlPath(), "kustomize", filepath.Join(testenv.RepoRoot(), "config", dir)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/%s: %v", dir, stderrOf(err))
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("config/%s renders nothing", dir)
	}
	return objs
}

func stderrOf(err error) string {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return err.Error() + ": " + string(ee.Stderr)
	}
	return err.Error()
}

// find returns the rendered object of kind whose name ends with suffix.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, suffix string) *unstructured.Unstructured {
	t.Helper()
	var found *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && strings.HasSuffix(o.GetName(), suffix) {
			if found != nil {
				t.Fatalf("two %s objects named *%s: %s and %s", kind, suffix, found.GetName(), o.GetName())
			}
			found = o
		}
	}
	if found == nil {
		t.Fatalf("no %s named *%s in the rendered install", kind, suffix)
	}
	return found
}

// server is an API server with an install applied, shared by the tests of one install.
type server struct {
	env        *testenv.Env
	kubeconfig string
}

var (
	serversMu sync.Mutex
	servers   = map[string]*server{}
)

// installed returns an API server with config/<dir> applied (server-side, as the
// README says), starting it on first use. setup, if not nil, runs before the apply
// (to create what the install expects to exist).
func installed(t *testing.T, dir string, setup func(*testenv.Env) error) *server {
	t.Helper()
	serversMu.Lock()
	defer serversMu.Unlock()
	if s, ok := servers[dir]; ok {
		return s
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatalf("starting the API server (run `make envtest` or set KUBEBUILDER_ASSETS): %v", err)
	}
	s := &server{env: env, kubeconfig: filepath.Join(tempDir, strings.ReplaceAll(dir, "/", "-")+".kubeconfig")}
	servers[dir] = s
	if err := os.WriteFile(s.kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		if err := setup(env); err != nil {
			t.Fatal(err)
		}
	}
	rendered, err := exec.Command(testenv.KubectlPath(), "kustomize", filepath.Join(testenv.RepoRoot(), "config", dir)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/%s: %v", dir, stderrOf(err))
	}
	apply := exec.Command(testenv.KubectlPath(), "--kubeconfig", s.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-")
	apply.Stdin = bytes.NewReader(rendered)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("applying config/%s: %v\n%s", dir, err, out)
	}
	return s
}

// as returns a client of s that impersonates ServiceAccount namespace/name, with the
// groups the API server gives ServiceAccounts.
func (s *server) as(t *testing.T, namespace, name string) client.Client {
	t.Helper()
	cfg := s.configAs(namespace, name)
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *server) configAs(namespace, name string) *rest.Config {
	cfg := rest.CopyConfig(s.env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return cfg
}

// kubeconfigAs writes a kubeconfig of s that impersonates ServiceAccount
// namespace/name and returns its path.
func (s *server) kubeconfigAs(t *testing.T, namespace, name string) string {
	t.Helper()
	cfg, err := clientcmd.Load(s.env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + namespace + ":" + name
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
	}
	path := filepath.Join(tempDir, fmt.Sprintf("%s-%s.kubeconfig", namespace, name))
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

var tempDir string

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	var err error
	if tempDir, err = os.MkdirTemp("", "openai-operator-install-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	for _, stop := range stopAtExit {
		stop()
	}
	for _, s := range servers {
		_ = s.env.Stop()
	}
	_ = os.RemoveAll(tempDir)
	os.Exit(code)
}

var ctx = context.Background()
