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

// Package memlimit sets the Go runtime's soft memory limit (what GOMEMLIMIT sets) from
// the container's memory limit, so that the garbage collector works harder as the
// process nears the limit instead of letting the heap double past it (an OOM kill).
//
// The limit comes from the environment variable EnvVar, which the Deployments set from
// the container's limits.memory through a resourceFieldRef (divisor 1, so in bytes).
// That was chosen over reading the cgroup at start: it is explicit in the manifest,
// works the same under cgroup v1 and v2 and whatever the runtime mounts, and is
// testable; outside a container (tests, the local environment) nothing is set. An
// explicit GOMEMLIMIT always wins.
package memlimit

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// EnvVar holds the container's memory limit in bytes.
const EnvVar = "MEMORY_LIMIT"

// Ratio is the share of the container's limit given to the Go runtime; the rest covers
// what the runtime does not count (the executable, thread stacks, fragmentation).
const Ratio = 0.9

// Apply sets the runtime's soft memory limit to Ratio times the bytes in EnvVar, read
// with getenv, unless GOMEMLIMIT is set or EnvVar is empty. It returns the limit set
// (0 when none) and why.
func Apply(getenv func(string) string) (int64, string, error) {
	return apply(getenv, debug.SetMemoryLimit)
}

func apply(getenv func(string) string, set func(int64) int64) (int64, string, error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return 0, "GOMEMLIMIT is set", nil
	}
	v := strings.TrimSpace(getenv(EnvVar))
	if v == "" {
		return 0, EnvVar + " is not set", nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, "", fmt.Errorf("%s=%q is not a number of bytes (set it from limits.memory with a resourceFieldRef, divisor 1)", EnvVar, v)
	}
	limit := int64(math.Floor(float64(n) * Ratio))
	set(limit)
	return limit, fmt.Sprintf("%.0f%% of %s", Ratio*100, EnvVar), nil
}
