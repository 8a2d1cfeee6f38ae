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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	openaiv1alpha1 "github.com/openai-operator/openai-operator/api/v1alpha1"
	"github.com/openai-operator/openai-operator/controllers"
	"github.com/openai-operator/openai-operator/internal/devenv"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// ScaleOptions size scenario 5.
type ScaleOptions struct {
	// Dir receives the environment's kubeconfigs and process logs.
	Dir string
	// BinDir holds the manager, webhook-receiver and openai-emulator binaries.
	BinDir string
	// Steps are cumulative totals of in-flight and completed batches, ascending.
	Steps []ScaleStep
	// Timeout bounds each step's submissions and each resync.
	Timeout time.Duration
	// Progress receives a line per stage; nil discards.
	Progress io.Writer
	// Seed writes the in-flight batches instead of having the manager submit them (about
	// 50 a second on 2 CPUs): at the first step the manager submits hang-00000, whose
	// status once InProgress is the template; at each step it then submits the step's
	// completed batches; then, with the manager stopped, every other in-flight batch is created in
	// the emulator (batches.create on the template's input file) and as an OpenAIBatch with
	// the template's finalizers and status (its own batch id, createdAt seededAge before
	// the emulator's, lastSyncTime now) by a bare client, and a new manager is started and
	// left to reconcile every object before memory is read.
	Seed bool
	// Variants, when set, are manager builds or settings started in turn (VariantRounds
	// times) on each step's objects after its measurements, with the profiler on: their
	// resync and memory, side by side (ScaleRow.Variants). PollWait (default 45 s) is how
	// long each runs after its resync before its second reading.
	Variants      []ScaleVariant
	VariantRounds int
	PollWait      time.Duration
	// ProfileDir, when set, receives the heap profiles of the variants' managers and of
	// the receiver (whose profiler is then on).
	ProfileDir string
	// ManagerEnv and ReceiverEnv are added to the processes' environments, e.g. the
	// MEMORY_LIMIT their Deployments set from limits.memory (ShippedMemoryLimit).
	ManagerEnv, ReceiverEnv []string
}

// ScaleStep is a total of in-flight and completed batches.
type ScaleStep struct {
	InFlight  int `json:"inFlight"`
	Completed int `json:"completed"`
}

// ScaleResults are scenario 5's figures.
type ScaleResults struct {
	Scenario
	Steps []ScaleRow `json:"steps"`
}

// ScaleRow is one step's figures.
type ScaleRow struct {
	ScaleStep
	// SubmitSeconds is how long the manager took to submit this step's new batches
	// (first creation to the last id, or Complete, seen by a watcher).
	SubmitSeconds float64 `json:"submitSeconds"`
	// NewBatches is how many batches the step added.
	NewBatches int `json:"newBatches"`
	// Seeded is how many of them were seeded (ScaleOptions.Seed), not submitted by the
	// manager, and SeedSeconds how long seeding took (SubmitSeconds excludes them).
	Seeded      int     `json:"seeded,omitempty"`
	SeedSeconds float64 `json:"seedSeconds,omitempty"`
	// Unfinished says why the step stopped before every batch was submitted or complete,
	// and Reached how many were by then; the memory figures are from that moment and
	// the restarts were not measured.
	Unfinished string `json:"unfinished,omitempty"`
	Reached    int    `json:"reached,omitempty"`
	// ManagerPeakMiB and ManagerRSSMiB are the running manager's VmHWM and VmRSS after
	// it submitted everything (the peak includes every submission so far).
	ManagerPeakMiB float64 `json:"managerPeakMiB"`
	ManagerRSSMiB  float64 `json:"managerRSSMiB"`
	// ManagerAnonMiB and ManagerFileMiB split ManagerRSSMiB into anonymous memory (Go
	// heap, stacks, runtime) and file-backed pages (the executable mapped from disk).
	ManagerAnonMiB float64 `json:"managerAnonMiB"`
	ManagerFileMiB float64 `json:"managerFileMiB"`
	// ManagerHeapMiB is the running manager's Go heap in use at the same moment
	// (go_memstats_heap_inuse_bytes): live objects plus garbage not yet collected.
	ManagerHeapMiB float64 `json:"managerHeapMiB"`
	// ReceiverPeakMiB is the running receiver's VmHWM, ReceiverHeapMiB its heap in use.
	ReceiverPeakMiB float64 `json:"receiverPeakMiB"`
	ReceiverHeapMiB float64 `json:"receiverHeapMiB"`
	// ObjectBytes is the mean JSON size of an OpenAIBatch as the API serves it, and
	// ManagedFieldsBytes the part of it that metadata.managedFields takes.
	ObjectBytes        float64 `json:"objectBytes"`
	ManagedFieldsBytes float64 `json:"managedFieldsBytes"`
	// ReceiverRestartPeakMiB is the VmHWM of a freshly started receiver once its cache
	// synced (readiness), and ReceiverReadySeconds how long that took.
	ReceiverRestartPeakMiB float64 `json:"receiverRestartPeakMiB"`
	ReceiverReadySeconds   float64 `json:"receiverReadySeconds"`
	// ResyncSeconds is from starting a new manager (the old one stopped) to every object
	// reconciled once and the work queue empty.
	ResyncSeconds float64 `json:"resyncSeconds"`
	// ResyncPeakMiB is the restarted manager's VmHWM after the resync.
	ResyncPeakMiB float64 `json:"resyncPeakMiB"`
	// ResyncReconciles is how many reconciles the resync took.
	ResyncReconciles float64 `json:"resyncReconciles"`
	// ResyncCalls are the OpenAI calls made from the restart to the end of the resync.
	ResyncCalls map[string]int64 `json:"resyncCalls"`
	// ResyncTerminalReads counts reads of batches already terminal (target: 0).
	ResyncTerminalReads int `json:"resyncTerminalReads"`
	// ResyncDuePolls is how many in-flight batches the short polling schedule had due by
	// the end of the resync: reads they would get without a restart on that schedule.
	ResyncDuePolls int `json:"resyncDuePolls"`
	// ResyncDuePollsWebhook is the same on the webhook schedule, which applies once the
	// manager has seen a recent event of the project (ResyncWebhookEvents > 0).
	ResyncDuePollsWebhook int `json:"resyncDuePollsWebhook"`
	// ResyncWebhookEvents is how many batches recorded a webhook event received within
	// the trust window before the resync: the restarted manager learns from them (as it
	// reconciles them) that the project's events arrive.
	ResyncWebhookEvents int `json:"resyncWebhookEvents"`
	// ResyncKubeRequests are API server requests during the resync by verb and
	// resource ("GET secrets"), from the API server's own metrics (all clients).
	ResyncKubeRequests map[string]int64 `json:"resyncKubeRequests"`
	// Variants are ScaleOptions.Variants' runs on this step's objects.
	Variants []VariantRun `json:"variants,omitempty"`
	// Receiver is the restarted receiver's memory after the step (ScaleOptions.ProfileDir).
	Receiver *MemBreakdown `json:"receiver,omitempty"`
}

// RunScale measures scenario 5 with the real binaries as processes (internal/devenv):
// many in-flight batches (model emulator-hang never finishes) plus completed ones,
// memory of both processes, and a manager restart. When a step's submissions time out it
// returns the steps so far, that one marked Unfinished, with the error.
//
//nolint:gocyclo // one scenario's phases in the order they run, sharing their state
func RunScale(ctx context.Context, opts ScaleOptions) (*ScaleResults, error) {
	d := controllers.DefaultOptions()
	sc, done := track(fmt.Sprintf("internal/devenv: envtest API server with the kustomize install; emulator, webhook-receiver and manager as processes under their ServiceAccounts (manager defaults: poll %s, %s once a project's webhook events arrive, %d concurrent reconciles; its cache strips managedFields); emulator time scale 0.05, in-flight batches use model emulator-hang%s",
		shortSchedule(d), webhookSchedule(d), d.MaxConcurrentReconciles, seedNote(opts.Seed)) + envNote(opts.ManagerEnv, opts.ReceiverEnv))
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			_, _ = fmt.Fprintf(opts.Progress, "scale: "+format+"\n", args...)
		}
	}
	const ns = "bench-scale"
	var receiverArgs []string
	receiverPprof := ""
	if opts.ProfileDir != "" {
		if err := os.MkdirAll(opts.ProfileDir, 0o755); err != nil {
			return nil, err
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		receiverPprof, receiverArgs = addr, []string{"--pprof-bind-address", addr}
	}
	env, err := devenv.Up(ctx, devenv.Options{
		ReceiverArgs: receiverArgs, ManagerEnv: opts.ManagerEnv, ReceiverEnv: opts.ReceiverEnv,
		Dir: opts.Dir, BinDir: opts.BinDir, TimeScale: 0.05,
		// Webhooks by flags: the figures cover the first batches' short schedule too, which
		// a Verified OpenAIWebhookEndpoint would skip.
		Webhooks:              devenv.WebhooksByFlags,
		EmulatorArgs:          []string{"--log-level", "debug"},
		CredentialsNamespaces: []string{ns},
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Down() }()
	c, err := client.NewWithWatch(env.ControlPlane.Config, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(env.ControlPlane.Config)
	if err != nil {
		return nil, err
	}

	var mu sync.Mutex
	ids := map[string]string{}    // resource name -> batch id
	terminal := map[string]bool{} // batch id -> terminal
	seen := newTimeSet()          // resource name -> submitted (id) or Complete
	stopWatch, err := WatchBatches(ctx, c, ns, func(b *openaiv1alpha1.OpenAIBatch, at time.Time) {
		if b.Status.BatchID == "" {
			return
		}
		mu.Lock()
		ids[b.Name] = b.Status.BatchID
		if isComplete(b) {
			terminal[b.Status.BatchID] = true
		}
		mu.Unlock()
		if strings.HasPrefix(b.Name, "hang-") || isComplete(b) {
			seen.first(b.Name, at)
		}
	})
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	res := &ScaleResults{}
	haveHang, haveDone := 0, 0
	var template *openaiv1alpha1.OpenAIBatch
	for _, step := range opts.Steps {
		row := ScaleRow{ScaleStep: step}
		var names, seeds []string
		for i := haveHang; i < step.InFlight; i++ {
			name := fmt.Sprintf("hang-%05d", i)
			if opts.Seed && i > 0 {
				seeds = append(seeds, name)
			} else {
				names = append(names, name)
			}
		}
		for i := haveDone; i < step.Completed; i++ {
			names = append(names, fmt.Sprintf("done-%05d", i))
		}
		haveHang, haveDone = step.InFlight, step.Completed
		row.NewBatches = len(names) + len(seeds)
		row.Seeded = len(seeds)
		if len(seeds) > 0 && template == nil {
			// Before any batch completes: once the project's webhook events arrive, the
			// manager polls in-flight batches only every 10 minutes or more.
			progress("submitting hang-00000 as the template of seeded batches")
			if template, err = submitTemplate(ctx, c, ns, names[0], opts.Timeout); err != nil {
				return nil, err
			}
			names = names[1:]
		}
		progress("creating %d batches (totals: %d in flight, %d completed)", len(names), step.InFlight, step.Completed)
		begin := time.Now()
		err := parallel(ctx, len(names), 16, func(ctx context.Context, i int) error {
			model := "text-embedding-3-small"
			if strings.HasPrefix(names[i], "hang-") {
				model = "emulator-hang"
			}
			return c.Create(ctx, newBatch(ns, names[i], model, 1))
		})
		if err != nil {
			return nil, fmt.Errorf("creating batches: %w", err)
		}
		total := step.InFlight + step.Completed
		want := total - len(seeds) // the seeded ones come after
		deadline := time.Now().Add(opts.Timeout)
		for seen.len() < want {
			if time.Now().After(deadline) {
				// The memory so far is kept: a peak over a target is over it at the full size too.
				err := fmt.Errorf("only %d of %d batches submitted or complete after %s", seen.len(), want, opts.Timeout)
				row.Unfinished, row.Reached = err.Error(), seen.len()
				procs := env.Processes()
				row.ManagerPeakMiB, row.ManagerRSSMiB, _ = PeakRSS(procs["manager"].Pid())
				row.ManagerAnonMiB, row.ManagerFileMiB, _ = RSSSplit(procs["manager"].Pid())
				row.ReceiverPeakMiB, _, _ = PeakRSS(procs["webhook-receiver"].Pid())
				row.ManagerHeapMiB = heapInUse(ctx, procs["manager"].MetricsURL)
				row.ReceiverHeapMiB = heapInUse(ctx, env.ReceiverMetricsURL())
				res.Steps = append(res.Steps, row)
				done()
				res.Scenario = *sc
				return res, err
			}
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return nil, err
			}
		}
		var last time.Time
		for _, n := range names {
			if at, _ := seen.get(n); at.After(last) {
				last = at
			}
		}
		if len(names) > 0 {
			row.SubmitSeconds = last.Sub(begin).Seconds()
		}
		progress("submitted %d in %.1fs", len(names), row.SubmitSeconds)
		if len(seeds) > 0 {
			seedStart := time.Now()
			progress("seeding %d in-flight batches with the manager stopped", len(seeds))
			env.Processes()["manager"].Stop()
			if err := seedInFlight(ctx, c, env.EmulatorURL, template, seeds); err != nil {
				return nil, fmt.Errorf("seeding in-flight batches: %w", err)
			}
			p, err := env.StartManager("manager")
			if err != nil {
				return nil, err
			}
			// Memory is read once the new manager has reconciled every object.
			if _, err := waitResynced(ctx, p.MetricsURL, total, time.Now().Add(opts.Timeout)); err != nil {
				return nil, err
			}
			row.SeedSeconds = time.Since(seedStart).Seconds()
			progress("seeded in %.1fs; a new manager reconciled all %d objects", row.SeedSeconds, total)
		}

		procs := env.Processes()
		if row.ManagerPeakMiB, row.ManagerRSSMiB, err = PeakRSS(procs["manager"].Pid()); err != nil {
			return nil, err
		}
		if row.ManagerAnonMiB, row.ManagerFileMiB, err = RSSSplit(procs["manager"].Pid()); err != nil {
			return nil, err
		}
		if row.ReceiverPeakMiB, _, err = PeakRSS(procs["webhook-receiver"].Pid()); err != nil {
			return nil, err
		}
		row.ManagerHeapMiB = heapInUse(ctx, procs["manager"].MetricsURL)
		row.ReceiverHeapMiB = heapInUse(ctx, env.ReceiverMetricsURL())

		// A fresh receiver: its peak is the initial list and sync of every batch.
		procs["webhook-receiver"].Stop()
		start := time.Now()
		rp, err := env.StartReceiver()
		if err != nil {
			return nil, err
		}
		row.ReceiverReadySeconds = time.Since(start).Seconds()
		if row.ReceiverRestartPeakMiB, _, err = PeakRSS(rp.Pid()); err != nil {
			return nil, err
		}
		progress("receiver restarted in %.1fs, peak %.0f MiB", row.ReceiverReadySeconds, row.ReceiverRestartPeakMiB)

		if err := scaleResync(ctx, env, c, kube, ns, total, &row, func() map[string]bool {
			mu.Lock()
			defer mu.Unlock()
			out := make(map[string]bool, len(terminal))
			for k, v := range terminal {
				out[k] = v
			}
			return out
		}, opts.Timeout); err != nil {
			return nil, err
		}
		progress("manager resynced %d objects in %.1fs, peak %.0f MiB, %d OpenAI reads of terminal batches", total, row.ResyncSeconds, row.ResyncPeakMiB, row.ResyncTerminalReads)
		if receiverPprof != "" {
			m, err := readMemory(ctx, rp.Pid(), env.ReceiverMetricsURL(), receiverPprof,
				filepath.Join(opts.ProfileDir, fmt.Sprintf("receiver-%d.pb.gz", total)))
			if err != nil {
				return nil, err
			}
			row.Receiver = &m
		}
		if len(opts.Variants) > 0 {
			if row.Variants, err = runVariants(ctx, env, opts, total); err != nil {
				return nil, err
			}
		}
		res.Steps = append(res.Steps, row)
	}
	done()
	res.Scenario = *sc
	return res, nil
}

// submitTemplate creates name (an in-flight batch), waits for the manager to submit it and
// for its phase to be InProgress, and returns it.
func submitTemplate(ctx context.Context, c client.Client, ns, name string, timeout time.Duration) (*openaiv1alpha1.OpenAIBatch, error) {
	if err := c.Create(ctx, newBatch(ns, name, "emulator-hang", 1)); err != nil {
		return nil, err
	}
	return waitInProgress(ctx, c, ns, name, timeout)
}

// waitInProgress waits for the manager to submit name and for its phase to be
// InProgress, and returns it.
func waitInProgress(ctx context.Context, c client.Client, ns, name string, timeout time.Duration) (*openaiv1alpha1.OpenAIBatch, error) {
	deadline := time.Now().Add(timeout)
	for {
		b := &openaiv1alpha1.OpenAIBatch{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b); err != nil {
			return nil, err
		}
		if b.Status.BatchID != "" && b.Status.InputFileID != "" && b.Status.Phase == openaiv1alpha1.BatchPhaseInProgress {
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s not InProgress after %s (phase %q)", name, timeout, b.Status.Phase)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// seedInFlight creates each named in-flight batch in the emulator, on the template's
// input file (one emulator-hang request), and as an OpenAIBatch whose status is the
// template's with the new batch id, createdAt and lastSyncTime now: what the manager
// would have written on submitting it. The manager must be stopped.
func seedInFlight(ctx context.Context, c client.Client, openaiURL string, template *openaiv1alpha1.OpenAIBatch, names []string) error {
	return seedBatches(ctx, c, openaiURL, template, template.Status.InputFileID, "emulator-hang", names, seededAge)
}

// seededAge is how long before the emulator created them the seeded in-flight batches
// say they were submitted: they stand for a fleet submitted over the last hour and just
// read, whose next polls (the doubling schedule: as long again as the batch had existed
// at its last read, at least 10 minutes once the project's webhook events arrive) fall
// due an hour later. Seeded as just submitted, every poll fell due ten minutes after
// seeding, which at 45,000 batches took about as long: a restart then measured the
// catch-up on 45,000 due polls, not a resync.
const seededAge = time.Hour

func seedNote(seed bool) string {
	if !seed {
		return ""
	}
	return fmt.Sprintf("; in-flight batches but the first seeded as submitted %s before they were created on the emulator, last read when seeded", prettyDuration(seededAge))
}

// seedBatches is seedInFlight with the batches created on inputFileID (the status says
// so), model in their spec, and their status's createdAt age before the emulator's.
// Every batch is created in the emulator first, then every object, so that the
// emulator's batches start close together.
func seedBatches(
	ctx context.Context, c client.Client, openaiURL string, template *openaiv1alpha1.OpenAIBatch,
	inputFileID, model string, names []string, age time.Duration,
) error {
	ids := make([]string, len(names))
	created := make([]time.Time, len(names))
	if err := parallel(ctx, len(names), 16, func(ctx context.Context, i int) error {
		var err error
		ids[i], created[i], err = emulatorCreateBatch(ctx, openaiURL, inputFileID, string(template.Spec.Endpoint))
		return err
	}); err != nil {
		return err
	}
	return parallel(ctx, len(names), 16, func(ctx context.Context, i int) error {
		b := newBatch(template.Namespace, names[i], model, 1)
		b.Labels, b.Annotations, b.Finalizers = template.Labels, template.Annotations, template.Finalizers
		if err := c.Create(ctx, b); err != nil {
			return err
		}
		b.Status = *template.Status.DeepCopy()
		b.Status.BatchID = ids[i]
		// Messages that name the template's batch (Submitted: "OpenAI accepted batch
		// ...") name this one's, as a submitted object's would: one string per object
		// in the manager's cache, not one shared by all.
		if from := template.Status.BatchID; from != "" {
			for j := range b.Status.Conditions {
				b.Status.Conditions[j].Message = strings.ReplaceAll(b.Status.Conditions[j].Message, from, ids[i])
			}
			b.Status.Message = strings.ReplaceAll(b.Status.Message, from, ids[i])
		}
		b.Status.InputFileID = inputFileID
		at := metav1.NewTime(created[i].Add(-age))
		b.Status.CreatedAt = &at
		if b.Status.InProgressAt != nil {
			b.Status.InProgressAt = &at
		}
		now := metav1.NowMicro()
		b.Status.LastSyncTime = &now
		return c.Status().Update(ctx, b)
	})
}

// emulatorCreateBatch calls batches.create on the emulator with the devenv API key and
// returns the batch's id and created_at.
func emulatorCreateBatch(ctx context.Context, openaiURL, inputFileID, endpoint string) (string, time.Time, error) {
	body, err := json.Marshal(map[string]string{"input_file_id": inputFileID, "endpoint": endpoint, "completion_window": "24h"})
	if err != nil {
		return "", time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(openaiURL, "/")+"/batches", bytes.NewReader(body))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Authorization", "Bearer "+devenv.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", time.Time{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return "", time.Time{}, fmt.Errorf("batches.create: %s: %s", resp.Status, msg)
	}
	var out struct {
		ID        string `json:"id"`
		CreatedAt int64  `json:"created_at"`
	}
	if err := jsonDecode(resp.Body, &out); err != nil {
		return "", time.Time{}, err
	}
	return out.ID, time.Unix(out.CreatedAt, 0), nil
}

var emulatorCallLine = regexp.MustCompile(`msg="Handled API call" op=(\S+) method=\S+ path=(\S+)`)

// scaleResync restarts the manager and measures the resync.
func scaleResync(
	ctx context.Context, env *devenv.Env, c client.Client, kube kubernetes.Interface, ns string, total int, row *ScaleRow,
	terminal func() map[string]bool, timeout time.Duration,
) error {
	// What the polling schedule makes due during the resync is read before the restart.
	list := &openaiv1alpha1.OpenAIBatchList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	var all, managed float64
	for i := range list.Items {
		b := &list.Items[i]
		whole, err := json.Marshal(b)
		if err != nil {
			return err
		}
		mf, err := json.Marshal(b.ManagedFields)
		if err != nil {
			return err
		}
		all += float64(len(whole))
		managed += float64(len(mf))
	}
	row.ObjectBytes = ratio(all, float64(len(list.Items)))
	row.ManagedFieldsBytes = ratio(managed, float64(len(list.Items)))
	before, err := apiServerRequests(ctx, kube)
	if err != nil {
		return err
	}
	env.Processes()["manager"].Stop()
	if err := controlPost(ctx, env.EmulatorControlURL+"reset-stats"); err != nil {
		return err
	}
	logPath := env.Processes()["openai-emulator"].LogPath
	offset := fileSize(logPath)

	start := time.Now()
	p, err := env.StartManager("manager")
	if err != nil {
		return err
	}
	if row.ResyncReconciles, err = waitResynced(ctx, p.MetricsURL, total, start.Add(timeout)); err != nil {
		return err
	}
	end := time.Now()
	row.ResyncSeconds = end.Sub(start).Seconds()
	if row.ResyncPeakMiB, _, err = PeakRSS(p.Pid()); err != nil {
		return err
	}
	after, err := apiServerRequests(ctx, kube)
	if err != nil {
		return err
	}
	row.ResyncKubeRequests = map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			row.ResyncKubeRequests[k] = d
		}
	}
	if row.ResyncCalls, err = emulatorCalls(ctx, env.EmulatorControlURL+"stats"); err != nil {
		return err
	}
	term := terminal()
	reads, err := readsSince(logPath, offset)
	if err != nil {
		return err
	}
	for _, id := range reads {
		if term[id] {
			row.ResyncTerminalReads++
		}
	}
	defaults := controllers.DefaultOptions()
	short, hook := shortSchedule(defaults), webhookSchedule(defaults)
	for _, b := range list.Items {
		if ev := b.Status.LastWebhookEvent; ev != nil && end.Sub(ev.ReceivedAt.Time) < defaults.WebhookTrustWindow {
			row.ResyncWebhookEvents++
		}
	}
	for _, b := range list.Items {
		st := b.Status
		if st.BatchID == "" || term[st.BatchID] || st.LastSyncTime == nil {
			continue
		}
		submitted := b.CreationTimestamp.Time
		if st.CreatedAt != nil {
			submitted = st.CreatedAt.Time
		}
		if short.due(submitted, st.LastSyncTime.Time, end) {
			row.ResyncDuePolls++
		}
		if hook.due(submitted, st.LastSyncTime.Time, end) {
			row.ResyncDuePollsWebhook++
		}
	}
	return nil
}

// batchController is the OpenAIBatch controller's name in the manager's metrics.
const batchController = "openaibatch"

// waitResynced waits until a manager (its metrics at url) has reconciled total
// OpenAIBatch objects and its work queue is empty, and returns its reconcile count.
func waitResynced(ctx context.Context, url string, total int, deadline time.Time) (float64, error) {
	for {
		s, err := scrape(ctx, url)
		if err == nil {
			batch := map[string]string{"controller": batchController}
			n := sumMetric(s, "controller_runtime_reconcile_total", batch)
			depth := sumMetric(s, "workqueue_depth", map[string]string{"name": batchController})
			active := sumMetric(s, "controller_runtime_active_workers", batch)
			if n >= float64(total) && depth == 0 && active == 0 {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the manager did not reconcile %d objects by %s", total, deadline.Format(time.TimeOnly))
		}
		// Four scrapes a second: each costs the manager CPU that its resync would use.
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// heapInUse reads go_memstats_heap_inuse_bytes from a process's metrics, in MiB (0 if
// unreadable).
func heapInUse(ctx context.Context, url string) float64 {
	s, err := scrape(ctx, url)
	if err != nil {
		return 0
	}
	return sumMetric(s, "go_memstats_heap_inuse_bytes", nil) / (1 << 20)
}

// apiServerRequests reads apiserver_request_total by "VERB resource[/subresource]".
func apiServerRequests(ctx context.Context, kube kubernetes.Interface) (map[string]int64, error) {
	raw, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	out := map[string]int64{}
	for _, s := range parseProm(string(raw)) {
		if s.name != "apiserver_request_total" {
			continue
		}
		key := s.labels["verb"] + " " + s.labels["resource"]
		if sub := s.labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += int64(s.value)
	}
	return out, nil
}

// readsSince returns the batch ids of batches.retrieve calls logged after offset.
func readsSince(path string, offset int64) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := emulatorCallLine.FindStringSubmatch(sc.Text())
		if m != nil && m[1] == "batches.retrieve" {
			ids = append(ids, m[2][strings.LastIndexByte(m[2], '/')+1:])
		}
	}
	return ids, sc.Err()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func controlPost(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// emulatorCalls reads the emulator's call counters from its control API.
func emulatorCalls(ctx context.Context, url string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var stats struct {
		Calls map[string]int64 `json:"calls"`
	}
	if err := jsonDecode(resp.Body, &stats); err != nil {
		return nil, err
	}
	return stats.Calls, nil
}

// envNote says which environment the binaries ran with.
func envNote(manager, receiver []string) string {
	if len(manager)+len(receiver) == 0 {
		return ""
	}
	return fmt.Sprintf("; manager environment %s, receiver environment %s (as their Deployments set it from limits.memory)",
		strings.Join(manager, " "), strings.Join(receiver, " "))
}
