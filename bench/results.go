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
	"encoding/json"
	"io"
	"os"
	"time"
)

// Results is the content of bench/results.json: everything one `make bench` measured.
type Results struct {
	// StartedAt and FinishedAt bound the run.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Commit is the tree measured: `git describe --always --dirty` of the repository
	// the run started in (empty in results written before it was recorded).
	Commit string `json:"commit,omitempty"`
	// Machine describes where it ran, with the load before and after.
	Machine Machine `json:"machine"`
	// Verify is scenario 1: signature verification, three libraries.
	Verify *VerifyResults `json:"verify,omitempty"`
	// Throughput is scenario 2: receiver events per second next to a bare patch loop.
	Throughput *ThroughputResults `json:"throughput,omitempty"`
	// Latency is scenario 3a: POST to a watcher seeing the status change.
	Latency *LatencyResults `json:"latency,omitempty"`
	// EndToEnd is scenario 3b: event to Complete through receiver, controller, emulator.
	EndToEnd *EndToEndResults `json:"endToEnd,omitempty"`
	// Polling is scenario 4: webhooks versus polling-only.
	Polling *PollingResults `json:"polling,omitempty"`
	// Scale is scenario 5: thousands of in-flight batches, processes, restarts.
	Scale *ScaleResults `json:"scale,omitempty"`
	// Errors lists scenarios that failed, with why.
	Errors []string `json:"errors,omitempty"`
}

// Scenario is what every scenario records besides its figures.
type Scenario struct {
	// Seconds is the wall time the scenario took.
	Seconds float64 `json:"seconds"`
	// LoadBefore and LoadAfter are the 1-minute load averages around it.
	LoadBefore float64 `json:"loadBefore"`
	LoadAfter  float64 `json:"loadAfter"`
	// Setup says how the parts ran (in-process or as processes) and with what sizes.
	Setup string `json:"setup"`
}

// VerifyResults compare the receiver's verifier with openai-go's and the Standard
// Webhooks library's.
type VerifyResults struct {
	Scenario
	// Count is the -count of the go test run.
	Count int `json:"count"`
	// Benchmarks are the medians of each benchmark.
	Benchmarks []GoBenchmark `json:"benchmarks"`
	// Rows are the same figures by body size and library, with ratios to openai-go.
	Rows []VerifyRow `json:"rows"`
}

// VerifyRow is one library at one body size.
type VerifyRow struct {
	Body        string  `json:"body"`
	Library     string  `json:"library"`
	NsPerOp     float64 `json:"nsPerOp"`
	NsPerOpMin  float64 `json:"nsPerOpMin"`
	NsPerOpMax  float64 `json:"nsPerOpMax"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	// VsOpenAIGo is NsPerOp divided by openai-go's at the same size (below 1 is faster).
	VsOpenAIGo float64 `json:"vsOpenAIGo"`
}

// WriteJSON writes v, indented, to path.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResults reads a results file.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Results{}
	return r, json.Unmarshal(b, r)
}

// jsonDecode decodes one JSON value from r into v.
func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
