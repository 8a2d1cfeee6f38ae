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

// Package namespaces reads the namespaces a namespace-scoped install serves (the
// --namespaces flag of the manager and the webhook receiver) and turns them into the
// cache configuration that keeps every list and watch inside them, so that Roles in
// those namespaces are all the RBAC the binaries need.
package namespaces

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Parse reads a comma-separated list of namespaces; empty means all namespaces (nil).
func Parse(list string) ([]string, error) {
	var out []string
	var errs []error
	for ns := range strings.SplitSeq(list, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("namespace %q: %s", ns, strings.Join(msgs, "; ")))
			continue
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out, errors.Join(errs...)
}

// CacheConfig returns the cache.Options.DefaultNamespaces serving namespaces: nil (all
// namespaces) when there are none.
func CacheConfig(namespaces []string) map[string]cache.Config {
	if len(namespaces) == 0 {
		return nil
	}
	out := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		out[ns] = cache.Config{}
	}
	return out
}
