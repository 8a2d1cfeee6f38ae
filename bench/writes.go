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
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/emulator"
	"github.com/openai-operator/openai-operator/internal/devenv"
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
	// CeilingWrites is how many status patches the bare client makes.
	CeilingWrites int
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
	// CeilingWritesPerSecond is how many status merge patches of OpenAIBatch objects a
	// bare client (16 at once, the manager stopped) gets through per second.
	CeilingWritesPerSecond float64 `json:"ceilingWritesPerSecond"`
	CeilingWrites          int     `json:"ceilingWrites"`
}

// CompletionRequests is each completing batch's input: enough requests that the
// emulator (time scale 1) finishes it a minute after creation, once every batch exists.
const CompletionRequests = 300

// RunWrites measures API server writes per completion and per submission with the real
// binaries, and the API server's bare write ceiling, in one environment:
//  1. Completions: with the manager stopped, Items batches of CompletionRequests
//     requests are created in the emulator and seeded as InProgress OpenAIBatch objects
//     (like ScaleOptions.Seed); a new manager resyncs them; the emulator completes them
//     all about a minute after creation, its webhook events go to the receiver.
//  2. Submissions: Items in-flight (emulator-hang) batches are created at once.
//  3. Ceiling: with the manager stopped, a bare client patches the status of the
//     completed batches CeilingWrites times, 16 at once.
//
//nolint:gocyclo // one scenario's three phases in the order they run, sharing one environment
func RunWrites(ctx context.Context, opts WritesOptions) (*WritesResults, error) {
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
		CredentialsNamespaces: []string{ns},
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Down() }()
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
	res := &WritesResults{Items: opts.Items}

	// 1. Completions.
	progress("submitting the template batch")
	template, err := submitTemplate(ctx, c, ns, "template", opts.Timeout)
	if err != nil {
		return nil, err
	}
	fileID, err := emulatorUploadBatchFile(ctx, env.EmulatorURL, CompletionRequests)
	if err != nil {
		return nil, err
	}
	names := make([]string, opts.Items)
	for i := range names {
		names[i] = fmt.Sprintf("done-%05d", i)
	}
	env.Processes()["manager"].Stop()
	progress("seeding %d batches of %d requests with the manager stopped", opts.Items, CompletionRequests)
	if err := seedBatches(ctx, c, env.EmulatorURL, template, fileID, "text-embedding-3-small", names); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	list := &openaiv1alpha1.OpenAIBatchList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var firstCreated, lastCreated time.Time
	for _, b := range list.Items {
		if at := b.Status.CreatedAt; at != nil && b.Name != template.Name {
			if firstCreated.IsZero() || at.Before(&metav1.Time{Time: firstCreated}) {
				firstCreated = at.Time
			}
			if at.After(lastCreated) {
				lastCreated = at.Time
			}
		}
	}
	// The emulator's created_at is in whole seconds.
	res.ArrivalSeconds = lastCreated.Sub(firstCreated).Seconds()
	p, err := env.StartManager("manager")
	if err != nil {
		return nil, err
	}
	if _, err := waitResynced(ctx, p.MetricsURL, opts.Items+1, time.Now().Add(opts.Timeout)); err != nil {
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
		progress("manager resynced; waiting %.0fs for the first completion", d.Seconds())
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
	} else {
		progress("seeding and resync took longer than the batches: completions began before writes were counted")
	}
	before, err := apiServerRequests(ctx, kube)
	if err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, func() bool { return complete.len() >= opts.Items }, opts.Timeout); err != nil {
		return nil, fmt.Errorf("%d of %d batches complete: %w", complete.len(), opts.Items, err)
	}
	after, err := apiServerRequests(ctx, kube)
	if err != nil {
		return nil, err
	}
	res.CompletionWrites, res.WritesPerCompletion = operatorWrites(before, after, opts.Items)
	first, last := spanOf(complete, names)
	res.CompletionSeconds = last.Sub(first).Seconds()
	res.CompletionsPerSecond = ratio(float64(opts.Items), res.CompletionSeconds)
	progress(
		"%d completions in %.1fs (%.0f/s), %.2f writes each",
		opts.Items,
		res.CompletionSeconds,
		res.CompletionsPerSecond,
		res.WritesPerCompletion,
	)

	// 2. Submissions.
	hang := make([]string, opts.Items)
	for i := range hang {
		hang[i] = fmt.Sprintf("hang-%05d", i)
	}
	if before, err = apiServerRequests(ctx, kube); err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := parallel(ctx, len(hang), 16, func(ctx context.Context, i int) error {
		return c.Create(ctx, newBatch(ns, hang[i], "emulator-hang", 1))
	}); err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, func() bool {
		n := 0
		for _, h := range hang {
			if _, ok := submitted.get(h); ok {
				n++
			}
		}
		return n == len(hang)
	}, opts.Timeout); err != nil {
		return nil, fmt.Errorf("submissions: %w", err)
	}
	if after, err = apiServerRequests(ctx, kube); err != nil {
		return nil, err
	}
	delete(after, "POST openaibatches") // the bench's creates
	delete(before, "POST openaibatches")
	res.SubmissionWrites, res.WritesPerSubmission = operatorWrites(before, after, opts.Items)
	_, last = spanOf(submitted, hang)
	res.SubmissionSeconds = last.Sub(begin).Seconds()
	res.SubmissionsPerSecond = ratio(float64(opts.Items), res.SubmissionSeconds)
	progress(
		"%d submissions in %.1fs (%.0f/s), %.2f writes each",
		opts.Items,
		res.SubmissionSeconds,
		res.SubmissionsPerSecond,
		res.WritesPerSubmission,
	)

	// 3. The bare ceiling.
	env.Processes()["manager"].Stop()
	res.CeilingWrites = opts.CeilingWrites
	begin = time.Now()
	if err := parallel(ctx, opts.CeilingWrites, 16, func(ctx context.Context, i int) error {
		b := &openaiv1alpha1.OpenAIBatch{}
		b.Namespace, b.Name = ns, names[i%len(names)]
		patch := fmt.Appendf(nil, `{"status":{"progress":"ceiling write %d"}}`, i)
		return c.Status().Patch(ctx, b, client.RawPatch(types.MergePatchType, patch))
	}); err != nil {
		return nil, fmt.Errorf("bare writes: %w", err)
	}
	res.CeilingWritesPerSecond = ratio(float64(opts.CeilingWrites), time.Since(begin).Seconds())
	progress("bare client: %d status patches at %.0f/s", opts.CeilingWrites, res.CeilingWritesPerSecond)
	done()
	res.Scenario = *sc
	return res, nil
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
