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

	"github.com/openai-operator/openai-operator/controllers"
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
	if before, after := pollTimes(time.Hour, 0, 600*s); len(before) != 0 || after != time.Hour {
		t.Errorf("pollTimes without a first interval = %v, %v; want no polls", before, after)
	}
}

func TestScheduleDueMatchesPollTimes(t *testing.T) {
	sub := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := schedule{10 * time.Minute, 6 * time.Hour}
	// Read at 40 min: the next read is due 40 min later.
	last := sub.Add(40 * time.Minute)
	if s.due(sub, last, sub.Add(79*time.Minute)) {
		t.Error("a poll is due at 79 min, want the next at 80 min")
	}
	if !s.due(sub, last, sub.Add(80*time.Minute)) {
		t.Error("no poll due at 80 min, want one")
	}
}

func TestProject(t *testing.T) {
	opts := controllers.DefaultOptions()
	opts.PollIntervalMin, opts.PollIntervalMax = 15*time.Second, 10*time.Minute
	opts.WebhookPollIntervalMin, opts.WebhookPollIntervalMax = 10*time.Minute, 6*time.Hour
	tests := map[string]struct {
		d                   time.Duration
		polls, calls        int
		delaySecs           float64
		hookPolls, hookCall int
		lostSecs            float64
	}{
		"ends before the first poll": {d: 5 * time.Second, polls: 0, calls: 4, delaySecs: 10, hookPolls: 0, hookCall: 4, lostSecs: 595},
		"ends between 15 s and 30 s": {d: 20 * time.Second, polls: 1, calls: 5, delaySecs: 10, hookPolls: 0, hookCall: 4, lostSecs: 580},
		"a day: 10 min, doubling to 6 h against a poll every 10 min": {d: 24 * time.Hour, polls: 149, calls: 153, delaySecs: 360,
			hookPolls: 9, hookCall: 13, lostSecs: (1720 - 1440) * 60},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Project(name, tc.d, opts)
			if p.Polls != tc.polls || p.PollingCalls != tc.calls || p.PollingDelaySeconds != tc.delaySecs {
				t.Errorf("short schedule: Project(%s) = %+v, want %d polls, %d calls, %vs delay", tc.d, p, tc.polls, tc.calls, tc.delaySecs)
			}
			if p.WebhookPolls != tc.hookPolls || p.WebhookCalls != tc.hookCall || p.LostEventDelaySeconds != tc.lostSecs {
				t.Errorf(
					"webhook schedule: Project(%s) = %+v, want %d polls, %d calls, %vs to notice a lost event",
					tc.d,
					p,
					tc.hookPolls,
					tc.hookCall,
					tc.lostSecs,
				)
			}
		})
	}
}

func TestWebhookScheduleFollowsPollBounds(t *testing.T) {
	tests := map[string]struct {
		min, max time.Duration
		want     schedule
	}{
		"the webhook bounds":          {min: 10 * time.Minute, max: 6 * time.Hour, want: schedule{10 * time.Minute, 6 * time.Hour}},
		"a cap below the floor rises": {min: 12 * time.Hour, max: 6 * time.Hour, want: schedule{12 * time.Hour, 12 * time.Hour}},
		"off: the short schedule":     {min: 0, max: 6 * time.Hour, want: schedule{15 * time.Second, 10 * time.Minute}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := controllers.DefaultOptions()
			o.PollIntervalMin, o.PollIntervalMax = 15*time.Second, 10*time.Minute
			o.WebhookPollIntervalMin, o.WebhookPollIntervalMax = tc.min, tc.max
			if got := webhookSchedule(o); got != tc.want {
				t.Errorf("webhookSchedule = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMaxLengthWithinTarget(t *testing.T) {
	s := schedule{10 * time.Minute, 6 * time.Hour}
	d := maxLengthWithin(s, 5)
	if d != 20*time.Minute {
		t.Fatalf("maxLengthWithin(5) = %v, want 20m (one safety poll, at 10 min)", d)
	}
	if _, calls, _ := s.calls(d); calls != 5 {
		t.Errorf("a batch of %v costs %d calls, want 5", d, calls)
	}
	if _, calls, _ := s.calls(d + time.Second); calls != 6 {
		t.Errorf("a batch of %v costs %d calls, want 6", d+time.Second, calls)
	}
}

func TestDayMinimum(t *testing.T) {
	o := controllers.DefaultOptions()
	o.WebhookPollIntervalMax = 6 * time.Hour
	m, ok := dayMinimum(o, 5)
	if !ok || m != 12*time.Hour {
		t.Fatalf("dayMinimum(5) = %v, %v; want 12h", m, ok)
	}
	if _, calls, _ := (schedule{m, m}).calls(24 * time.Hour); calls > 5 {
		t.Errorf("a day at %v costs %d calls, want at most 5", m, calls)
	}
	if _, ok := dayMinimum(o, 3); ok {
		t.Error("dayMinimum(3) found a schedule; a batch costs at least 4 calls")
	}
}
