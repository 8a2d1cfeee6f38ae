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
	"sync"
	"time"
)

// Limits on reading a request body.
const (
	// bodyReadTimeout bounds the time a request may take to send its body once its
	// headers are in. OpenAI sends its few hundred bytes with the headers.
	bodyReadTimeout = 5 * time.Second
	// shedAfter is how long a request must have been reading its body before a new
	// request may cut it off when every place is taken.
	shedAfter = time.Second
	// unreadBodyDrain bounds how long the rest of a refused request's body is drained
	// before its connection closes (closing with unread data would reset it, and the
	// sender might not see the answer).
	unreadBodyDrain = time.Second
	// retryAfterSeconds is the Retry-After of a 503 for lack of a place.
	retryAfterSeconds = "5"
	// maxWebhookIDLen bounds webhook-id, which is remembered once recorded.
	maxWebhookIDLen = 256
)

// readLimiter bounds the requests that read and verify their body at once, and with
// them the memory bodies can take (each at most the body cap). When every place is
// taken, the request that has been reading its body the longest is cut off if that is
// over shedAfter: a genuine delivery sends its small body at once, so only a slow (or
// stalled) sender is ever cut off, and slow senders cannot lock deliveries out. If no
// reader is that slow, the new request is refused.
type readLimiter struct {
	mu    sync.Mutex
	max   int
	slots map[*readSlot]struct{}
}

// readSlot is one place, held from the end of the header checks to the end of
// verification.
type readSlot struct {
	l       *readLimiter
	start   time.Time
	reading bool   // false once the body is in (verifying is quick and never cut off)
	cut     func() // makes the pending body read fail at once
	wasCut  bool
}

func newReadLimiter(maxReads int) *readLimiter {
	return &readLimiter{max: maxReads, slots: map[*readSlot]struct{}{}}
}

// acquire returns a place for a request that starts reading its body at now, or nil if
// there is none. cut, called at most once and from another goroutine, must make the
// request's pending body read fail.
func (l *readLimiter) acquire(now time.Time, cut func()) *readSlot {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.slots) >= l.max {
		var slowest *readSlot
		for s := range l.slots {
			if s.reading && now.Sub(s.start) >= shedAfter && (slowest == nil || s.start.Before(slowest.start)) {
				slowest = s
			}
		}
		if slowest == nil {
			return nil
		}
		delete(l.slots, slowest)
		slowest.wasCut = true
		slowest.cut()
	}
	s := &readSlot{l: l, start: now, reading: true, cut: cut}
	l.slots[s] = struct{}{}
	return s
}

// bodyRead marks the body as read: the request is verifying and is no longer cut off.
func (s *readSlot) bodyRead() {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.reading = false
}

// cutOff reports whether a new request cut this one off.
func (s *readSlot) cutOff() bool {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.wasCut
}

// release frees the place (a no-op for one that was cut off).
func (s *readSlot) release() {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	delete(s.l.slots, s)
}

// inUse returns the number of places taken.
func (l *readLimiter) inUse() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.slots)
}
