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

package receiver

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// SecretWatch follows one Secret through the API server and provides the signing
// secrets it holds: every key's value is a "whsec_" secret (or several, separated by
// whitespace), and all are accepted. A change reaches the receiver as soon as the watch
// delivers it, where a mounted Secret volume can take a minute or more to refresh.
//
// It lists and watches the Secret by name (a field selector on metadata.name), which an
// RBAC rule restricted to that one name (resourceNames) allows. Until the first list
// succeeds, and while the API server cannot be reached, the last secrets read stay in
// use; a deleted Secret provides none.
type SecretWatch struct {
	namespace, name string
	log             logr.Logger
	onLoad          func(n int)
	informer        toolscache.SharedIndexInformer

	current atomic.Pointer[[]standardwebhooks.Secret]
	mu      sync.Mutex // serialises updates
	version string     // resourceVersion last parsed
	failing atomic.Bool
}

// NewSecretWatch returns a source of the signing secrets in Secret namespace/name. It
// reads nothing until started. onLoad, if not nil, is called with the number of secrets
// after every change.
func NewSecretWatch(cs kubernetes.Interface, namespace, name string, log logr.Logger, onLoad func(n int)) *SecretWatch {
	s := &SecretWatch{namespace: namespace, name: name, log: log, onLoad: onLoad}
	s.current.Store(&[]standardwebhooks.Secret{})
	byName := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	lw := toolscache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "secrets", namespace, byName)
	s.informer = toolscache.NewSharedIndexInformer(lw, &corev1.Secret{}, 0, toolscache.Indexers{})
	_ = s.informer.SetTransform(func(obj any) (any, error) {
		if sec, ok := obj.(*corev1.Secret); ok {
			sec.ManagedFields = nil
		}
		return obj, nil
	})
	_ = s.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *toolscache.Reflector, err error) {
		if !s.failing.Swap(true) {
			s.log.Error(err, "Watching the Secret of webhook signing secrets failed; keeping the last secrets read, retrying",
				"secret", namespace+"/"+name)
		}
	})
	_, _ = s.informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.update(obj) },
		UpdateFunc: func(_, obj any) { s.update(obj) },
		DeleteFunc: func(any) { s.update(nil) },
	})
	return s
}

// Secrets returns the secrets last read.
func (s *SecretWatch) Secrets() []standardwebhooks.Secret { return *s.current.Load() }

// Start watches the Secret until ctx ends.
func (s *SecretWatch) Start(ctx context.Context) error {
	s.log.Info("Watching the Secret of webhook signing secrets", "secret", s.namespace+"/"+s.name)
	s.informer.RunWithContext(ctx)
	return nil
}

// HasSynced reports whether the first list has completed.
func (s *SecretWatch) HasSynced() bool { return s.informer.HasSynced() }

// update parses the Secret obj (nil when it was deleted).
func (s *SecretWatch) update(obj any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing.Swap(false) {
		s.log.Info("Watching the Secret of webhook signing secrets again", "secret", s.namespace+"/"+s.name)
	}
	var data map[string][]byte
	version := ""
	if sec, ok := obj.(*corev1.Secret); ok {
		data, version = sec.Data, sec.ResourceVersion
	}
	if version != "" && version == s.version {
		return
	}
	s.version = version
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var secrets []standardwebhooks.Secret
	for _, k := range keys {
		for i, field := range strings.Fields(string(data[k])) {
			sec, err := standardwebhooks.ParseSecret(field)
			if err != nil {
				s.log.Error(err, "Ignoring a webhook signing secret that does not parse", "secret", s.namespace+"/"+s.name, "key", k, "entry", i+1)
				continue
			}
			if !slices.ContainsFunc(secrets, sec.Equal) {
				secrets = append(secrets, sec)
			}
		}
	}
	s.current.Store(&secrets)
	s.log.Info("Loaded webhook signing secrets", "source", "api", "secret", s.namespace+"/"+s.name, "count", len(secrets))
	if s.onLoad != nil {
		s.onLoad(len(secrets))
	}
}

// secretUnion is the union of several sources: a delivery signed with a secret of any
// of them is accepted.
type secretUnion struct {
	sources []SecretSource
	cached  atomic.Pointer[unionCache]
}

type unionCache struct {
	inputs []*standardwebhooks.Secret // the first element of each source's slice, to spot a change
	lens   []int
	out    []standardwebhooks.Secret
}

// Secrets returns the union of the sources' secrets, without duplicates.
func (u *secretUnion) Secrets() []standardwebhooks.Secret {
	parts := make([][]standardwebhooks.Secret, len(u.sources))
	nonEmpty := 0
	for i, src := range u.sources {
		parts[i] = src.Secrets()
		if len(parts[i]) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty <= 1 {
		for _, p := range parts {
			if len(p) > 0 {
				return p
			}
		}
		return nil
	}
	if c := u.cached.Load(); c != nil && c.matches(parts) {
		return c.out
	}
	c := &unionCache{}
	for _, p := range parts {
		c.lens = append(c.lens, len(p))
		if len(p) > 0 {
			c.inputs = append(c.inputs, &p[0])
		} else {
			c.inputs = append(c.inputs, nil)
		}
		for _, sec := range p {
			if !slices.ContainsFunc(c.out, sec.Equal) {
				c.out = append(c.out, sec)
			}
		}
	}
	u.cached.Store(c)
	return c.out
}

func (c *unionCache) matches(parts [][]standardwebhooks.Secret) bool {
	if len(parts) != len(c.inputs) {
		return false
	}
	for i, p := range parts {
		if len(p) != c.lens[i] || (len(p) > 0 && &p[0] != c.inputs[i]) {
			return false
		}
	}
	return true
}
