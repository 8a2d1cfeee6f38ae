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
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestRateLimitHoldKeepsTheLatestWaitAndForgetsPassedOnes(t *testing.T) {
	s := &sharedState{}
	now := time.Now()
	const uid, other = types.UID("a"), types.UID("b")
	if got := s.heldFor(uid, now); got != 0 {
		t.Fatalf("an object never rate limited is held for %v", got)
	}
	s.hold(uid, now.Add(2*time.Second))
	s.hold(uid, now.Add(time.Second)) // an earlier end never shortens the wait
	if got := s.heldFor(uid, now); got != 2*time.Second {
		t.Fatalf("held for %v, want 2s", got)
	}
	if got := s.heldFor(other, now); got != 0 {
		t.Fatalf("another object is held for %v", got)
	}
	s.hold(uid, now.Add(3*time.Second)) // a later one extends it
	if got := s.heldFor(uid, now); got != 3*time.Second {
		t.Fatalf("held for %v, want 3s", got)
	}
	if got := s.heldFor(uid, now.Add(3*time.Second)); got != 0 {
		t.Fatalf("held for %v once the wait has passed", got)
	}
	if _, ok := s.holds.Load(uid); ok {
		t.Fatal("a passed hold is still remembered")
	}
	var none *sharedState
	none.hold(uid, now.Add(time.Hour))
	if got := none.heldFor(uid, now); got != 0 {
		t.Fatalf("a nil state holds for %v", got)
	}
}
