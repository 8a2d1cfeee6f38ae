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

import "strings"

// libReceiver names the receiver's verifier in benchmark names and tables.
const libReceiver = "receiver"

// verifierOrder is the order of the libraries in benchmark names and tables.
var verifierOrder = []string{libReceiver, "openai-go", "standard-webhooks"}

// eventOfSize returns an OpenAI event body of exactly n bytes (a padding field fills it).
func eventOfSize(n int) []byte {
	head := `{"id":"evt_685c059ae3a481909bdc86819b066fb6","object":"event","created_at":1750861210,"type":"batch.completed","data":{"id":"batch_685c059ae39c8190af8c71ed1022a24d"},"padding":"`
	tail := `"}`
	pad := max(n-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// verifySizes are the body sizes of the benchmarks.
var verifySizes = []struct {
	name  string
	bytes int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}
