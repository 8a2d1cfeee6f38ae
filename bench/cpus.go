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
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// controlPlaneCommands are the envtest processes that stand for the cluster's control
// plane.
var controlPlaneCommands = map[string]bool{"kube-apiserver": true, "etcd": true}

// splitCPUs gives the control plane (the API server and etcd, children of this process)
// the first half of this process's CPUs, and this process and its other children (the
// manager, the receiver, the emulator; processes started later inherit it) the rest. In
// a cluster the operator runs on other nodes than the API server; on one machine its
// CPU would otherwise be taken from the API server whose ceiling it is measured
// against. It returns a description of the split, or "" when there are too few CPUs
// to split.
func splitCPUs() (string, error) {
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		return "", err
	}
	var cpus []int
	for i := range 1024 {
		if mine.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) < 2 {
		return "", nil
	}
	var cp, rest unix.CPUSet
	half := len(cpus) / 2
	for i, c := range cpus {
		if i < half {
			cp.Set(c)
		} else {
			rest.Set(c)
		}
	}
	children, err := childProcesses(os.Getpid())
	if err != nil {
		return "", err
	}
	var pinned []string
	for pid, comm := range children {
		set := &rest
		if controlPlaneCommands[comm] {
			set, pinned = &cp, append(pinned, comm)
		}
		if err := pinProcess(pid, set); err != nil {
			return "", fmt.Errorf("pinning %s (pid %d): %w", comm, pid, err)
		}
	}
	if len(pinned) == 0 {
		return "", fmt.Errorf("no kube-apiserver or etcd among this process's children")
	}
	if err := pinProcess(os.Getpid(), &rest); err != nil {
		return "", err
	}
	return fmt.Sprintf("the API server and etcd pinned to CPU %s, the bench, manager, receiver and emulator to CPU %s (as on separate nodes)",
		cpuList(cpus[:half]), cpuList(cpus[half:])), nil
}

// childProcesses returns the command names of pid's children, by pid.
func childProcesses(pid int) (map[int]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == pid {
			out[child] = s[open+1 : closing]
		}
	}
	return out, nil
}

// pinProcess sets the CPU affinity of every thread of pid (a thread started later
// inherits its creator's).
func pinProcess(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}
