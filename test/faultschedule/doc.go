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

// Package faultschedule hunts for breaks of the operator's spending promises with
// randomized fault schedules: nothing created twice, nothing left running with nobody
// tracking it, nothing reported failed while it still runs.
//
// # What one seed does
//
// TestFaultSchedules runs many seeds at once against one real API server
// (internal/testenv). Each seed has its own namespace, its own in-process OpenAI
// emulator, its own webhook receiver (in process, as in a cluster: the emulator's
// signing secret from a file, the webhook endpoints' secrets from the Secret the
// manager writes, watched through the API server) and its own manager:
// the real reconcilers (controllers.SetupWithManager) with ManagerOptions. From the seed
// alone, Draw makes a Schedule: which resources to create and when (each kind plugs in
// through a Kind, below), and during a phase of a few seconds:
//
//   - a fault on any OpenAI call: 400, 401, 403, 404, 409, 429 with and without
//     Retry-After, 429 insufficient_quota, 500, a timeout before the call reaches OpenAI,
//     and a timeout after OpenAI did the work (the answer is lost). The Wire, the
//     manager's HTTP transport to OpenAI, injects them with OpenAI's exact error shapes.
//     Whether the n-th call of an operation about a resource is faulted is a hash of
//     (seed, resource, operation, n): the same seed faults the same calls however
//     goroutines interleave. Calls are attributed to the resource whose reconcile made
//     them (controller-runtime's logger in the request's context), lists included. Only
//     the first MaxFaultedAttempts calls of each may be faulted, and answers by which
//     OpenAI says the work is over (404 to a delete or cancel, 400 or 409 to a cancel)
//     are not injected where the object still runs: the operator must believe them;
//   - refusal windows: every call answered 429 (with or without Retry-After, or
//     insufficient_quota) for a few seconds;
//   - manager crashes at a random moment, or right after OpenAI answered an armed call
//     (files.create, batches.create, responses.create, fine_tuning.jobs.create,
//     webhook_endpoints.create and rotate_secret, a search, a cancel, a delete, a
//     read, a test delivery) and
//     before the manager saw the answer. A crash cuts the process off from the API server
//     and from OpenAI at once (nothing it had in flight lands afterwards) and a fresh
//     manager, which remembers nothing, starts after a drawn delay;
//   - user actions: spec.cancel, delete, spec.cancelOnDelete flipped, the credentials
//     Secret deleted and restored, rotated to a new API key (the old one revoked a moment
//     later: OpenAI then answers it 401 invalid_api_key), the input ConfigMap of a batch
//     or of a fine-tuning job's training data edited, emptied of its key, or made
//     invalid;
//   - webhook loss, duplication, delay and reordering (the emulator's knobs), or no
//     receiver at all, so that both the webhook and the polling paths run (webhook
//     endpoints then deliver to a closed port on 127.0.0.1);
//   - for a webhook endpoint, spec.cancel and spec.cancelOnDelete do not exist: the
//     user's actions are a requested rotation (the rotate-requested-at annotation) and
//     an edit of spec.eventTypes instead.
//
// When the phase ends the faults stop (windows and triggers too; the Secret and inputs
// are restored; revoked keys stay revoked), and the seed waits for everything to settle.
//
// # The invariants
//
// Checked against OpenAI's truth (the emulator, read directly; for responses, which
// OpenAI cannot list, every response the Wire saw OpenAI create, lost answers included)
// and the API server:
//
//   - I1: at most one OpenAI batch or fine-tuning job per resource (both are found
//     again by the operator's metadata tag); a response created again is announced
//     by a PossibleDuplicate Warning Event (one per re-creation), or durably by
//     status.createAttempts, which counts each create call before it is sent (a crash
//     may lose the Warning Events of the process).
//   - I2: nothing runs on OpenAI for a resource that is gone, or terminal, unless
//     spec.cancelOnDelete was false (or the cleanup was given up, with a CleanupAbandoned
//     Warning, while the credentials Secret was missing, as documented). A response
//     whose create answer was lost cannot be found again (OpenAI cannot list
//     responses): once the operator announces that with a Warning Event (a reason in
//     OrphanWarningReasons: PossibleDuplicate, OutcomeUnknown) or a status.createAttempts above one,
//     such an orphan is exempt from I2, I3
//     and I7, as nothing more can be done about it.
//   - I3: a resource is terminal only if its OpenAI object is terminal, or none was
//     created and OpenAI refused a create call (400 or 422), the user cancelled, or the
//     schedule made its input invalid. Checked on every terminal write the watch sees,
//     against OpenAI at that moment (an OpenAI object never leaves a terminal status),
//     and again at the end.
//   - I4: every input file the operator uploaded (a batch's input, a fine-tuning job's
//     training and validation data) is used by a running batch or fine-tuning job or
//     deleted (unless its resource was deleted with cancelOnDelete false, or its
//     cleanup was given up, with a CleanupAbandoned Warning, while the credentials
//     Secret was missing, as for I2), and no running one lost an input file.
//   - I5: Complete and Failed are never both True, phase and conditions agree (and
//     so kstatus's verdict: Reconciling=True exactly while the phase is not terminal,
//     Stalled=True exactly beside Failed=True unless the user cancelled, Ready=True exactly beside Complete=True or a cancel),
//     and a terminal phase never changes: checked on every write the watch sees.
//   - I6: OpenAI calls within stated bounds. Per resource (callBound), with c the
//     calls of one progress read of its kind (CallsPerRead: 1 for a batch or a
//     response, 3 for a fine-tuning job: the job, its events, its latest checkpoint):
//     BaseCalls + (3+c) x faults + (4+c) x crashes + (2+c) x actions + 2c x webhook
//     deliveries + c x reads(T) + refused calls, where reads(T) =
//     ceil(log2(PollMax/PollMin)) + 1 + ceil(T/PollMax) bounds an exponential poll
//     backoff over the resource's active time T. Per project, for the calls refused by one window or by revoked keys
//     (refusalBound): the project's gate (internal/openaiclient.Gate) has a lane for
//     every call and one for create calls; in each, the calls on their way when the
//     first refusal comes (one per worker), then one call after each wait (at least
//     Retry-After, else BackoffMin doubling up to BackoffMax), all counted again for
//     each crash or Secret action (a fresh gate).
//   - I7: within SettleBound after the faults stop, every resource has settled:
//     deletions finished; status.observedGeneration current; the phase that of the
//     OpenAI object the status names (the only one); that object terminal unless it
//     hangs by design and nobody cancelled it; results stored when OpenAI has them.
//     A webhook endpoint, which has no phase, settles as kind_endpoint.go states: one
//     endpoint, Ready, its current secret in the receiver's Secret, Verified (or
//     Verified=False, Unreachable, without a receiver), a lost secret rotated; once
//     deleted, no endpoint and no key left.
//   - I8: no webhook signing secret OpenAI returned (the Wire sees each) appears in a
//     status, an Event or a log line of the managers.
//
// I1 for batches and fine-tuning jobs, I3 and I5 are definitive (waiting cannot undo them): a seed stops
// checking at the first. The others must hold by the settle bound.
//
// # Running it
//
//	go test ./test/faultschedule -run TestFaultSchedules            # 50 seeds, size ci
//	FAULT_SIZE=full FAULT_SEEDS=2000 go test ./test/faultschedule -timeout 3h
//	FAULT_SEED=1234 FAULT_SIZE=ci go test ./test/faultschedule -run TestFaultSchedules -count=1 -v
//
// FAULT_SEED_BASE fixes the first seed of a run (by default it comes from the clock and
// is printed; make test pins it, FAULT_SEED_BASE=1000 in the Makefile, so that CI runs
// the same 50 seeds every time, while make test-reliability draws fresh ones),
// FAULT_PARALLEL the seeds at a time, FAULT_VERBOSE=1 prints the components' logs, and
// FAULT_KINDS (kinds or prefixes, comma-separated, e.g. OpenAIWebhookEndpoint) draws the
// resources from those kinds only (all of them by default; a replay names them, as the
// schedule depends on them). A failing seed prints one command that replays it, the schedule it
// drew, the violations and the tail of its log (the managers' and the Wire's lines). A
// replay draws the same schedule and the same faults for the same calls; timing on a
// loaded machine still varies, so a break that depends on a race may need a few replays.
// hack/reliability.sh runs the full size and writes the figures into
// docs/RELIABILITY.md.
//
// # Adding a kind
//
// A kind plugs in with one file: a type implementing Kind (how to build a resource from
// a ResourcePlan, what its status says as an Observed, what OpenAI holds for it as
// Remote objects, its input edits, its base calls and lifetime), added to Kinds. The
// schedule, the faults, the crashes, the common user actions and the invariants then
// apply to it unchanged. Four kinds run today: OpenAIBatch (kind_batch.go) and
// OpenAIFineTuningJob (kind_finetune.go), whose objects OpenAI lists by the operator's
// metadata tag (CanSearch), OpenAIResponse (kind_response.go), whose objects are the
// ones the Wire saw created, and OpenAIWebhookEndpoint (kind_endpoint.go), whose
// endpoints OpenAI lists and whose names carry the resource's UID (CanSearch); as
// configuration rather than work, it states its own I5 and I7 (standing) and performs
// the cancel and flip actions in its own terms (actor).
package faultschedule
