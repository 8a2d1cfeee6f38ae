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
	"encoding/hex"
	mrand "math/rand/v2"
	"strings"
	"sync"
)

// idGen makes ids shaped like OpenAI's, from the seeded random source.
type idGen struct {
	mu  sync.Mutex
	rng *mrand.Rand
}

func newIDGen(rng *mrand.Rand) *idGen { return &idGen{rng: rng} }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// hex returns prefix followed by n random hex digits.
func (g *idGen) hex(prefix string, n int) string {
	b := make([]byte, (n+1)/2)
	g.mu.Lock()
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	g.mu.Unlock()
	return prefix + hex.EncodeToString(b)[:n]
}

// b62 returns prefix followed by n random base62 characters.
func (g *idGen) b62(prefix string, n int) string {
	b := make([]byte, n)
	g.mu.Lock()
	for i := range b {
		b[i] = base62[g.rng.IntN(len(base62))]
	}
	g.mu.Unlock()
	return prefix + string(b)
}

func (g *idGen) file() string     { return g.b62("file-", 22) }
func (g *idGen) batch() string    { return g.hex("batch_", 32) }
func (g *idGen) batchReq() string { return g.hex("batch_req_", 32) }
func (g *idGen) response() string { return g.hex("resp_", 50) }
func (g *idGen) message() string  { return g.hex("msg_", 50) }
func (g *idGen) event() string    { return g.hex("evt_", 32) }
func (g *idGen) webhook() string  { return g.hex("wh_", 32) }

// webhookEndpoint is a webhook endpoint id (OpenAI's start with "whe_").
func (g *idGen) webhookEndpoint() string { return g.hex("whe_", 32) }

// sampleObject is the data.id of a test delivery of event type typ: shaped like the ids
// of the objects such events are about, but of no object.
func (g *idGen) sampleObject(typ string) string {
	switch {
	case strings.HasPrefix(typ, "batch."):
		return g.batch()
	case strings.HasPrefix(typ, "response."):
		return g.response()
	case strings.HasPrefix(typ, "fine_tuning.job."):
		return g.b62("ftjob-", 24)
	case strings.HasPrefix(typ, "eval.run."):
		return g.hex("evalrun_", 32)
	}
	return g.hex("obj_", 32)
}
func (g *idGen) request() string { return g.hex("req_", 32) }
func (g *idGen) chat() string    { return g.b62("chatcmpl-", 29) }
func (g *idGen) completion() string {
	return g.b62("cmpl-", 29)
}
func (g *idGen) moderation() string { return g.b62("modr-", 29) }
