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

// Package bench measures the operator side by side with baselines and writes
// bench/results.json and docs/PERFORMANCE.md. `make bench` runs it through
// hack/bench.sh: first the signature verification micro-benchmarks of this package's
// tests (`go test -bench`), then the scenarios of the benchrun command against a real
// API server (envtest), the OpenAI emulator, the webhook receiver and the controllers.
//
// Scenarios 1, 2, 3a and 4 measure each figure next to a baseline in the same run,
// because the machine is shared and noisy: ratios travel, lone absolute times do not.
// Scenarios 3b (event to Complete) and 5 (scale) have no baseline.
package bench
