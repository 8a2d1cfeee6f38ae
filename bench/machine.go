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
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes the machine a run used.
type Machine struct {
	// NProc is the number of CPUs the process may use (what nproc prints).
	NProc int `json:"nproc"`
	// CPU is the model name from /proc/cpuinfo.
	CPU string `json:"cpu"`
	// MemTotalMiB is the machine's memory.
	MemTotalMiB int `json:"memTotalMiB"`
	// GoVersion, OS and Arch describe the toolchain and platform.
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	// LoadStart and LoadEnd are /proc/loadavg's 1, 5 and 15 minute averages.
	LoadStart [3]float64 `json:"loadStart"`
	LoadEnd   [3]float64 `json:"loadEnd"`
	// LoadWaited is how long the run waited for the load to drop before starting.
	LoadWaited string `json:"loadWaited,omitempty"`
}

// DescribeMachine reads the machine's description and current load.
func DescribeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, LoadStart: LoadAvg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if kb, err := procStatusField("/proc/meminfo", "MemTotal"); err == nil {
		m.MemTotalMiB = int(kb / 1024)
	}
	return m
}

// LoadAvg returns the 1, 5 and 15 minute load averages (zeros if unreadable).
func LoadAvg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// PeakRSS returns a process's peak resident set size (VmHWM) and current one (VmRSS),
// in MiB.
func PeakRSS(pid int) (peak, current float64, err error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	hwm, err := procStatusField(path, "VmHWM")
	if err != nil {
		return 0, 0, err
	}
	rss, err := procStatusField(path, "VmRSS")
	if err != nil {
		return 0, 0, err
	}
	return float64(hwm) / 1024, float64(rss) / 1024, nil
}

// RSSSplit returns how much of a process's current resident set is anonymous memory
// (RssAnon: heap, stacks, runtime) and how much is mapped from files (RssFile: mostly
// its own executable), in MiB.
func RSSSplit(pid int) (anon, file float64, err error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	a, err := procStatusField(path, "RssAnon")
	if err != nil {
		return 0, 0, err
	}
	f, err := procStatusField(path, "RssFile")
	if err != nil {
		return 0, 0, err
	}
	return float64(a) / 1024, float64(f) / 1024, nil
}

// procStatusField reads a "Name:   123 kB" field of a /proc file, in kB.
func procStatusField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			break
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	return 0, fmt.Errorf("%s has no %s", path, name)
}

// track starts a Scenario record; call the returned function when the scenario ends.
func track(setup string) (*Scenario, func()) {
	s := &Scenario{Setup: setup, LoadBefore: LoadAvg()[0]}
	start := time.Now()
	return s, func() {
		s.Seconds = time.Since(start).Seconds()
		s.LoadAfter = LoadAvg()[0]
	}
}

// CPUTime is CPU time (user + system) consumed so far.
type CPUTime struct {
	// Self is this process's; Children is the sum over its running child processes
	// (the API server and etcd that envtest starts).
	Self, Children time.Duration
}

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// ReadCPUTime reads the CPU time of this process and of its children.
func ReadCPUTime() CPUTime {
	self := os.Getpid()
	out := CPUTime{Self: procCPU(self)}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if ppid, ok := procParent(pid); ok && ppid == self {
			out.Children += procCPU(pid)
		}
	}
	return out
}

// procStatFields returns the fields of /proc/PID/stat after the command name.
func procStatFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func procParent(pid int) (int, bool) {
	f := procStatFields(pid)
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// procCPU returns utime + stime of pid.
func procCPU(pid int) time.Duration {
	f := procStatFields(pid)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * clockTick
}

// Sub returns c - o.
func (c CPUTime) Sub(o CPUTime) CPUTime {
	return CPUTime{Self: c.Self - o.Self, Children: c.Children - o.Children}
}
