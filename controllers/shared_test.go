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
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

func TestRefusalReasons(t *testing.T) {
	cases := map[string]struct {
		class openaiclient.Class
		code  string
		want  string
	}{
		"revoked key":      {openaiclient.Unauthorized, "invalid_api_key", openaiv1alpha1.ReasonUnauthorized},
		"missing scope":    {openaiclient.Unauthorized, "", openaiv1alpha1.ReasonUnauthorized},
		"wrong project":    {openaiclient.Unauthorized, "mismatched_project", openaiv1alpha1.ReasonWrongProject},
		"wrong org":        {openaiclient.Unauthorized, "invalid_organization", openaiv1alpha1.ReasonWrongProject},
		"forbidden":        {openaiclient.Forbidden, "unsupported_country_region_territory", openaiv1alpha1.ReasonForbidden},
		"quota":            {openaiclient.QuotaExceeded, "insufficient_quota", openaiv1alpha1.ReasonInsufficientQuota},
		"another 4xx read": {openaiclient.Terminal, "invalid_value", openaiv1alpha1.ReasonRequestRefused},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := refusalReason(tc.class, tc.code); got != tc.want {
				t.Fatalf("refusalReason(%v, %q) = %q, want %q", tc.class, tc.code, got, tc.want)
			}
		})
	}
}

func TestResultsAreStoredOncePerTarget(t *testing.T) {
	cm := func(name string) *openaiv1alpha1.ResultsTarget {
		return &openaiv1alpha1.ResultsTarget{Kind: openaiv1alpha1.ResultsKindConfigMap, Name: name}
	}
	cond := func(status metav1.ConditionStatus, reason string, gen int64) []metav1.Condition {
		return []metav1.Condition{{Type: openaiv1alpha1.ConditionResultsStored, Status: status, Reason: reason, ObservedGeneration: gen}}
	}
	cases := map[string]struct {
		conds  []metav1.Condition
		stored *openaiv1alpha1.ResultsTarget
		target *openaiv1alpha1.ResultsTarget
		gen    int64
		want   bool
	}{
		"not yet": {target: cm("out"), gen: 1, want: false},
		"stored, spec edited since": {
			conds:  cond(metav1.ConditionTrue, openaiv1alpha1.ReasonStored, 1),
			stored: cm("out"),
			target: cm("out"),
			gen:    2,
			want:   true,
		},
		"stored, kind defaulted": {
			conds:  cond(metav1.ConditionTrue, openaiv1alpha1.ReasonStored, 1),
			stored: &openaiv1alpha1.ResultsTarget{Name: "out"},
			target: cm("out"),
			gen:    1,
			want:   true,
		},
		"stored elsewhere: target changed": {
			conds:  cond(metav1.ConditionTrue, openaiv1alpha1.ReasonStored, 1),
			stored: cm("old"),
			target: cm("new"),
			gen:    2,
			want:   false,
		},
		"expired on OpenAI": {
			conds:  cond(metav1.ConditionFalse, openaiv1alpha1.ReasonExpired, 1),
			stored: cm("out"),
			target: cm("out"),
			gen:    3,
			want:   true,
		},
		"too large": {
			conds:  cond(metav1.ConditionFalse, openaiv1alpha1.ReasonTooLarge, 1),
			stored: cm("out"),
			target: cm("out"),
			gen:    3,
			want:   true,
		},
		"conflict, same generation": {
			conds:  cond(metav1.ConditionFalse, openaiv1alpha1.ReasonTargetConflict, 2),
			stored: cm("out"),
			target: cm("out"),
			gen:    2,
			want:   true,
		},
		"conflict, spec edited: try again": {
			conds:  cond(metav1.ConditionFalse, openaiv1alpha1.ReasonTargetConflict, 2),
			stored: cm("out"),
			target: cm("out"),
			gen:    3,
			want:   false,
		},
		"refused key: not done": {
			conds:  cond(metav1.ConditionFalse, openaiv1alpha1.ReasonUnauthorized, 1),
			stored: nil,
			target: cm("out"),
			gen:    1,
			want:   false,
		},
		"written before storedResults": {
			conds:  cond(metav1.ConditionTrue, openaiv1alpha1.ReasonStored, 4),
			target: cm("out"),
			gen:    4,
			want:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(resultsDone(tc.conds, tc.stored, tc.target, tc.gen)).To(Equal(tc.want))
		})
	}
}

func TestRemoveConditionCopiesNothingWhenAbsent(t *testing.T) {
	g := NewWithT(t)
	conds := []metav1.Condition{
		{Type: openaiv1alpha1.ConditionCredentialsReady, Status: metav1.ConditionTrue},
		{Type: openaiv1alpha1.ConditionReconciling, Status: metav1.ConditionTrue},
	}
	before := &conds[0]
	g.Expect(testing.AllocsPerRun(100, func() { removeCondition(&conds, openaiv1alpha1.ConditionStalled) })).To(BeZero())
	g.Expect(conds).To(HaveLen(2))
	g.Expect(&conds[0]).To(BeIdenticalTo(before), "the list is the same one, not a copy")

	removeCondition(&conds, openaiv1alpha1.ConditionReconciling)
	g.Expect(conds).To(HaveLen(1))
	g.Expect(conds[0].Type).To(Equal(openaiv1alpha1.ConditionCredentialsReady))
}
