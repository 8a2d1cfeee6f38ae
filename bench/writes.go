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
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/devenv"
	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// WritesOptions size the writes scenario.
type WritesOptions struct {
	// Dir receives the environment's kubeconfigs and process logs.
	Dir string
	// BinDir holds the manager, webhook-receiver and openai-emulator binaries.
	BinDir string
	// Items is how many batches each phase (completions, submissions) uses.
	Items int
	// Rounds is how many times the completions, the submissions and their replays run,
	// one after another (default 2): each operator rate is held against the replays of
	// its own round, measured minutes apart at most, under the same load.
	Rounds int
	// CeilingConcurrency are the numbers of items a bare client replays at once when it
	// measures the API server's ceiling for an item's writes (default 16 and 64).
	CeilingConcurrency []int
	// ReceiverReplicas are the receiver replica counts whose throughput is measured
	// (default 1, 2 and 4); ReceiverConcurrency is how many webhooks are in flight in
	// all (default 64).
	ReceiverReplicas    []int
	ReceiverConcurrency int
	// ManagerArgs are added to the manager's command line (e.g. its reconcile workers).
	ManagerArgs []string
	// SplitCPUs runs the API server and etcd on half of the CPUs and everything else on
	// the other half (see splitCPUs), when there are two or more.
	SplitCPUs bool
	// Timeout bounds each phase.
	Timeout time.Duration
	// Progress receives a line per stage; nil discards.
	Progress io.Writer
}

// WritesResults are the API server writes per submission and per completion, the
// sustained rates, and the API server's bare write ceiling, from one environment.
type WritesResults struct {
	Scenario
	Items int `json:"items"`
	// CPUs says how the CPUs were split between the control plane and the rest; empty:
	// not split.
	CPUs string `json:"cpus,omitempty"`
	// Rounds are the operator's figures, one entry per round.
	Rounds []WritesRound `json:"rounds"`
	// Ceilings are a bare client's replays of each item's writes (submission,
	// completion, webhook event), the manager stopped: the API server's ceiling for that
	// mix of writes, at each concurrency.
	Ceilings []WriteReplay `json:"ceilings"`
	// Receivers are the receiver's throughput, one entry per round of a replica count.
	Receivers []ReceiverReplicas `json:"receivers,omitempty"`
}

// WritesRound is one round of the operator's completions and submissions.
type WritesRound struct {
	Round int `json:"round"`
	// CompletionWrites are the API server's write requests (verb and resource, all
	// clients but the bench's own and leader election) from the first completion
	// event to the last batch Complete; WritesPerCompletion is their sum per batch.
	CompletionWrites    map[string]int64 `json:"completionWrites"`
	WritesPerCompletion float64          `json:"writesPerCompletion"`
	// CompletionsPerSecond is Items over the span from the emulator's first completion
	// to the last batch Complete; ArrivalSeconds is the span of the emulator's
	// completions (how fast the events could arrive).
	CompletionsPerSecond float64 `json:"completionsPerSecond"`
	CompletionSeconds    float64 `json:"completionSeconds"`
	ArrivalSeconds       float64 `json:"arrivalSeconds"`
	// SubmissionWrites are the same from creating Items in-flight batches to the last
	// batch id recorded (the bench's creates excluded); WritesPerSubmission their sum
	// per batch; SubmissionsPerSecond Items over that span.
	SubmissionWrites     map[string]int64 `json:"submissionWrites"`
	WritesPerSubmission  float64          `json:"writesPerSubmission"`
	SubmissionsPerSecond float64          `json:"submissionsPerSecond"`
	SubmissionSeconds    float64          `json:"submissionSeconds"`
}

// Mixes of writes the bench replays.
const (
	MixSubmission = "submission"
	MixCompletion = "completion"
	MixEvent      = "webhook event"
)

// WriteReplay is a bare client replaying one item's writes on Items objects,
// Concurrency items at once, each item's writes one after another (as the operator makes
// them).
type WriteReplay struct {
	Mix string `json:"mix"`
	// Round is the round of the operator's writes it replays (WritesRound.Round); 0 for
	// webhook events.
	Round int `json:"round"`
	// PerItem are the writes made for each item, by verb and resource: the operator's
	// measured writes per item, rounded to whole writes.
	PerItem         map[string]int `json:"perItem"`
	Items           int            `json:"items"`
	Concurrency     int            `json:"concurrency"`
	Seconds         float64        `json:"seconds"`
	ItemsPerSecond  float64        `json:"itemsPerSecond"`
	WritesPerSecond float64        `json:"writesPerSecond"`
}

// Ceiling returns the API server's ceiling for mix: the median items per second of its
// replays at each concurrency, the best of them (with its concurrency and rounds). A
// round >= 0 takes only that round's replays; -1 takes all.
func (r *WritesResults) Ceiling(mix string, round int) (best WriteReplay, rounds int, ok bool) {
	rates := map[int][]float64{}
	var order []int
	for _, c := range r.Ceilings {
		if c.Mix != mix || (round >= 0 && c.Round != round) {
			continue
		}
		if _, seen := rates[c.Concurrency]; !seen {
			order = append(order, c.Concurrency)
		}
		rates[c.Concurrency] = append(rates[c.Concurrency], c.ItemsPerSecond)
	}
	for _, conc := range order {
		if m := Median(rates[conc]); m > best.ItemsPerSecond {
			best = WriteReplay{Mix: mix, Concurrency: conc, ItemsPerSecond: m}
			rounds, ok = len(rates[conc]), true
		}
	}
	return best, rounds, ok
}

// ReceiverReplicas is one round of the receiver's throughput with Replicas processes:
// Events signed webhooks (batch.completed for as many in-flight batches) spread
// round-robin over them, Concurrency in flight in all, the manager stopped. The counts
// run up and then down again (1, 2, 4, 4, 2, 1), so that each has a round early and late.
type ReceiverReplicas struct {
	Replicas    int `json:"replicas"`
	Round       int `json:"round"`
	Events      int `json:"events"`
	Concurrency int `json:"concurrency"`
	// Accepted are the events answered 200 "accepted"; EventsPerSecond is Accepted over
	// the span from the first request to the last answer.
	Accepted        int     `json:"accepted"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
	// Writes are the API server's write requests in that span (leader election
	// excluded); WritesPerEvent their sum per accepted event.
	Writes         map[string]int64 `json:"writes"`
	WritesPerEvent float64          `json:"writesPerEvent"`
}

// CompletionRequests is each completing batch's input: enough requests that the
// emulator (time scale 1) finishes it a minute after creation, once every batch exists.
const CompletionRequests = 300

// RunWrites measures API server writes per completion and per submission with the real
// binaries, and the API server's bare write ceiling, in one environment. Each round:
//  1. Completions: with the manager stopped, Items batches of CompletionRequests
//     requests are created in the emulator and seeded as InProgress OpenAIBatch objects
//     (like ScaleOptions.Seed); a new manager resyncs them; the emulator completes them
//     all about a minute after creation, its webhook events go to the receiver.
//  2. Submissions: Items in-flight (emulator-hang) batches are created at once.
//  3. Ceilings: with the manager stopped, a bare client replays each item's writes
//     (the submission's on the round's in-flight batches, the completion's on its
//     completed ones) at each of CeilingConcurrency.
//
// Between rounds the last round's objects are removed. Then:
//  4. Receiver replicas: signed batch.completed webhooks for the last round's in-flight
//     batches go round-robin to 1, 2 and 4 receiver processes (ReceiverReplicas), each
//     round after a bare replay of a webhook event's status patch.
//
//nolint:gocyclo // one scenario's three phases in the order they run, sharing one environment
func RunWrites(ctx context.Context, opts WritesOptions) (*WritesResults, error) {
	if len(opts.CeilingConcurrency) == 0 {
		opts.CeilingConcurrency = []int{16, 64}
	}
	if opts.ReceiverConcurrency == 0 {
		opts.ReceiverConcurrency = 64
	}
	sc, done := track(
		fmt.Sprintf(
			"internal/devenv: envtest API server with the kustomize install; emulator (time scale 1), webhook-receiver and manager as processes under their ServiceAccounts (manager defaults); %d batches per phase; API server writes from its apiserver_request_total, leader election and the bench's own writes excluded",
			opts.Items,
		),
	)
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			_, _ = fmt.Fprintf(opts.Progress, "writes: "+format+"\n", args...)
		}
	}
	const ns = "bench-writes"
	env, err := devenv.Up(ctx, devenv.Options{
		Dir: opts.Dir, BinDir: opts.BinDir, TimeScale: 1,
		Webhooks:              devenv.WebhooksByFlags,
		EmulatorArgs:          []string{"--log-level", "debug"},
		ManagerArgs:           opts.ManagerArgs,
		CredentialsNamespaces: []string{ns},
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Down() }()
	res := &WritesResults{Items: opts.Items}
	if opts.SplitCPUs {
		if res.CPUs, err = splitCPUs(); err != nil {
			return nil, err
		}
		if res.CPUs != "" {
			progress("%s", res.CPUs)
		}
	}
	// No client-side rate limit (as the manager's: controller-runtime sets QPS -1).
	cfg := rest.CopyConfig(env.ControlPlane.Config)
	cfg.QPS = -1
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	submitted, complete := newTimeSet(), newTimeSet()
	stopWatch, err := WatchBatches(ctx, c, ns, func(b *openaiv1alpha1.OpenAIBatch, at time.Time) {
		if b.Status.BatchID != "" {
			submitted.first(b.Name, at)
		}
		if isComplete(b) {
			complete.first(b.Name, at)
		}
	})
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	progress("submitting the template batch")
	template, err := submitTemplate(ctx, c, ns, "template", opts.Timeout)
	if err != nil {
		return nil, err
	}
	w := &writesRun{
		opts: opts, env: env, c: c, kube: kube, ns: ns, template: template,
		submitted: submitted, complete: complete, progress: progress, res: res,
	}
	var hang []string
	for round := range max(opts.Rounds, 1) {
		if round > 0 {
			// The last round's objects go, without the manager (stopped for the
			// replays): its in-flight batches would poll during this round.
			if err := w.remove(ctx, round-1); err != nil {
				return nil, err
			}
		}
		if hang, err = w.round(ctx, round); err != nil {
			return nil, err
		}
	}

	// 4. Receiver replicas, each round after a bare replay of a webhook event's write.
	if res.Receivers, err = receiverReplicas(ctx, env, c, kube, ns, hang, opts, func(ctx context.Context) error {
		r, err := replayWrites(ctx, c, ns, MixEvent, map[string]int{"PATCH openaibatches/status": 1}, hang, opts.ReceiverConcurrency)
		if err != nil {
			return fmt.Errorf("replaying the %s writes: %w", MixEvent, err)
		}
		res.Ceilings = append(res.Ceilings, r)
		progress("bare client, %s writes %v, %d at once: %.1f items/s", MixEvent, r.PerItem, r.Concurrency, r.ItemsPerSecond)
		return nil
	}, progress); err != nil {
		return nil, err
	}
	done()
	res.Scenario = *sc
	return res, nil
}

// perItem rounds writes per item to whole writes.
func perItem(writes map[string]int64, items int) map[string]int {
	out := map[string]int{}
	for k, v := range writes {
		if n := int(math.Round(float64(v) / float64(items))); n > 0 {
			out[k] = n
		}
	}
	return out
}

// replayWrites makes each item's writes (perItem) on every object, conc objects at once,
// and returns the rate.
func replayWrites(
	ctx context.Context,
	c client.Client,
	ns, mix string,
	perItem map[string]int,
	objects []string,
	conc int,
) (WriteReplay, error) {
	keys := make([]string, 0, len(perItem))
	writes := 0
	for k, n := range perItem {
		keys = append(keys, k)
		writes += n
	}
	sort.Strings(keys)
	r := WriteReplay{Mix: mix, PerItem: perItem, Items: len(objects), Concurrency: conc}
	begin := time.Now()
	err := parallel(ctx, len(objects), conc, func(ctx context.Context, i int) error {
		for _, k := range keys {
			for j := range perItem[k] {
				if err := replayWrite(ctx, c, ns, objects[i], k, fmt.Sprintf("%s %d.%d", mix, i, j)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.Seconds = time.Since(begin).Seconds()
	r.ItemsPerSecond = ratio(float64(len(objects)), r.Seconds)
	r.WritesPerSecond = ratio(float64(len(objects)*writes), r.Seconds)
	return r, nil
}

// replayWrite makes one write of kind key ("VERB resource", as apiServerRequests names
// them) concerning the OpenAIBatch name: a metadata merge patch, a status merge patch or
// an Event.
func replayWrite(ctx context.Context, c client.Client, ns, name, key, tag string) error {
	b := &openaiv1alpha1.OpenAIBatch{}
	b.Namespace, b.Name = ns, name
	switch key {
	case "PATCH openaibatches":
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"bench.openai-operator.dev/replay":%q}}}`, tag)
		return c.Patch(ctx, b, client.RawPatch(types.MergePatchType, patch))
	case "PATCH openaibatches/status":
		patch := fmt.Appendf(nil, `{"status":{"progress":%q}}`, "replay "+tag)
		return c.Status().Patch(ctx, b, client.RawPatch(types.MergePatchType, patch))
	case "POST events":
		now := metav1.NowMicro()
		return c.Create(ctx, &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Namespace: ns, GenerateName: name + "-replay-"},
			EventTime:           now,
			ReportingController: "bench.openai-operator.dev/replay",
			ReportingInstance:   "bench",
			Action:              "Replay",
			Reason:              "Replay",
			Type:                corev1.EventTypeNormal,
			Note:                tag,
			Regarding: corev1.ObjectReference{
				APIVersion: openaiv1alpha1.GroupVersion.String(), Kind: "OpenAIBatch", Namespace: ns, Name: name,
			},
		})
	}
	return fmt.Errorf("no replay for %q", key)
}

// receiverReplicas measures the receiver's throughput with each of opts.ReceiverReplicas
// processes; the first is the environment's receiver, the others start and stop as
// needed, so that each count runs with exactly that many watching. Before each round,
// bare runs a bare client's replay of the same writes, so that the ceiling is measured
// side by side with the receivers under the same load.
//
//nolint:gocyclo // one measurement per replica count, in the order they run
func receiverReplicas(
	ctx context.Context,
	env *devenv.Env,
	c client.Client,
	kube kubernetes.Interface,
	ns string,
	hang []string,
	opts WritesOptions,
	bare func(context.Context) error,
	progress func(string, ...any),
) ([]ReceiverReplicas, error) {
	if len(opts.ReceiverReplicas) == 0 {
		return nil, nil
	}
	secret, err := standardwebhooks.ParseSecret(env.WebhookSecret)
	if err != nil {
		return nil, err
	}
	list := &openaiv1alpha1.OpenAIBatchList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, b := range list.Items {
		ids[b.Name] = b.Status.BatchID
	}
	urls := []string{env.ReceiverURL}
	var procs []*devenv.Process
	var out []ReceiverReplicas
	order := append([]int(nil), opts.ReceiverReplicas...)
	for i := len(opts.ReceiverReplicas) - 1; i >= 0; i-- {
		order = append(order, opts.ReceiverReplicas[i])
	}
	rounds := map[int]int{}
	for _, n := range order {
		for len(urls) < n {
			name := fmt.Sprintf("webhook-receiver-%d", len(urls)+1)
			p, url, err := env.StartReceiverReplica(name)
			if err != nil {
				return nil, fmt.Errorf("starting %s: %w", name, err)
			}
			urls, procs = append(urls, url), append(procs, p)
		}
		for len(urls) > n {
			procs[len(procs)-1].Stop()
			urls, procs = urls[:len(urls)-1], procs[:len(procs)-1]
		}
		round := rounds[n]
		rounds[n]++
		if err := bare(ctx); err != nil {
			return nil, err
		}
		senders := make([]*Sender, n)
		for i := range senders {
			senders[i] = newSender(urls[i], secret, opts.ReceiverConcurrency)
		}
		r := ReceiverReplicas{Replicas: n, Round: round, Events: len(hang), Concurrency: opts.ReceiverConcurrency}
		before, err := apiServerRequests(ctx, kube)
		if err != nil {
			return nil, err
		}
		var accepted atomic.Int64
		begin := time.Now()
		err = parallel(ctx, len(hang), opts.ReceiverConcurrency, func(ctx context.Context, i int) error {
			e := Event{
				WebhookID: fmt.Sprintf("wh_replicas%d_%d_%d", n, round, i), ID: fmt.Sprintf("evt_replicas%d_%d_%d", n, round, i),
				Type: eventBatchCompleted, CreatedAt: time.Now(), ObjectID: ids[hang[i]],
			}
			code, text, err := senders[i%n].Send(ctx, e)
			if err == nil && code == http.StatusOK && text == "accepted" {
				accepted.Add(1)
			}
			return nil
		})
		r.Seconds = time.Since(begin).Seconds()
		if err != nil {
			return nil, err
		}
		after, err := apiServerRequests(ctx, kube)
		if err != nil {
			return nil, err
		}
		for _, s := range senders {
			s.CloseIdle()
		}
		r.Accepted = int(accepted.Load())
		r.EventsPerSecond = ratio(float64(r.Accepted), r.Seconds)
		r.Writes, r.WritesPerEvent = operatorWrites(before, after, max(r.Accepted, 1))
		progress(
			"%d receiver replicas, round %d: %d of %d events accepted in %.1fs (%.0f/s), %.2f writes each",
			n,
			round,
			r.Accepted,
			r.Events,
			r.Seconds,
			r.EventsPerSecond,
			r.WritesPerEvent,
		)
		out = append(out, r)
	}
	for _, p := range procs {
		p.Stop()
	}
	return out, nil
}

// operatorWrites returns the write requests (POST, PUT, PATCH, DELETE) between two
// apiServerRequests readings, leader election's excluded, and their sum per item.
func operatorWrites(before, after map[string]int64, items int) (map[string]int64, float64) {
	out := map[string]int64{}
	var sum int64
	for k, v := range after {
		verb, resource, _ := strings.Cut(k, " ")
		switch verb {
		case "POST", "PUT", "PATCH", "DELETE", "APPLY":
		default:
			continue
		}
		if resource == "leases" {
			continue
		}
		if d := v - before[k]; d > 0 {
			out[k] = d
			sum += d
		}
	}
	return out, ratio(float64(sum), float64(items))
}

// spanOf returns the earliest and latest times of names in s.
func spanOf(s *timeSet, names []string) (first, last time.Time) {
	for _, n := range names {
		at, ok := s.get(n)
		if !ok {
			continue
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return first, last
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(ctx context.Context, cond func() bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// emulatorUploadBatchFile uploads a batch input file of n embeddings requests and
// returns its id.
func emulatorUploadBatchFile(ctx context.Context, openaiURL string, n int) (string, error) {
	var content bytes.Buffer
	for i := range n {
		fmt.Fprintf(
			&content,
			`{"custom_id":"r%d","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"document %d"}}`+"\n",
			i,
			i,
		)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("purpose", "batch"); err != nil {
		return "", err
	}
	fw, err := mw.CreateFormFile("file", "input.jsonl")
	if err != nil {
		return "", err
	}
	if _, err := fw.Write(content.Bytes()); err != nil {
		return "", err
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(openaiURL, "/")+"/files", &body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+devenv.APIKey)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return "", fmt.Errorf("files.create: %s: %s", resp.Status, msg)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := jsonDecode(resp.Body, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// writesRun is the state the rounds of RunWrites share.
type writesRun struct {
	opts                WritesOptions
	env                 *devenv.Env
	c                   client.Client
	kube                kubernetes.Interface
	ns                  string
	template            *openaiv1alpha1.OpenAIBatch
	submitted, complete *timeSet
	progress            func(format string, args ...any)
	res                 *WritesResults
}

// names are a round's completing and in-flight batches.
func (w *writesRun) names(round int) (done, hang []string) {
	done, hang = make([]string, w.opts.Items), make([]string, w.opts.Items)
	for i := range w.opts.Items {
		done[i], hang[i] = fmt.Sprintf("done-r%d-%05d", round, i), fmt.Sprintf("hang-r%d-%05d", round, i)
	}
	return done, hang
}

// round runs the completions, the submissions and their replays once, and returns the
// round's in-flight batches.
//
//nolint:gocyclo // one round's three phases in the order they run
func (w *writesRun) round(ctx context.Context, round int) ([]string, error) {
	opts, env, c, kube, ns, progress := w.opts, w.env, w.c, w.kube, w.ns, w.progress
	r := WritesRound{Round: round}

	// 1. Completions, on an input file of their own: the manager deletes it once they
	// are done.
	names, hang := w.names(round)
	fileID, err := emulatorUploadBatchFile(ctx, env.EmulatorURL, CompletionRequests)
	if err != nil {
		return nil, err
	}
	env.Processes()["manager"].Stop()
	progress("round %d: seeding %d batches of %d requests with the manager stopped", round, opts.Items, CompletionRequests)
	if err := seedBatches(ctx, c, env.EmulatorURL, w.template, fileID, "text-embedding-3-small", names, 0); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	list := &openaiv1alpha1.OpenAIBatchList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, n := range names {
		mine[n] = true
	}
	var firstCreated, lastCreated time.Time
	for _, b := range list.Items {
		if at := b.Status.CreatedAt; at != nil && mine[b.Name] {
			if firstCreated.IsZero() || at.Before(&metav1.Time{Time: firstCreated}) {
				firstCreated = at.Time
			}
			if at.After(lastCreated) {
				lastCreated = at.Time
			}
		}
	}
	// The emulator's created_at is in whole seconds.
	r.ArrivalSeconds = lastCreated.Sub(firstCreated).Seconds()
	p, err := env.StartManager("manager")
	if err != nil {
		return nil, err
	}
	if _, err := waitResynced(ctx, p.MetricsURL, len(list.Items), time.Now().Add(opts.Timeout)); err != nil {
		return nil, err
	}
	// Writes are counted from just before the first batch can complete (the emulator:
	// 1 s validating, 1 s before the first request, 200 ms a request capped at 60 s, 1 s
	// finalizing), so that polls of the seeded batches before then are left out.
	firstDone := firstCreated.Add(
		emulator.BatchValidatingFor + emulator.BatchStartDelay + min(
			CompletionRequests*emulator.BatchPerRequest,
			emulator.BatchMaxProcessing,
		) + emulator.BatchFinalizingFor,
	)
	if d := time.Until(firstDone.Add(-2 * time.Second)); d > 0 {
		progress("round %d: manager resynced; waiting %.0fs for the first completion", round, d.Seconds())
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
	} else {
		progress("round %d: seeding and resync took longer than the batches: completions began before writes were counted", round)
	}
	before, err := apiServerRequests(ctx, kube)
	if err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, func() bool { return w.complete.count(names) >= opts.Items }, opts.Timeout); err != nil {
		return nil, fmt.Errorf("%d of %d batches complete: %w", w.complete.count(names), opts.Items, err)
	}
	after, err := apiServerRequests(ctx, kube)
	if err != nil {
		return nil, err
	}
	r.CompletionWrites, r.WritesPerCompletion = operatorWrites(before, after, opts.Items)
	first, last := spanOf(w.complete, names)
	r.CompletionSeconds = last.Sub(first).Seconds()
	r.CompletionsPerSecond = ratio(float64(opts.Items), r.CompletionSeconds)
	progress("round %d: %d completions in %.1fs (%.0f/s), %.2f writes each",
		round, opts.Items, r.CompletionSeconds, r.CompletionsPerSecond, r.WritesPerCompletion)

	// 2. Submissions.
	if before, err = apiServerRequests(ctx, kube); err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := parallel(ctx, len(hang), 16, func(ctx context.Context, i int) error {
		return c.Create(ctx, newBatch(ns, hang[i], "emulator-hang", 1))
	}); err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, func() bool { return w.submitted.count(hang) == len(hang) }, opts.Timeout); err != nil {
		return nil, fmt.Errorf("submissions: %w", err)
	}
	if after, err = apiServerRequests(ctx, kube); err != nil {
		return nil, err
	}
	delete(after, "POST openaibatches") // the bench's creates
	delete(before, "POST openaibatches")
	r.SubmissionWrites, r.WritesPerSubmission = operatorWrites(before, after, opts.Items)
	_, last = spanOf(w.submitted, hang)
	r.SubmissionSeconds = last.Sub(begin).Seconds()
	r.SubmissionsPerSecond = ratio(float64(opts.Items), r.SubmissionSeconds)
	progress("round %d: %d submissions in %.1fs (%.0f/s), %.2f writes each",
		round, opts.Items, r.SubmissionSeconds, r.SubmissionsPerSecond, r.WritesPerSubmission)
	w.res.Rounds = append(w.res.Rounds, r)

	// 3. The ceilings, right after.
	env.Processes()["manager"].Stop()
	mixes := []struct {
		mix     string
		writes  map[string]int64
		objects []string
	}{
		{MixSubmission, r.SubmissionWrites, hang},
		{MixCompletion, r.CompletionWrites, names},
	}
	for _, m := range mixes {
		for _, conc := range opts.CeilingConcurrency {
			rep, err := replayWrites(ctx, c, ns, m.mix, perItem(m.writes, opts.Items), m.objects, conc)
			if err != nil {
				return nil, fmt.Errorf("replaying the %s writes: %w", m.mix, err)
			}
			rep.Round = round
			w.res.Ceilings = append(w.res.Ceilings, rep)
			progress("round %d: bare client, %s writes %v, %d at once: %.1f items/s (%.0f writes/s)",
				round, m.mix, rep.PerItem, conc, rep.ItemsPerSecond, rep.WritesPerSecond)
		}
	}
	return hang, nil
}

// remove deletes a round's objects with the manager stopped: their finalizers are
// dropped first (their batches stay on the emulator, where nothing reads them).
func (w *writesRun) remove(ctx context.Context, round int) error {
	done, hang := w.names(round)
	objects := append(done, hang...)
	return parallel(ctx, len(objects), 16, func(ctx context.Context, i int) error {
		b := &openaiv1alpha1.OpenAIBatch{}
		b.Namespace, b.Name = w.ns, objects[i]
		if err := w.c.Patch(ctx, b, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
			return client.IgnoreNotFound(err)
		}
		return client.IgnoreNotFound(w.c.Delete(ctx, b))
	})
}
