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

package emulator

import (
	"container/heap"
	"sync"
	"time"
)

// scheduler runs callbacks at given times on one goroutine, from one heap, so that
// thousands of in-flight objects cost one timer. Callbacks must be short: they run one
// after another.
type scheduler struct {
	mu    sync.Mutex
	queue timerHeap
	seq   uint64
	wake  chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup
}

type timerEntry struct {
	at  time.Time
	seq uint64
	fn  func()
}

type timerHeap []timerEntry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = timerEntry{}
	*h = old[:n-1]
	return x
}

func newScheduler() *scheduler {
	s := &scheduler{wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.wg.Add(1)
	go s.run()
	return s
}

// at schedules fn to run at t (at once if t has passed). After close it does nothing.
func (s *scheduler) at(t time.Time, fn func()) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.queue, timerEntry{at: t, seq: s.seq, fn: fn})
	first := s.queue[0].seq == s.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *scheduler) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var wait time.Duration = -1
		var fn func()
		if len(s.queue) > 0 {
			if d := time.Until(s.queue[0].at); d > 0 {
				wait = d
			} else {
				fn = heap.Pop(&s.queue).(timerEntry).fn
			}
		}
		s.mu.Unlock()

		if fn != nil {
			select {
			case <-s.done:
				return
			default:
			}
			fn()
			continue
		}
		if wait < 0 {
			select {
			case <-s.wake:
			case <-s.done:
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			timer.Stop() // Go 1.23+ timers: no stale value after Stop
		case <-s.done:
			return
		}
	}
}

// close stops the scheduler; pending callbacks never run.
func (s *scheduler) close() {
	close(s.done)
	s.wg.Wait()
}
