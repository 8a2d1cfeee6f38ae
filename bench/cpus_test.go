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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// allowedCPUs reads a process's Cpus_allowed_list.
func allowedCPUs(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list for pid %d", pid)
	return ""
}

// The control plane (here a child named etcd) gets the first half of the CPUs; this
// process and its other children the rest.
func TestSplitCPUsPinsTheControlPlaneApart(t *testing.T) {
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		t.Fatal(err)
	}
	if mine.Count() < 2 {
		t.Skip("one CPU: nothing to split")
	}
	t.Cleanup(func() {
		if err := pinProcess(os.Getpid(), &mine); err != nil {
			t.Error(err)
		}
	})
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	etcd := filepath.Join(dir, "etcd")
	if err := os.WriteFile(etcd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(path string) *exec.Cmd {
		cmd := exec.Command(path, "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	cp, other := start(etcd), start(sleep)

	note, err := splitCPUs()
	if err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for i := range 1024 {
		if mine.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	first, rest := cpuList(cpus[:len(cpus)/2]), cpuList(cpus[len(cpus)/2:])
	if got := allowedCPUs(t, cp.Process.Pid); !sameCPUs(got, first) {
		t.Errorf("etcd may run on CPUs %s, want %s", got, first)
	}
	if got := allowedCPUs(t, other.Process.Pid); !sameCPUs(got, rest) {
		t.Errorf("another child may run on CPUs %s, want %s", got, rest)
	}
	if got := allowedCPUs(t, os.Getpid()); !sameCPUs(got, rest) {
		t.Errorf("this process may run on CPUs %s, want %s", got, rest)
	}
	if !strings.Contains(note, "CPU "+first) || !strings.Contains(note, "CPU "+rest) {
		t.Errorf("the note %q does not name the split", note)
	}
}

// sameCPUs compares a Cpus_allowed_list ("0-1", "2") with a comma list.
func sameCPUs(list, want string) bool {
	var got []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if errA != nil || errB != nil {
			return false
		}
		for i := a; i <= b; i++ {
			got = append(got, i)
		}
	}
	return cpuList(got) == want
}
