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

package faultschedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openai-operator/openai-operator/internal/openaiclient"
)

// errProcessGone is what a stopped manager's last calls get: nothing leaves a process
// that has crashed.
var errProcessGone = errors.New("connection refused: the process is gone")

// CallStats counts the OpenAI calls about one resource.
type CallStats struct {
	// Calls counts the calls OpenAI saw (or would have: injected answers included), by
	// operation in ByOp.
	Calls int
	ByOp  map[string]int
	// Faults counts the drawn faults injected, by fault.
	Faults map[Fault]int
	// First and Last are when the first and the last call came.
	First, Last time.Time
	// CreateRefusals are the 4xx statuses OpenAI answered to the resource's create calls
	// (and a webhook endpoint's updates).
	CreateRefusals []int
	// Refused counts the calls refused by a window or a revoked key (bounded per project).
	Refused int
	// LostCreates counts the create calls OpenAI carried out whose answer the manager
	// never saw (a timeout after the work, or a crash after the answer).
	LostCreates int
}

// refusals counts the calls refused by one stretch of refusals (a window, or a revoked
// key), for the whole project.
type refusals struct {
	Calls       int
	First, Last time.Time
}

// Wire is the manager's HTTP transport to OpenAI. It decides and injects the drawn
// faults, refuses calls during refusal windows and with revoked keys, stops the manager
// after an armed call's answer, and records what OpenAI created for which resource.
// It outlives the manager processes of a seed: it is the network, not the process.
type Wire struct {
	sched *Schedule
	next  http.RoundTripper
	book  *logBook
	// crash is called (without blocking) when an armed call was answered; the manager
	// restarts after delay.
	crash func(alive *atomic.Bool, delay time.Duration)

	faultsOn atomic.Bool
	phase0   time.Time

	mu        sync.Mutex
	attempts  map[string]int
	stats     map[string]*CallStats // resource name -> stats; "" for unattributed calls
	injected  map[Fault]int
	revoked   map[string]bool
	refused   map[string]*refusals // window kind or "revoked-key" -> refusals
	owners    map[string]string    // OpenAI id -> resource name
	responses map[string][]string  // resource name -> ids of responses OpenAI created
	triggers  []trigger
	fired     []string
}

// trigger is an armed ActCrashAfterAnswer.
type trigger struct {
	op, target string
	delay      time.Duration
}

func newWire(s *Schedule, next http.RoundTripper, book *logBook) *Wire {
	return &Wire{
		sched: s, next: next, book: book,
		attempts: map[string]int{}, stats: map[string]*CallStats{}, injected: map[Fault]int{},
		revoked: map[string]bool{}, refused: map[string]*refusals{}, owners: map[string]string{},
		responses: map[string][]string{},
	}
}

// startPhase turns the faults on; the schedule's times count from now.
func (w *Wire) startPhase() {
	w.mu.Lock()
	w.phase0 = time.Now()
	w.mu.Unlock()
	w.faultsOn.Store(true)
}

// stopFaults turns drawn faults, windows and any armed trigger off.
func (w *Wire) stopFaults() {
	w.faultsOn.Store(false)
	w.mu.Lock()
	w.triggers = nil
	w.mu.Unlock()
}

// arm arms a crash after the next successful op about target ("" for any); a fresh
// manager starts after delay.
func (w *Wire) arm(op, target string, delay time.Duration) {
	w.mu.Lock()
	w.triggers = append(w.triggers, trigger{op: op, target: target, delay: delay})
	w.mu.Unlock()
}

// revoke makes OpenAI refuse key from now on.
func (w *Wire) revoke(key string) {
	w.mu.Lock()
	w.revoked[key] = true
	w.mu.Unlock()
}

// forProcess returns the transport of one manager process: once alive is false, every
// call fails without reaching OpenAI.
func (w *Wire) forProcess(alive *atomic.Bool) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) { return w.roundTrip(req, alive) })
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

var (
	uploadName = regexp.MustCompile(`openai-operator_[^_"]+_([^_"]+)_[0-9a-f-]+(?:_[a-z]+)?\.jsonl`)
	tagInBody  = regexp.MustCompile(`"openai\.operator\.dev/resource"\s*:\s*"[^"/]*/([^"/]+)/[^"]*"`)
	idInPath   = regexp.MustCompile(`/v1/(?:batches|responses|files|fine_tuning/jobs)/([A-Za-z0-9_\-]+)`)
)

// resourceOf names the resource a call is about: the reconcile that made it, else what
// the request names (an upload's file name, a create's tag, an id in the path).
func (w *Wire) resourceOf(req *http.Request, body []byte) string {
	if name := reconciledResource(req.Context()); name != "" {
		return name
	}
	if m := uploadName.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	if m := tagInBody.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	if m := idInPath.FindStringSubmatch(req.URL.Path); m != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.owners[m[1]]
	}
	return ""
}

func (w *Wire) roundTrip(req *http.Request, alive *atomic.Bool) (*http.Response, error) {
	if !alive.Load() {
		return nil, errProcessGone
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	op := openaiclient.Operation(req.Method, req.URL.Path)
	res := w.resourceOf(req, body)
	key := strings.TrimSpace(strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "))
	now := time.Now()

	// Decide what happens to the call, under the lock; act outside it.
	w.mu.Lock()
	st := w.stats[res]
	if st == nil {
		st = &CallStats{ByOp: map[string]int{}, Faults: map[Fault]int{}}
		w.stats[res] = st
	}
	st.Calls++
	st.ByOp[op]++
	if st.First.IsZero() {
		st.First = now
	}
	st.Last = now
	var fault Fault
	var refusal string
	var retryAfter time.Duration
	switch {
	case w.revoked[key]:
		refusal, fault = "revoked-key", Fault401
	case w.faultsOn.Load():
		if win := w.windowAt(now); win != nil {
			refusal, retryAfter = win.Kind, win.RetryAfter
			fault = map[string]Fault{WindowRateLimit: Fault429, WindowRateLimitNoHeader: Fault429NoRetryAfter, WindowQuota: Fault429Quota}[win.Kind]
			break
		}
		attempt := w.attempts[res+"\x00"+op]
		w.attempts[res+"\x00"+op]++
		if fault = w.sched.FaultFor(res, op, attempt); fault != NoFault {
			st.Faults[fault]++
			w.injected[fault]++
		}
	}
	if refusal != "" {
		st.Refused++
		r := w.refused[refusal]
		if r == nil {
			r = &refusals{First: now}
			w.refused[refusal] = r
		}
		r.Calls++
		r.Last = now
	}
	w.mu.Unlock()

	switch fault {
	case NoFault:
	case FaultTimeoutBefore:
		w.book.add(fmt.Sprintf("wire: %s %s: %s", nameOr(res), op, fault))
		return nil, timeoutError{}
	case FaultTimeoutAfter:
	default:
		w.book.add(fmt.Sprintf("wire: %s %s: %s%s", nameOr(res), op, fault, map[bool]string{true: " (" + refusal + ")"}[refusal != ""]))
		if fault == Fault429 && retryAfter == 0 {
			retryAfter = faultRetryAfter
		}
		resp := errorAnswer(req, fault, retryAfter)
		w.noteCreateRefusal(res, op, resp.StatusCode)
		return resp, nil
	}

	resp, err := w.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if resp.StatusCode < 300 {
		w.learn(res, op, data)
		w.learnSecret(data)
	} else {
		w.noteCreateRefusal(res, op, resp.StatusCode)
	}
	if fault == FaultTimeoutAfter {
		w.noteLostCreate(res, op, resp.StatusCode)
		w.book.add(fmt.Sprintf("wire: %s %s: OpenAI answered %d; %s", nameOr(res), op, resp.StatusCode, fault))
		return nil, timeoutError{after: true}
	}
	if resp.StatusCode < 300 {
		if delay, ok := w.fire(res, op); ok {
			alive.Store(false)
			w.noteLostCreate(res, op, resp.StatusCode)
			w.book.add(fmt.Sprintf("wire: %s %s: OpenAI answered %d; the manager crashes before it sees the answer", nameOr(res), op, resp.StatusCode))
			w.crash(alive, delay)
			return nil, errProcessGone
		}
	}
	return resp, nil
}

func nameOr(res string) string {
	if res == "" {
		return "(no resource)"
	}
	return res
}

// windowAt returns the refusal window open at now, if any. Callers hold w.mu.
func (w *Wire) windowAt(now time.Time) *Window {
	t := now.Sub(w.phase0)
	for i := range w.sched.Windows {
		if win := &w.sched.Windows[i]; t >= win.Start && t < win.End {
			return win
		}
	}
	return nil
}

// fire reports whether an armed trigger matches a successful op about res, disarms
// it if so, and returns its restart delay.
func (w *Wire) fire(res, op string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, tr := range w.triggers {
		if tr.op == op && (tr.target == "" || tr.target == res) {
			w.triggers = append(w.triggers[:i], w.triggers[i+1:]...)
			w.fired = append(w.fired, op+" "+nameOr(res))
			return tr.delay, true
		}
	}
	return 0, false
}

// Operations (openaiclient.Operation) the harness names.
const (
	opFilesCreate     = "files.create"
	opFilesContent    = "files.content"
	opFilesDelete     = "files.delete"
	opBatchesCreate   = "batches.create"
	opResponsesCreate = "responses.create"
	opFineTuneCreate  = "fine_tuning.jobs.create"
	opEndpointsCreate = "webhook_endpoints.create"
)

func isCreate(op string) bool {
	switch op {
	case opFilesCreate, opBatchesCreate, opResponsesCreate, opFineTuneCreate, opEndpointsCreate:
		return true
	}
	return false
}

// noteLostCreate counts a create OpenAI carried out (status) whose answer is lost.
func (w *Wire) noteLostCreate(res, op string, status int) {
	if !isCreate(op) || status >= 300 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.stats[res]; st != nil {
		st.LostCreates++
	}
}

// learnSecret hands a signing secret in OpenAI's answer (a webhook endpoint's create
// or rotation) to the log book, which from then on watches for it (I8).
func (w *Wire) learnSecret(data []byte) {
	if !bytes.Contains(data, []byte(`"signing_secret"`)) {
		return
	}
	var obj struct {
		SigningSecret string `json:"signing_secret"`
	}
	if json.Unmarshal(data, &obj) == nil && obj.SigningSecret != "" {
		w.book.watchFor(obj.SigningSecret)
	}
}

// noteCreateRefusal records a 4xx answer to a create call, or to a webhook endpoint's
// update (a submission of its spec as well).
func (w *Wire) noteCreateRefusal(res, op string, status int) {
	if !isCreate(op) && op != "webhook_endpoints.update" || status < 400 || status >= 500 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.stats[res]; st != nil {
		st.CreateRefusals = append(st.CreateRefusals, status)
	}
}

// learn records what a successful answer says was created, and for whom.
func (w *Wire) learn(res, op string, data []byte) {
	var obj struct {
		ID           string `json:"id"`
		InputFileID  string `json:"input_file_id"`
		OutputFileID string `json:"output_file_id"`
		ErrorFileID  string `json:"error_file_id"`
		// A fine-tuning job's files.
		TrainingFile   string `json:"training_file"`
		ValidationFile string `json:"validation_file"`
	}
	if json.Unmarshal(data, &obj) != nil || obj.ID == "" || res == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range []string{obj.ID, obj.InputFileID, obj.OutputFileID, obj.ErrorFileID, obj.TrainingFile, obj.ValidationFile} {
		if id != "" {
			w.owners[id] = res
		}
	}
	if op == opResponsesCreate {
		for _, id := range w.responses[res] {
			if id == obj.ID {
				return
			}
		}
		w.responses[res] = append(w.responses[res], obj.ID)
	}
}

// ResponsesCreated returns the ids of the responses OpenAI created, by resource name.
func (w *Wire) ResponsesCreated() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string][]string, len(w.responses))
	for k, v := range w.responses {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Owner returns the resource an OpenAI id belongs to.
func (w *Wire) Owner(id string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.owners[id]
}

// Stats returns a copy of the call counts, by resource name.
func (w *Wire) Stats() map[string]CallStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]CallStats, len(w.stats))
	for k, v := range w.stats {
		c := *v
		c.ByOp, c.Faults = map[string]int{}, map[Fault]int{}
		for op, n := range v.ByOp {
			c.ByOp[op] = n
		}
		for f, n := range v.Faults {
			c.Faults[f] = n
		}
		c.CreateRefusals = append([]int(nil), v.CreateRefusals...)
		out[k] = c
	}
	return out
}

// Injected returns how many drawn faults of each kind were injected.
func (w *Wire) Injected() map[Fault]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[Fault]int, len(w.injected))
	for f, n := range w.injected {
		out[f] = n
	}
	return out
}

// Refused returns the refusals of each window kind and of revoked keys.
func (w *Wire) Refused() map[string]refusals {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]refusals, len(w.refused))
	for k, v := range w.refused {
		out[k] = *v
	}
	return out
}

// Fired returns the armed calls that crashed the manager.
func (w *Wire) Fired() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]string(nil), w.fired...)
	sort.Strings(out)
	return out
}
