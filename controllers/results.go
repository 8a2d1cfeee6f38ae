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

package controllers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
)

// maxResultsBytes is what the operator puts in one ConfigMap or Secret: the API server
// refuses more than 1 MiB of data, and the object's metadata needs some room.
const maxResultsBytes = 1<<20 - 16<<10

// errTooLarge means results do not fit in one object.
type errTooLarge struct{ size int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("the results are more than %d bytes; a ConfigMap or Secret holds at most 1 MiB", e.size)
}

// download reads a file's content from OpenAI, refusing more than limit bytes.
func download(ctx context.Context, api openai.Client, fileID string, limit int64) ([]byte, error) {
	resp, err := api.Files.Content(ctx, fileID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading file %s: HTTP %d", fileID, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("downloading file %s: %w", fileID, err)
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge{size: limit}
	}
	return data, nil
}

// resultsOutcome is what writeResults did, for the ResultsStored condition.
type resultsOutcome struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

// writeResults creates or updates the ConfigMap or Secret that target names, owned by
// owner, holding data. It never overwrites an object that owner does not control.
func writeResults(
	ctx context.Context,
	c client.Client,
	scheme *runtime.Scheme,
	owner client.Object,
	target *openaiv1alpha1.ResultsTarget,
	data map[string][]byte,
) (resultsOutcome, error) {
	var total int
	keys := make([]string, 0, len(data))
	for k, v := range data {
		total += len(v)
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kind := target.Kind
	if kind == "" {
		kind = openaiv1alpha1.ResultsKindConfigMap
	}
	if total > maxResultsBytes {
		return resultsOutcome{metav1.ConditionFalse, openaiv1alpha1.ReasonTooLarge,
			fmt.Sprintf(
				"The results are %d bytes, more than a %s can hold (about 1 MiB); they stay on OpenAI (see the file ids in status)",
				total,
				kind,
			)}, nil
	}

	var obj client.Object
	switch kind {
	case openaiv1alpha1.ResultsKindSecret:
		obj = &corev1.Secret{}
	default:
		obj = &corev1.ConfigMap{}
	}
	key := client.ObjectKey{Namespace: owner.GetNamespace(), Name: target.Name}
	err := c.Get(ctx, key, obj)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return resultsOutcome{}, fmt.Errorf("reading %s %s: %w", kind, target.Name, err)
	}
	if exists && !metav1.IsControlledBy(obj, owner) {
		return resultsOutcome{metav1.ConditionFalse, openaiv1alpha1.ReasonTargetConflict,
			fmt.Sprintf("%s %q exists and does not belong to this resource; choose another spec.results.name or delete it", kind, target.Name)}, nil
	}
	obj.SetNamespace(owner.GetNamespace())
	obj.SetName(target.Name)
	switch o := obj.(type) {
	case *corev1.Secret:
		o.Type = corev1.SecretTypeOpaque
		o.Data = data
	case *corev1.ConfigMap:
		o.Data, o.BinaryData = map[string]string{}, nil
		for k, v := range data {
			if utf8.Valid(v) {
				o.Data[k] = string(v)
			} else {
				if o.BinaryData == nil {
					o.BinaryData = map[string][]byte{}
				}
				o.BinaryData[k] = v
			}
		}
	}
	if err := controllerutil.SetControllerReference(owner, obj, scheme); err != nil {
		return resultsOutcome{}, err
	}
	if exists {
		err = c.Update(ctx, obj, client.FieldOwner(FieldOwner))
	} else {
		err = c.Create(ctx, obj, client.FieldOwner(FieldOwner))
	}
	if err != nil {
		return resultsOutcome{}, fmt.Errorf("writing %s %s: %w", kind, target.Name, err)
	}
	return resultsOutcome{metav1.ConditionTrue, openaiv1alpha1.ReasonStored,
		fmt.Sprintf("Wrote %v (%d bytes) to %s %q", keys, total, kind, target.Name)}, nil
}
