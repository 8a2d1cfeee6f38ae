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
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Fine-tuning timetable at time scale 1. A job of n examples, e epochs and batch size b
// runs e*ceil(n/b) steps: with the defaults (3 epochs, batch size 1) ten examples are 30
// steps, and the job succeeds FineTuneValidatingFor + FineTuneQueuedFor + 30 *
// FineTuneStepTime = 6 s after creation.
const (
	// FineTuneValidatingFor is how long a job stays validating_files.
	FineTuneValidatingFor = 2 * time.Second
	// FineTuneQueuedFor is how long a job stays queued.
	FineTuneQueuedFor = time.Second
	// FineTuneStepTime is the time one training step takes.
	FineTuneStepTime = 100 * time.Millisecond
	// FineTuneMaxRunning caps the time all steps of one job take together.
	FineTuneMaxRunning = 60 * time.Second
)

// Defaults the emulator resolves "auto" hyperparameters to.
const (
	autoEpochs       = 3
	autoBatchSize    = 1
	autoLearningRate = 1.8
	autoBeta         = 0.1
	// minTrainingExamples is OpenAI's minimum number of training examples.
	minTrainingExamples = 10
	maxSuffixLength     = 64
	defaultFTJobs       = 20
	maxFTPage           = 100
	// maxMetricEvents bounds the metrics events of one job: longer jobs report every
	// few steps.
	maxMetricEvents = 100
	// checkpointEpochs is how many of the last epochs leave a checkpoint.
	checkpointEpochs = 3
	// defaultOrganization is organization_id when the request names none.
	defaultOrganization = "org-emulator"
)

// Fine-tuning job statuses.
const (
	ftValidating = "validating_files"
	ftQueued     = "queued"
	ftRunning    = "running"
	ftPaused     = "paused"
	ftSucceeded  = "succeeded"
	ftFailed     = "failed"
	ftCancelled  = "cancelled"
)

// fineTuneModels are the base models the emulator fine-tunes, and the dated snapshot
// each answers as (OpenAI reports a job's model as a snapshot).
var fineTuneModels = map[string]string{
	"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18": "gpt-4o-mini-2024-07-18",
	"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
	"gpt-4.1": "gpt-4.1-2025-04-14", "gpt-4.1-2025-04-14": "gpt-4.1-2025-04-14",
	"gpt-4.1-mini": "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini-2025-04-14": "gpt-4.1-mini-2025-04-14",
	"gpt-4.1-nano": "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano-2025-04-14",
	"gpt-3.5-turbo": "gpt-3.5-turbo-0125", "gpt-3.5-turbo-0125": "gpt-3.5-turbo-0125",
	"o4-mini": "o4-mini-2025-04-16", "o4-mini-2025-04-16": "o4-mini-2025-04-16",
	"babbage-002": "babbage-002", "davinci-002": "davinci-002",
	ModelFail: ModelFail, ModelHang: ModelHang,
}

// completionModels take the prompt/completion format; the others take chat messages.
var completionModels = map[string]bool{"babbage-002": true, "davinci-002": true}

type ftError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

type ftEvent struct {
	id      string
	at      time.Time
	seq     int
	level   string
	message string
	typ     string         // "message" or "metrics"
	data    map[string]any // metrics of a metrics event
}

type ftCheckpoint struct {
	id      string
	at      time.Time
	step    int
	model   string
	metrics map[string]float64
}

// ftHyper holds hyperparameters: requested (nil means "auto") or resolved.
type ftHyper struct {
	nEpochs, batchSize *int64
	lrMultiplier, beta *float64
}

type ftJob struct {
	id             string
	project        string // of the key that created it: its events go to that project's endpoints
	seq            int    // position in Emulator.ftJobSeq
	model          string
	org            string
	trainingFile   string
	validationFile string
	suffix         string
	seed           int64
	metadata       map[string]string
	method         string
	requested      ftHyper
	resolved       ftHyper
	grader         json.RawMessage // reinforcement only
	created        time.Time

	// The plan, fixed at creation (and shifted by pause and resume).
	validateAt    time.Time
	startAt       time.Time
	endAt         time.Time // zero: never ends by itself (ModelHang, or invalid files)
	failAt        time.Time // zero: no planned failure
	planErr       *ftError  // the error of the planned failure
	steps         int
	trainedTokens int64
	fineTuned     string
	events        []ftEvent
	checkpoints   []ftCheckpoint
	stepMetrics   []stepMetric
	eventSeq      int

	status       string
	pausedAt     time.Time
	finishedAt   time.Time
	err          *ftError
	resultFileID string
}

type stepMetric struct {
	trainLoss, trainAcc float64
	validLoss, validAcc float64
	valid               bool
}

type ftHyperJSON struct {
	BatchSize              any `json:"batch_size"`
	LearningRateMultiplier any `json:"learning_rate_multiplier"`
	NEpochs                any `json:"n_epochs"`
	Beta                   any `json:"beta,omitempty"`
}

type ftJobJSON struct {
	ID              string            `json:"id"`
	Object          string            `json:"object"`
	CreatedAt       int64             `json:"created_at"`
	Error           *ftError          `json:"error"`
	FineTunedModel  *string           `json:"fine_tuned_model"`
	FinishedAt      *int64            `json:"finished_at"`
	Hyperparameters ftHyperJSON       `json:"hyperparameters"`
	Model           string            `json:"model"`
	OrganizationID  string            `json:"organization_id"`
	ResultFiles     []string          `json:"result_files"`
	Seed            int64             `json:"seed"`
	Status          string            `json:"status"`
	TrainedTokens   *int64            `json:"trained_tokens"`
	TrainingFile    string            `json:"training_file"`
	ValidationFile  *string           `json:"validation_file"`
	EstimatedFinish *int64            `json:"estimated_finish"`
	Integrations    []any             `json:"integrations"`
	Metadata        map[string]string `json:"metadata"`
	Method          map[string]any    `json:"method"`
}

type ftEventJSON struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	Level     string `json:"level"`
	Message   string `json:"message"`
	Data      any    `json:"data"`
	Type      string `json:"type"`
}

type ftCheckpointJSON struct {
	ID                       string             `json:"id"`
	Object                   string             `json:"object"`
	CreatedAt                int64              `json:"created_at"`
	FineTunedModelCheckpoint string             `json:"fine_tuned_model_checkpoint"`
	FineTuningJobID          string             `json:"fine_tuning_job_id"`
	Metrics                  map[string]float64 `json:"metrics"`
	StepNumber               int64              `json:"step_number"`
}

func ftTerminal(status string) bool {
	return status == ftSucceeded || status == ftFailed || status == ftCancelled
}

// hyperJSON renders h, "auto" where unset.
func hyperJSON(h ftHyper, method string) ftHyperJSON {
	auto := func(v any, set bool) any {
		if !set {
			return "auto"
		}
		return v
	}
	out := ftHyperJSON{
		BatchSize:              auto(deref(h.batchSize), h.batchSize != nil),
		LearningRateMultiplier: auto(deref(h.lrMultiplier), h.lrMultiplier != nil),
		NEpochs:                auto(deref(h.nEpochs), h.nEpochs != nil),
	}
	if method == "dpo" {
		out.Beta = auto(deref(h.beta), h.beta != nil)
	}
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// visibleUntil is the time up to which the job's plan has happened.
func (j *ftJob) visibleUntil(now time.Time) time.Time {
	if !j.pausedAt.IsZero() {
		return j.pausedAt
	}
	return now
}

// json renders j; call advanceFineTune first to bring it up to date.
func (j *ftJob) json() ftJobJSON {
	h := j.requested // "auto" stays "auto" until the files are validated
	if j.status != ftValidating && j.resolved.nEpochs != nil {
		h = j.resolved
	}
	hyper := hyperJSON(h, j.method)
	method := map[string]any{"type": j.method}
	inner := map[string]any{"hyperparameters": hyper}
	if j.grader != nil {
		inner["grader"] = j.grader
	}
	method[j.method] = inner
	out := ftJobJSON{
		ID: j.id, Object: "fine_tuning.job", CreatedAt: j.created.Unix(), Error: j.err,
		FinishedAt: optUnix(j.finishedAt), Hyperparameters: hyper, Model: j.model, OrganizationID: j.org,
		ResultFiles: []string{}, Seed: j.seed, Status: j.status, TrainingFile: j.trainingFile,
		ValidationFile: optString(j.validationFile), Metadata: j.metadata, Method: method,
	}
	if j.status == ftSucceeded {
		out.FineTunedModel = &j.fineTuned
		out.TrainedTokens = &j.trainedTokens
		out.ResultFiles = []string{j.resultFileID}
	}
	if j.status == ftRunning && !j.endAt.IsZero() {
		out.EstimatedFinish = optUnix(j.endAt)
	}
	return out
}

// advanceFineTune applies the transitions due by now and returns the events to send.
// e.mu must be held.
func (e *Emulator) advanceFineTune(j *ftJob, now time.Time) []event {
	for {
		switch j.status {
		case ftValidating:
			if now.Before(j.validateAt) {
				return nil
			}
			if j.failAt.Equal(j.validateAt) {
				return j.fail(j.validateAt)
			}
			j.status = ftQueued
		case ftQueued:
			if now.Before(j.startAt) {
				return nil
			}
			j.status = ftRunning
		case ftRunning:
			switch {
			case !j.failAt.IsZero() && !now.Before(j.failAt):
				return j.fail(j.failAt)
			case !j.endAt.IsZero() && !now.Before(j.endAt):
				j.status, j.finishedAt = ftSucceeded, j.endAt
				j.resultFileID = e.addFileLocked("step_metrics.csv", "fine-tune-results", j.metricsCSV(), j.endAt, time.Time{}).id
				j.stepMetrics = nil
				return []event{{typ: "fine_tuning.job.succeeded", dataID: j.id, at: j.endAt}}
			default:
				return nil
			}
		default:
			return nil
		}
	}
}

func (j *ftJob) fail(at time.Time) []event {
	j.status, j.finishedAt, j.err = ftFailed, at, j.planErr
	return []event{{typ: "fine_tuning.job.failed", dataID: j.id, at: at}}
}

// terminalAt is when the plan ends the job, or zero if it never ends by itself.
func (j *ftJob) terminalAt() time.Time {
	if !j.failAt.IsZero() {
		return j.failAt
	}
	return j.endAt
}

// addEvent inserts an event into the job's ordered log.
func (e *Emulator) addEvent(j *ftJob, at time.Time, level, typ, msg string, data map[string]any) {
	j.eventSeq++
	j.events = append(j.events, ftEvent{id: e.ids.b62("ftevent-", 24), at: at, seq: j.eventSeq, level: level, typ: typ, message: msg, data: data})
	sort.SliceStable(j.events, func(a, b int) bool {
		if j.events[a].at.Equal(j.events[b].at) {
			return j.events[a].seq < j.events[b].seq
		}
		return j.events[a].at.Before(j.events[b].at)
	})
}

// dropPlanAfter forgets the planned events and checkpoints after t (a cancel).
func (j *ftJob) dropPlanAfter(t time.Time) {
	keep := j.events[:0]
	for _, ev := range j.events {
		if !ev.at.After(t) {
			keep = append(keep, ev)
		}
	}
	j.events = keep
	ckpts := j.checkpoints[:0]
	for _, c := range j.checkpoints {
		if !c.at.After(t) {
			ckpts = append(ckpts, c)
		}
	}
	j.checkpoints = ckpts
}

// shiftPlanAfter moves everything planned after t later by d (a resume).
func (j *ftJob) shiftPlanAfter(t time.Time, d time.Duration) {
	for i := range j.events {
		if j.events[i].at.After(t) {
			j.events[i].at = j.events[i].at.Add(d)
		}
	}
	for i := range j.checkpoints {
		if j.checkpoints[i].at.After(t) {
			j.checkpoints[i].at = j.checkpoints[i].at.Add(d)
		}
	}
	if !j.endAt.IsZero() {
		j.endAt = j.endAt.Add(d)
	}
	if !j.failAt.IsZero() && j.failAt.After(t) {
		j.failAt = j.failAt.Add(d)
	}
}

// loss is the emulated training loss after step k of n: it falls from about 2.2 to 0.2,
// with a small wobble derived from the job's seed.
func loss(seed int64, k, n int, salt string) float64 {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d/%d/%s", seed, k, salt)))
	wobble := float64(binary.BigEndian.Uint32(h[:4]))/math.MaxUint32*0.1 - 0.05
	return round5(0.2 + 2*math.Exp(-3*float64(k)/float64(max(n, 1))) + wobble)
}

func accuracy(l float64) float64 { return round5(math.Min(1, math.Max(0, 1-l/2.5))) }

func round5(f float64) float64 { return math.Round(f*1e5) / 1e5 }

// metricsCSV renders the result file: one row per step.
func (j *ftJob) metricsCSV() []byte {
	var b bytes.Buffer
	b.WriteString("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n")
	for i, m := range j.stepMetrics {
		fmt.Fprintf(&b, "%d,%.5f,%.5f,", i+1, m.trainLoss, m.trainAcc)
		if m.valid {
			fmt.Fprintf(&b, "%.5f,%.5f", m.validLoss, m.validAcc)
		} else {
			b.WriteString(",")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ftRequest is a checked create request.
type ftRequest struct {
	model, trainingFile, validationFile, suffix, method string
	seed                                                *int64
	metadata                                            map[string]string
	hyper                                               ftHyper
	grader                                              json.RawMessage
}

// autoOr reads a hyperparameter: "auto" (nil) or a number within [lo, hi], an integer
// when integer is set.
func autoOr(m map[string]json.RawMessage, key, param string, integer bool, lo, hi float64) (*float64, *apiError) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "auto" {
			return nil, nil
		}
		return nil, invalid(param, "invalid_value", "Invalid value for '%s': '%s'. Expected 'auto' or a number.", param, s)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || (integer && f != math.Trunc(f)) || f < lo || f > hi {
		kind := "a number"
		if integer {
			kind = "an integer"
		}
		return nil, invalid(param, "invalid_value", "Invalid value for '%s': expected 'auto' or %s between %g and %g.", param, kind, lo, hi)
	}
	return &f, nil
}

func intPtr(f *float64) *int64 {
	if f == nil {
		return nil
	}
	v := int64(*f)
	return &v
}

// parseHyper reads a hyperparameters object for method; prefix names it in errors.
func parseHyper(raw json.RawMessage, method, prefix string) (ftHyper, *apiError) {
	var h ftHyper
	if raw == nil || isNull(raw) {
		return h, nil
	}
	m, ok := rawObject(raw)
	if !ok {
		return h, invalid(prefix, "invalid_type", "Invalid type for '%s': expected an object.", prefix)
	}
	n, aerr := autoOr(m, "n_epochs", prefix+".n_epochs", true, 1, 50)
	if aerr != nil {
		return h, aerr
	}
	bs, aerr := autoOr(m, "batch_size", prefix+".batch_size", true, 1, 256)
	if aerr != nil {
		return h, aerr
	}
	h.lrMultiplier, aerr = autoOr(m, "learning_rate_multiplier", prefix+".learning_rate_multiplier", false, math.SmallestNonzeroFloat64, 10)
	if aerr != nil {
		return h, aerr
	}
	if _, has := m["beta"]; has && method != "dpo" {
		return h, invalid(prefix+".beta", "invalid_value", "Invalid parameter '%s.beta': beta applies only to the dpo method.", prefix)
	}
	if h.beta, aerr = autoOr(m, "beta", prefix+".beta", false, math.SmallestNonzeroFloat64, 2); aerr != nil {
		return h, aerr
	}
	h.nEpochs, h.batchSize = intPtr(n), intPtr(bs)
	return h, nil
}

//nolint:gocyclo // the request's field checks, one after another in the order OpenAI reports them
func parseFineTuneRequest(raw []byte) (*ftRequest, *apiError) {
	body, ok := rawObject(raw)
	if !ok {
		return nil, invalid("", "", "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.")
	}
	req := &ftRequest{method: "supervised"}
	var has bool
	var aerr *apiError
	if req.model, has, aerr = str(body, "model"); aerr != nil {
		return nil, aerr
	} else if !has || req.model == "" {
		return nil, missing("model")
	}
	if req.trainingFile, has, aerr = str(body, "training_file"); aerr != nil {
		return nil, aerr
	} else if !has || req.trainingFile == "" {
		return nil, missing("training_file")
	}
	if req.validationFile, _, aerr = str(body, "validation_file"); aerr != nil {
		return nil, aerr
	}
	if req.suffix, _, aerr = str(body, "suffix"); aerr != nil {
		return nil, aerr
	}
	if n := utf8.RuneCountInString(req.suffix); n > maxSuffixLength {
		return nil, invalid(
			"suffix",
			"string_above_max_length",
			"Invalid 'suffix': string too long. Expected a string with maximum length %d, but got a string with length %d instead.",
			maxSuffixLength,
			n,
		)
	}
	if seed, has, aerr := intField(body, "seed"); aerr != nil {
		return nil, aerr
	} else if has {
		req.seed = &seed
	}
	if req.metadata, aerr = parseMetadata(body["metadata"]); aerr != nil {
		return nil, aerr
	}
	if req.hyper, aerr = parseHyper(body["hyperparameters"], "supervised", "hyperparameters"); aerr != nil {
		return nil, aerr
	}
	if raw, ok := body["method"]; ok && !isNull(raw) {
		m, ok := rawObject(raw)
		if !ok {
			return nil, invalid("method", "invalid_type", "Invalid type for 'method': expected an object.")
		}
		typ, has, aerr := str(m, "type")
		switch {
		case aerr != nil:
			return nil, aerr
		case !has:
			return nil, missing("method.type")
		case typ != "supervised" && typ != "dpo" && typ != "reinforcement":
			return nil, invalid(
				"method.type",
				"invalid_value",
				"Invalid value: '%s'. Supported values are: 'supervised', 'dpo' and 'reinforcement'.",
				typ,
			)
		}
		req.method = typ
		if cfgRaw, ok := m[typ]; ok && !isNull(cfgRaw) {
			cfg, ok := rawObject(cfgRaw)
			if !ok {
				return nil, invalid("method."+typ, "invalid_type", "Invalid type for 'method.%s': expected an object.", typ)
			}
			h, aerr := parseHyper(cfg["hyperparameters"], typ, "method."+typ+".hyperparameters")
			if aerr != nil {
				return nil, aerr
			}
			if h != (ftHyper{}) {
				req.hyper = h
			}
			if g, ok := cfg["grader"]; ok && !isNull(g) {
				req.grader = g
			}
		}
		if typ == "reinforcement" && req.grader == nil {
			return nil, missing("method.reinforcement.grader")
		}
	}
	return req, nil
}

func noSuchFineTuneJob(id string) *apiError {
	return notFound("", "Could not find fine-tune job: %s", id)
}

// fineTuneFile returns the content of a fine-tune file for the create call.
func (e *Emulator) fineTuneFile(id, param string, now time.Time) ([]byte, *apiError) {
	e.mu.Lock()
	f := e.fileLocked(id, now)
	var content []byte
	purpose := ""
	if f != nil {
		content, purpose = f.content, f.purpose
	}
	e.mu.Unlock()
	switch {
	case f == nil:
		return nil, invalid(param, "invalid_file", "Invalid file '%s': no such file.", id)
	case purpose != "fine-tune":
		return nil, invalid(
			param,
			"invalid_file_purpose",
			"Invalid file '%s': it has purpose '%s'; fine-tuning needs a file uploaded with purpose 'fine-tune'.",
			id,
			purpose,
		)
	}
	return content, nil
}

func (e *Emulator) createFineTuneJob(w http.ResponseWriter, r *http.Request, _ string) {
	raw, aerr := readJSONBody(w, r)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	req, aerr := parseFineTuneRequest(raw)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	snapshot, known := fineTuneModels[req.model]
	if !known && strings.HasPrefix(req.model, "ft:") {
		snapshot, known = req.model, true // continue fine-tuning a fine-tuned model
	}
	if !known {
		writeAPIError(w, invalid("model", "model_not_available", "Model %s is not available for fine-tuning or does not exist.", req.model))
		return
	}
	if req.method == "reinforcement" && !strings.HasPrefix(snapshot, "o4-mini") && !fixedModel(snapshot) {
		writeAPIError(
			w,
			invalid(
				"model",
				"invalid_value",
				"Model %s does not support the reinforcement method; use an o-series reasoning model such as o4-mini.",
				req.model,
			),
		)
		return
	}
	now := e.now()
	training, aerr := e.fineTuneFile(req.trainingFile, "training_file", now)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	var validation []byte
	if req.validationFile != "" {
		if validation, aerr = e.fineTuneFile(req.validationFile, "validation_file", now); aerr != nil {
			writeAPIError(w, aerr)
			return
		}
	}
	org := r.Header.Get("OpenAI-Organization")
	if org == "" {
		org = defaultOrganization
	}

	j := &ftJob{
		id: e.ids.b62("ftjob-", 24), project: projectOf(r), model: snapshot, org: org, trainingFile: req.trainingFile,
		validationFile: req.validationFile, suffix: req.suffix, metadata: req.metadata, method: req.method,
		requested: req.hyper, grader: req.grader, created: now, status: ftValidating,
		validateAt: now.Add(e.scaled(FineTuneValidatingFor)),
	}
	if req.seed != nil {
		j.seed = *req.seed
	} else {
		sum := sha256.Sum256([]byte(j.id))
		j.seed = int64(binary.BigEndian.Uint32(sum[:4]) >> 1)
	}
	e.planFineTune(j, training, validation)

	e.mu.Lock()
	j.seq = len(e.ftJobSeq)
	e.ftJobs[j.id] = j
	e.ftJobSeq = append(e.ftJobSeq, j)
	out := j.json()
	e.mu.Unlock()
	if t := j.terminalAt(); !t.IsZero() {
		id := j.id
		e.after(t, func() { e.tickFineTune(id) })
	}
	writeJSON(w, http.StatusOK, out)
}

func fixedModel(m string) bool { return m == ModelFail || m == ModelHang }

// planFineTune validates the files the way OpenAI does while validating_files and plans
// the job's life: its events, steps, checkpoints and outcome.
func (e *Emulator) planFineTune(j *ftJob, training, validation []byte) {
	e.addEvent(j, j.created, "info", "message", "Created fine-tuning job: "+j.id, nil)
	msg := "Validating training file: " + j.trainingFile
	if j.validationFile != "" {
		msg += " and validation file: " + j.validationFile
	}
	e.addEvent(j, j.created, "info", "message", msg, nil)

	examples, tokens, ferr := checkFineTuneFile(training, j.method, j.model, "training_file", minTrainingExamples)
	if ferr == nil && validation != nil {
		_, _, ferr = checkFineTuneFile(validation, j.method, j.model, "validation_file", 1)
	}
	if ferr != nil {
		j.failAt, j.planErr = j.validateAt, ferr
		e.addEvent(j, j.validateAt, "error", "message", ferr.Message, nil)
		return
	}
	h := j.requested
	res := ftHyper{nEpochs: h.nEpochs, batchSize: h.batchSize, lrMultiplier: h.lrMultiplier, beta: h.beta}
	if res.nEpochs == nil {
		v := int64(autoEpochs)
		res.nEpochs = &v
	}
	if res.batchSize == nil {
		v := int64(autoBatchSize)
		res.batchSize = &v
	}
	if res.lrMultiplier == nil {
		v := autoLearningRate
		res.lrMultiplier = &v
	}
	if j.method == "dpo" && res.beta == nil {
		v := autoBeta
		res.beta = &v
	}
	j.resolved = res
	epochs := int(*res.nEpochs)
	perEpoch := (examples + int(*res.batchSize) - 1) / int(*res.batchSize)
	j.steps = epochs * perEpoch
	j.trainedTokens = tokens * int64(epochs)
	j.startAt = j.validateAt.Add(e.scaled(FineTuneQueuedFor))
	e.addEvent(j, j.validateAt, "info", "message", "Files validated, moving job to queued state", nil)
	e.addEvent(j, j.startAt, "info", "message", "Fine-tuning job started", nil)
	if j.model == ModelHang {
		return // runs until cancelled
	}

	step := FineTuneStepTime
	if time.Duration(j.steps)*step > FineTuneMaxRunning {
		step = FineTuneMaxRunning / time.Duration(j.steps)
	}
	step = max(e.scaled(step), time.Nanosecond)
	stepAt := func(k int) time.Time { return j.startAt.Add(time.Duration(k) * step) }
	j.fineTuned = fmt.Sprintf("ft:%s:%s:%s:%s", j.model, orgSlug(j.org), j.suffix, e.ids.b62("", 8))
	lastStep := j.steps
	if j.model == ModelFail {
		lastStep = max(j.steps/2, 1)
	}
	every := (j.steps + maxMetricEvents - 1) / maxMetricEvents
	j.stepMetrics = make([]stepMetric, 0, lastStep)
	for k := 1; k <= lastStep; k++ {
		m := stepMetric{trainLoss: loss(j.seed, k, j.steps, "train")}
		m.trainAcc = accuracy(m.trainLoss)
		if validation != nil {
			m.valid, m.validLoss = true, loss(j.seed, k, j.steps, "valid")
			m.validAcc = accuracy(m.validLoss)
		}
		j.stepMetrics = append(j.stepMetrics, m)
		if k%every == 0 || k == lastStep {
			data := map[string]any{"step": k, "total_steps": j.steps, "train_loss": m.trainLoss, "train_mean_token_accuracy": m.trainAcc}
			text := fmt.Sprintf("Step %d/%d: training loss=%.2f", k, j.steps, m.trainLoss)
			if m.valid {
				data["valid_loss"], data["valid_mean_token_accuracy"] = m.validLoss, m.validAcc
				text += fmt.Sprintf(", validation loss=%.2f", m.validLoss)
			}
			e.addEvent(j, stepAt(k), "info", "metrics", text, data)
		}
		if k%perEpoch == 0 && k/perEpoch > epochs-checkpointEpochs && j.model != ModelFail {
			metrics := map[string]float64{"step": float64(k), "train_loss": m.trainLoss, "train_mean_token_accuracy": m.trainAcc}
			if m.valid {
				metrics["valid_loss"], metrics["valid_mean_token_accuracy"] = m.validLoss, m.validAcc
				metrics["full_valid_loss"], metrics["full_valid_mean_token_accuracy"] = m.validLoss, m.validAcc
			}
			name := j.fineTuned
			if k < j.steps {
				name = fmt.Sprintf("%s:ckpt-step-%d", j.fineTuned, k)
			}
			j.checkpoints = append(j.checkpoints, ftCheckpoint{id: e.ids.b62("ftckpt_", 24), at: stepAt(k), step: k, model: name, metrics: metrics})
			if k < j.steps {
				e.addEvent(j, stepAt(k), "info", "message", fmt.Sprintf("Checkpoint created at step %d", k), nil)
			}
		}
	}
	if j.model == ModelFail {
		j.failAt = stepAt(lastStep)
		j.planErr = &ftError{Code: "server_error", Message: "Fine-tuning job failed due to an internal error (emulated failure)."}
		e.addEvent(j, j.failAt, "error", "message", j.planErr.Message, nil)
		return
	}
	j.endAt = stepAt(j.steps)
	e.addEvent(j, j.endAt, "info", "message", "New fine-tuned model created", nil)
	e.addEvent(j, j.endAt, "info", "message", "The job has successfully completed", nil)
}

// orgSlug is the organization's part of a fine-tuned model name.
func orgSlug(org string) string {
	return strings.ToLower(strings.TrimPrefix(org, "org-"))
}

// checkFineTuneFile validates a fine-tuning file for method and model as OpenAI does
// while validating_files, counting examples and tokens. A problem is the job's error.
func checkFineTuneFile(content []byte, method, model, param string, minExamples int) (int, int64, *ftError) {
	fail := func(format string, args ...any) (int, int64, *ftError) {
		p := param
		return 0, 0, &ftError{Code: "invalid_training_file", Param: &p,
			Message: "The job failed due to an invalid " + strings.ReplaceAll(param, "_", " ") + ". " + fmt.Sprintf(format, args...)}
	}
	if bytes.Contains(bytes.ToLower(content), []byte(FlagMarker)) {
		p := param
		return 0, 0, &ftError{Code: "invalid_training_file", Param: &p,
			Message: "The job failed due to an unsafe " + strings.ReplaceAll(
				param,
				"_",
				" ",
			) + ". This file was blocked by our moderation system because it contains too many examples that violate OpenAI's usage policies."}
	}
	examples := 0
	var tokens int64
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), maxFileBytes)
	for lineNo := 1; sc.Scan(); lineNo++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		examples++
		tokens += Tokens(string(raw))
		ex, ok := rawObject(raw)
		if !ok {
			return fail("Invalid file format. Line %d is not a JSON object.", lineNo)
		}
		if problem := checkExample(ex, method, model); problem != "" {
			return fail("Invalid file format. Line %d, %s", lineNo, problem)
		}
	}
	if err := sc.Err(); err != nil {
		return fail("Invalid file format: %v.", err)
	}
	if examples < minExamples {
		p := param
		return 0, 0, &ftError{Code: "invalid_n_examples", Param: &p,
			Message: fmt.Sprintf(
				"The %s has %d example(s), but must have at least %d examples.",
				strings.ReplaceAll(param, "_", " "),
				examples,
				minExamples,
			)}
	}
	return examples, tokens, nil
}

// checkExample returns what is wrong with one example, or "".
func checkExample(ex map[string]json.RawMessage, method, model string) string {
	switch method {
	case "dpo":
		input, ok := rawObject(ex["input"])
		if !ok {
			return `key "input": expected an object with "messages".`
		}
		if p := checkMessages(input["messages"], "input.messages", false); p != "" {
			return p
		}
		for _, k := range []string{"preferred_output", "non_preferred_output"} {
			var out []map[string]json.RawMessage
			if json.Unmarshal(ex[k], &out) != nil || len(out) != 1 {
				return fmt.Sprintf("key %q: expected exactly one assistant message.", k)
			}
			if role, _, _ := str(out[0], "role"); role != "assistant" {
				return fmt.Sprintf("key %q: expected exactly one assistant message.", k)
			}
		}
		return ""
	case "reinforcement":
		return checkMessages(ex["messages"], "messages", false)
	}
	if completionModels[model] {
		p, okP, _ := str(ex, "prompt")
		c, okC, _ := str(ex, "completion")
		if !okP || !okC || p+c == "" {
			return fmt.Sprintf(`expected "prompt" and "completion" strings: %s takes the prompt/completion format.`, model)
		}
		return ""
	}
	return checkMessages(ex["messages"], "messages", true)
}

func checkMessages(raw json.RawMessage, key string, needAssistant bool) string {
	var msgs []map[string]json.RawMessage
	if raw == nil || json.Unmarshal(raw, &msgs) != nil {
		return fmt.Sprintf("key %q: expected an array of messages.", key)
	}
	if len(msgs) == 0 {
		return fmt.Sprintf("key %q: no messages.", key)
	}
	assistant := false
	for i, m := range msgs {
		role, _, _ := str(m, "role")
		switch role {
		case "system", "developer", "user", "assistant", "tool", "function":
		default:
			return fmt.Sprintf("message %d: unrecognized role %q.", i+1, role)
		}
		assistant = assistant || role == "assistant"
		if c, ok := m["content"]; (!ok || isNull(c)) && m["tool_calls"] == nil && m["function_call"] == nil {
			return fmt.Sprintf("message %d: missing content.", i+1)
		}
	}
	if needAssistant && !assistant {
		return fmt.Sprintf("key %q: no assistant message to learn from.", key)
	}
	return ""
}

// tickFineTune is a scheduled transition of a job.
func (e *Emulator) tickFineTune(id string) {
	e.mu.Lock()
	var evs []event
	if j := e.ftJobs[id]; j != nil {
		evs = e.advanceFineTune(j, e.now())
	}
	e.mu.Unlock()
	e.hooks.emit(evs)
}

// withJob runs fn on the advanced job id, under e.mu, then sends the webhook events
// the advance produced. A nil result means the job does not exist (404 written).
func (e *Emulator) withJob(w http.ResponseWriter, id string, fn func(j *ftJob, now time.Time) (any, *apiError)) {
	e.mu.Lock()
	j := e.ftJobs[id]
	if j == nil {
		e.mu.Unlock()
		writeAPIError(w, noSuchFineTuneJob(id))
		return
	}
	now := e.now()
	evs := e.advanceFineTune(j, now)
	out, aerr := fn(j, now)
	e.mu.Unlock()
	e.hooks.emit(evs)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) getFineTuneJob(w http.ResponseWriter, _ *http.Request, id string) {
	e.withJob(w, id, func(j *ftJob, now time.Time) (any, *apiError) { return j.json(), nil })
}

func (e *Emulator) cancelFineTuneJob(w http.ResponseWriter, _ *http.Request, id string) {
	var evs []event
	e.withJob(w, id, func(j *ftJob, now time.Time) (any, *apiError) {
		if ftTerminal(j.status) {
			return nil, invalid("", "", "Cannot cancel a job with status '%s'.", j.status)
		}
		at := j.visibleUntil(now)
		j.dropPlanAfter(at)
		j.status, j.finishedAt, j.pausedAt = ftCancelled, now, time.Time{}
		j.endAt, j.failAt, j.stepMetrics = time.Time{}, time.Time{}, nil
		e.addEvent(j, now, "info", "message", "Fine-tuning job cancelled", nil)
		evs = append(evs, event{typ: "fine_tuning.job.cancelled", dataID: j.id, at: now})
		return j.json(), nil
	})
	e.hooks.emit(evs)
}

func (e *Emulator) pauseFineTuneJob(w http.ResponseWriter, _ *http.Request, id string) {
	e.withJob(w, id, func(j *ftJob, now time.Time) (any, *apiError) {
		switch j.status {
		case ftPaused:
		case ftRunning:
			j.status, j.pausedAt = ftPaused, now
			e.addEvent(j, now, "info", "message", "Fine-tuning job paused", nil)
		default:
			return nil, invalid("", "", "Cannot pause a job with status '%s': only running jobs can be paused.", j.status)
		}
		return j.json(), nil
	})
}

func (e *Emulator) resumeFineTuneJob(w http.ResponseWriter, _ *http.Request, id string) {
	var tick time.Time
	e.withJob(w, id, func(j *ftJob, now time.Time) (any, *apiError) {
		switch j.status {
		case ftRunning:
		case ftPaused:
			j.shiftPlanAfter(j.pausedAt, now.Sub(j.pausedAt))
			j.status, j.pausedAt = ftRunning, time.Time{}
			e.addEvent(j, now, "info", "message", "Fine-tuning job resumed", nil)
			tick = j.terminalAt()
		default:
			return nil, invalid("", "", "Cannot resume a job with status '%s': only paused jobs can be resumed.", j.status)
		}
		return j.json(), nil
	})
	if !tick.IsZero() {
		e.after(tick, func() { e.tickFineTune(id) })
	}
}

// metadataFilter reads metadata[k]=v query parameters; null is true for metadata=null.
func metadataFilter(q map[string][]string) (filter map[string]string, null bool) {
	for k, v := range q {
		if k == "metadata" && len(v) > 0 && v[0] == "null" {
			null = true
			continue
		}
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") && len(v) > 0 {
			if filter == nil {
				filter = map[string]string{}
			}
			filter[k[len("metadata["):len(k)-1]] = v[0]
		}
	}
	return filter, null
}

func (e *Emulator) listFineTuneJobs(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	limit, aerr := parseLimit(q.Get("limit"), defaultFTJobs, maxFTPage)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	filter, onlyNull := metadataFilter(q)
	page := listPage[ftJobJSON]{Object: "list", Data: []ftJobJSON{}}
	var evs []event
	now := e.now()
	e.mu.Lock()
	start := len(e.ftJobSeq) - 1
	if after := q.Get("after"); after != "" {
		start = -1
		if j := e.ftJobs[after]; j != nil {
			start = j.seq - 1
		}
	}
	for i := start; i >= 0; i-- {
		j := e.ftJobSeq[i]
		if onlyNull && j.metadata != nil || !matches(j.metadata, filter) {
			continue
		}
		if len(page.Data) == limit {
			page.HasMore = true
			break
		}
		evs = append(evs, e.advanceFineTune(j, now)...)
		page.Data = append(page.Data, j.json())
	}
	e.mu.Unlock()
	e.hooks.emit(evs)
	setPageIDs(&page, func(j ftJobJSON) string { return j.ID })
	writeJSON(w, http.StatusOK, page)
}

func matches(md, filter map[string]string) bool {
	for k, v := range filter {
		if got, ok := md[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// pageAfter returns the items of a newest-first list after the one with id after,
// at most limit, and whether more follow.
func pageAfter[T any](items []T, id func(T) string, after string, limit int) ([]T, bool) {
	start := 0
	if after != "" {
		start = len(items)
		for i, it := range items {
			if id(it) == after {
				start = i + 1
				break
			}
		}
	}
	items = items[start:]
	if len(items) > limit {
		return items[:limit], true
	}
	return items, false
}

func (e *Emulator) listFineTuneEvents(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	limit, aerr := parseLimit(q.Get("limit"), defaultFTJobs, maxFTPage)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	e.withJob(w, id, func(j *ftJob, now time.Time) (any, *apiError) {
		until := j.visibleUntil(now)
		var all []ftEventJSON
		for i := len(j.events) - 1; i >= 0; i-- {
			ev := j.events[i]
			if ev.at.After(until) {
				continue
			}
			var data any = map[string]any{}
			if ev.data != nil {
				data = ev.data
			}
			all = append(all, ftEventJSON{ID: ev.id, Object: "fine_tuning.job.event", CreatedAt: ev.at.Unix(),
				Level: ev.level, Message: ev.message, Data: data, Type: ev.typ})
		}
		page := listPage[ftEventJSON]{Object: "list"}
		page.Data, page.HasMore = pageAfter(all, func(ev ftEventJSON) string { return ev.ID }, q.Get("after"), limit)
		if page.Data == nil {
			page.Data = []ftEventJSON{}
		}
		setPageIDs(&page, func(ev ftEventJSON) string { return ev.ID })
		return page, nil
	})
}

func (e *Emulator) listFineTuneCheckpoints(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	limit, aerr := parseLimit(q.Get("limit"), 10, maxFTPage)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	e.withJob(w, id, func(j *ftJob, now time.Time) (any, *apiError) {
		until := j.visibleUntil(now)
		var all []ftCheckpointJSON
		for i := len(j.checkpoints) - 1; i >= 0; i-- {
			c := j.checkpoints[i]
			if c.at.After(until) {
				continue
			}
			all = append(all, ftCheckpointJSON{ID: c.id, Object: "fine_tuning.job.checkpoint", CreatedAt: c.at.Unix(),
				FineTunedModelCheckpoint: c.model, FineTuningJobID: j.id, Metrics: c.metrics, StepNumber: int64(c.step)})
		}
		page := listPage[ftCheckpointJSON]{Object: "list"}
		page.Data, page.HasMore = pageAfter(all, func(c ftCheckpointJSON) string { return c.ID }, q.Get("after"), limit)
		if page.Data == nil {
			page.Data = []ftCheckpointJSON{}
		}
		setPageIDs(&page, func(c ftCheckpointJSON) string { return c.ID })
		return page, nil
	})
}

// fineTuningRoutes maps the paths under /v1/fine_tuning/jobs (rest is what follows
// "jobs") to their operations.
func (e *Emulator) fineTuningRoutes(rest []string) map[string]struct {
	op string
	h  apiHandler
} {
	type m = map[string]struct {
		op string
		h  apiHandler
	}
	switch {
	case len(rest) == 0:
		return m{http.MethodGet: {OpFineTuningJobsList, e.listFineTuneJobs}, http.MethodPost: {OpFineTuningJobsCreate, e.createFineTuneJob}}
	case len(rest) == 1:
		return m{http.MethodGet: {OpFineTuningJobsRetrieve, e.getFineTuneJob}}
	case len(rest) == 2 && rest[1] == "cancel":
		return m{http.MethodPost: {OpFineTuningJobsCancel, e.cancelFineTuneJob}}
	case len(rest) == 2 && rest[1] == "pause":
		return m{http.MethodPost: {OpFineTuningJobsPause, e.pauseFineTuneJob}}
	case len(rest) == 2 && rest[1] == "resume":
		return m{http.MethodPost: {OpFineTuningJobsResume, e.resumeFineTuneJob}}
	case len(rest) == 2 && rest[1] == "events":
		return m{http.MethodGet: {OpFineTuningJobsEvents, e.listFineTuneEvents}}
	case len(rest) == 2 && rest[1] == "checkpoints":
		return m{http.MethodGet: {OpFineTuningJobsCheckpoints, e.listFineTuneCheckpoints}}
	}
	return nil
}
