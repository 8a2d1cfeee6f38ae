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

package bench

import (
	"slices"
	"testing"
	"time"
)

func TestPollTimesFollowsTheControllerSchedule(t *testing.T) {
	s := time.Second
	before, after := pollTimes(130*s, 15*s, 600*s)
	if want := []time.Duration{15 * s, 30 * s, 60 * s, 120 * s}; !slices.Equal(before, want) {
		t.Errorf("polls before 130s = %v, want %v", before, want)
	}
	if after != 240*s {
		t.Errorf("first poll after 130s = %v, want 4m0s", after)
	}
	// Past the cap, one poll every PollIntervalMax.
	before, _ = pollTimes(2*time.Hour, 15*s, 600*s)
	for i := 1; i < len(before); i++ {
		if d := before[i] - before[i-1]; d > 600*s {
			t.Fatalf("gap %v between polls exceeds the cap", d)
		}
	}
}

func TestProject(t *testing.T) {
	tests := map[string]struct {
		d         time.Duration
		polls     int
		calls     int
		delaySecs float64
	}{
		"ends before the first poll": {d: 5 * time.Second, polls: 0, calls: 4, delaySecs: 10},
		"ends between 15 s and 30 s": {d: 20 * time.Second, polls: 1, calls: 5, delaySecs: 10},
		"a day: a poll every 10 min": {d: 24 * time.Hour, polls: 149, calls: 153, delaySecs: 360},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Project(name, tc.d, 15*time.Second, 10*time.Minute)
			if p.Polls != tc.polls || p.WebhookCalls != tc.calls || p.PollingCalls != tc.calls || p.PollingDelaySeconds != tc.delaySecs {
				t.Errorf("Project(%s) = %+v, want %d polls, %d calls, %vs delay", tc.d, p, tc.polls, tc.calls, tc.delaySecs)
			}
		})
	}
}
