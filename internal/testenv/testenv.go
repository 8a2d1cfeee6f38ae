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

// Package testenv starts a real kube-apiserver and etcd (controller-runtime's envtest)
// with the project's CRDs installed, for integration and end-to-end tests.
//
// The binaries come from KUBEBUILDER_ASSETS, which `make test` sets from
// hack/envtest-assets.sh. A plain `go test` finds them in bin/k8s once `make envtest`
// has run.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// Scheme knows the built-in kinds and the project's API.
var Scheme = k8sruntime.NewScheme()

func init() {
	if err := clientgoscheme.AddToScheme(Scheme); err != nil {
		panic(err)
	}
	if err := openaiv1alpha1.AddToScheme(Scheme); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(Scheme); err != nil {
		panic(err)
	}
}

// Env is a running API server.
type Env struct {
	*envtest.Environment
	// Config is an admin rest.Config for the API server.
	Config *rest.Config
	// Client is an admin client using Scheme.
	Client client.Client
}

// RepoRoot returns the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir returns the directory holding kube-apiserver, etcd and kubectl.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob(filepath.Join(RepoRoot(), "bin", "k8s", "*"))
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	for _, dir := range matches {
		if fileExists(filepath.Join(dir, "kube-apiserver")) && fileExists(filepath.Join(dir, "etcd")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no kube-apiserver and etcd found: set KUBEBUILDER_ASSETS or run `make envtest` first")
}

// Start starts an API server with the CRDs from config/crd/bases. Call Stop when done.
func Start() (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		// Generous: on a loaded 2-core machine several test packages start API servers at once.
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // a failure after the processes started (e.g. a CRD refused) must not leak them
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Environment: env, Config: cfg, Client: c}, nil
}

// KubectlPath returns the kubectl next to the API server binaries, or the one on PATH.
func KubectlPath() string {
	if dir, err := AssetsDir(); err == nil && fileExists(filepath.Join(dir, "kubectl")) {
		return filepath.Join(dir, "kubectl")
	}
	return "kubectl"
}

// GroupVersionResource of the project's kinds, for dynamic clients and RBAC checks.
var (
	BatchesResource   = schema.GroupVersionResource{Group: openaiv1alpha1.GroupVersion.Group, Version: openaiv1alpha1.GroupVersion.Version, Resource: "openaibatches"}
	ResponsesResource = schema.GroupVersionResource{Group: openaiv1alpha1.GroupVersion.Group, Version: openaiv1alpha1.GroupVersion.Version, Resource: "openairesponses"}
)

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
