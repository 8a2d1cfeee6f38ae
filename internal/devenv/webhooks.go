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

package devenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openai-operator/openai-operator/internal/testenv"
)

// ProjectionInterval is how often the receiver's Secret is copied into its secrets
// directory.
const ProjectionInterval = 250 * time.Millisecond

// startProjection keeps the receiver's secrets directory equal to the receiver's Secret
// (one file per key), as the kubelet keeps a Secret volume, until Down. The kubelet
// refreshes a volume within about a minute; this does it every ProjectionInterval, so
// the time a new secret takes to be accepted here is that plus the receiver's own
// re-read of the directory.
func (e *Env) startProjection() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stopProjection, e.projectionDone = cancel, make(chan struct{})
	go func() {
		defer close(e.projectionDone)
		t := time.NewTicker(ProjectionInterval)
		defer t.Stop()
		for {
			if err := e.projectSecret(ctx); err != nil && ctx.Err() == nil {
				e.opts.logf("projecting Secret %s/%s: %v", Namespace, SigningSecretName, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// projectSecret copies the receiver's Secret into the secrets directory once: a file per
// key, written atomically, and the files of removed keys deleted.
func (e *Env) projectSecret(ctx context.Context) error {
	sec := &corev1.Secret{}
	err := e.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: SigningSecretName}, sec)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	dir := e.secretsDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		if _, keep := sec.Data[ent.Name()]; !keep && !strings.HasPrefix(ent.Name(), ".") {
			if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil {
				return err
			}
		}
	}
	for k, v := range sec.Data {
		path := filepath.Join(dir, k)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, v) {
			continue
		}
		tmp := filepath.Join(dir, ".tmp-"+k)
		if err := os.WriteFile(tmp, v, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

// connectWebhooks applies the sample OpenAIWebhookEndpoint in ns and waits until it is
// Verified (OpenAI's test delivery reached the receiver and passed its signature check),
// then until the receiver is ready.
func (e *Env) connectWebhooks(ctx context.Context, ns string) error {
	sample := filepath.Join(testenv.RepoRoot(), "config", "samples", "openai_v1alpha1_openaiwebhookendpoint.yaml")
	if _, err := e.kubectl(ctx, nil, "apply", "-n", ns, "-f", sample); err != nil {
		return err
	}
	if _, err := e.kubectl(ctx, nil, "wait", "-n", ns, "--for=condition=Verified", "--timeout=90s", "openaiwebhookendpoint/"+WebhookEndpointName); err != nil {
		status, _ := e.kubectl(ctx, nil, "get", "-n", ns, "openaiwebhookendpoint/"+WebhookEndpointName, "-o", "jsonpath={.status.conditions}")
		return fmt.Errorf("the OpenAIWebhookEndpoint did not become Verified: %w; its conditions: %s", err, status)
	}
	if p := e.Processes()["webhook-receiver"]; p != nil {
		return waitReady(p, fmt.Sprintf("http://127.0.0.1:%d/readyz", e.ports["receiver-probe"]))
	}
	return nil
}
