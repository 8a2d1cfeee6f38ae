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
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// runConfig is what a run of TestFaultSchedules does, from the environment.
type runConfig struct {
	size     Size
	seeds    []uint64
	parallel int
	replay   bool
	// kinds are the kinds the seeds draw their resources from; kindsEnv is FAULT_KINDS
	// as given ("" for all of Kinds).
	kinds    []Kind
	kindsEnv string
}

// configFromEnv reads FAULT_SIZE (ci or full), FAULT_SEED (replay one seed),
// FAULT_SEEDS (how many), FAULT_SEED_BASE (the first; by default drawn from the clock)
// FAULT_PARALLEL (seeds at a time) and FAULT_KINDS (the kinds to draw from, by kind or
// prefix, comma-separated, e.g. "OpenAIWebhookEndpoint" or "b,w"; all by default: a
// seed's schedule depends on them, so a replay names them too).
func configFromEnv() (runConfig, error) {
	cfg := runConfig{kinds: Kinds, kindsEnv: os.Getenv("FAULT_KINDS")}
	if cfg.kindsEnv != "" {
		kinds, err := selectKinds(cfg.kindsEnv)
		if err != nil {
			return cfg, err
		}
		cfg.kinds = kinds
	}
	name := os.Getenv("FAULT_SIZE")
	if name == "" {
		name = sizeCI
	}
	size, ok := Sizes[name]
	if !ok {
		return cfg, fmt.Errorf("FAULT_SIZE=%q: want ci or full", name)
	}
	cfg.size = size
	count, parallel := 50, 6
	if name == sizeFull {
		// Three at a time kept a 2-core machine busy without pushing seeds past their
		// settle bounds (2,000 seeds in 1h16m, run 20261201T132444Z-461cd98f8646).
		count, parallel = 2000, 3
	}
	num := func(key string, def uint64) (uint64, error) {
		v := os.Getenv(key)
		if v == "" {
			return def, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: %w", key, v, err)
		}
		return n, nil
	}
	if v := os.Getenv("FAULT_SEED"); v != "" {
		seed, err := num("FAULT_SEED", 0)
		if err != nil {
			return cfg, err
		}
		cfg.seeds, cfg.parallel, cfg.replay = []uint64{seed}, 1, true
		return cfg, nil
	}
	n, err := num("FAULT_SEEDS", uint64(count))
	if err != nil {
		return cfg, err
	}
	if n == 0 {
		return cfg, fmt.Errorf("FAULT_SEEDS=0: run at least one seed")
	}
	base, err := num("FAULT_SEED_BASE", uint64(time.Now().UnixNano()%1_000_000_000)*1000)
	if err != nil {
		return cfg, err
	}
	p, err := num("FAULT_PARALLEL", uint64(parallel))
	if err != nil {
		return cfg, err
	}
	for i := range n {
		cfg.seeds = append(cfg.seeds, base+i)
	}
	cfg.parallel = max(int(p), 1)
	return cfg, nil
}

// selectKinds returns the kinds of Kinds that list names, by kind or by prefix, in the
// order of Kinds.
func selectKinds(list string) ([]Kind, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	var out []Kind
	for _, k := range Kinds {
		if want[k.Kind()] || want[k.Prefix()] {
			out = append(out, k)
			delete(want, k.Kind())
			delete(want, k.Prefix())
		}
	}
	if len(want) > 0 || len(out) == 0 {
		names := make([]string, len(Kinds))
		for i, k := range Kinds {
			names[i] = k.Kind() + " (" + k.Prefix() + ")"
		}
		return nil, fmt.Errorf("FAULT_KINDS=%q: want a comma-separated list of %s", list, strings.Join(names, ", "))
	}
	return out, nil
}

// replayCommand is the one command that replays seed exactly (kinds is FAULT_KINDS).
func replayCommand(seed uint64, size Size, kinds string) string {
	env := ""
	if kinds != "" {
		env = fmt.Sprintf("FAULT_KINDS=%s ", kinds)
	}
	return fmt.Sprintf("%sFAULT_SEED=%d FAULT_SIZE=%s go test ./test/faultschedule -run TestFaultSchedules -count=1 -v", env, seed, size.Name)
}
