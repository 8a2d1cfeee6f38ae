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
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/openai-operator/openai-operator/internal/devenv"
)

// ScaleVariant is a manager build or setting that RunScale starts, in turn with the
// others, on the same objects after each step (ScaleOptions.Variants).
type ScaleVariant struct {
	// Name labels the variant's rows.
	Name string `json:"name"`
	// Binary is the manager executable (an absolute path); empty is BinDir's.
	Binary string `json:"binary,omitempty"`
	// Env is added to the process's environment (e.g. GOGC=50).
	Env []string `json:"env,omitempty"`
	// Args are added to the manager's command line.
	Args []string `json:"args,omitempty"`
}

// VariantRun is one start of a variant's manager on a step's objects.
type VariantRun struct {
	Variant string `json:"variant"`
	Round   int    `json:"round"`
	Objects int    `json:"objects"`
	// ResyncSeconds is from the start to every object reconciled and the queue empty.
	ResyncSeconds float64 `json:"resyncSeconds"`
	// Synced is the manager's memory right after the resync, Polled after PollWait
	// more (PolledReconciles reconciles in between: the polls that fell due).
	Synced           MemBreakdown `json:"synced"`
	Polled           MemBreakdown `json:"polled"`
	PolledReconciles float64      `json:"polledReconciles"`
	// CPUSeconds is the process's user+system CPU from its start to the Polled reading;
	// ResyncCPUSeconds to the end of the resync.
	CPUSeconds       float64 `json:"cpuSeconds"`
	ResyncCPUSeconds float64 `json:"resyncCPUSeconds"`
	// CPUProfiles are the CPU profiles taken one after another, 5 s each, from the
	// start until the resync ended (go tool pprof merges them), in ScaleOptions.ProfileDir.
	CPUProfiles []string `json:"cpuProfiles,omitempty"`
}

// cpuProfileSeconds is the length of each CPU profile taken during a resync.
const cpuProfileSeconds = 5

// profileCPU takes CPU profiles of the process whose profiler listens on addr, one after
// another, until stop is closed (the one under way is finished), and returns their file
// names in the order taken.
func profileCPU(ctx context.Context, addr, prefix string, stop <-chan struct{}) []string {
	var files []string
	for i := 0; ; i++ {
		select {
		case <-stop:
			return files
		default:
		}
		path := fmt.Sprintf("%s-cpu-%02d.pb.gz", prefix, i)
		if err := download(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, cpuProfileSeconds), path); err != nil {
			_ = os.Remove(path)
			return files
		}
		files = append(files, filepath.Base(path))
	}
}

// MemBreakdown splits a process's resident memory at one moment (MiB) by what the Go
// runtime reports (its Prometheus go_memstats_* metrics) and, when the profiler is on,
// the live heap after a forced collection.
type MemBreakdown struct {
	// PeakMiB is VmHWM (since the start), RSSMiB VmRSS, split into anonymous and file
	// pages (the mapped executable).
	PeakMiB float64 `json:"peakMiB"`
	RSSMiB  float64 `json:"rssMiB"`
	AnonMiB float64 `json:"anonMiB"`
	FileMiB float64 `json:"fileMiB"`
	// HeapInuseMiB is heap spans in use (live objects and garbage not yet swept),
	// HeapRetainedMiB idle heap the runtime has not returned to the OS, StackMiB
	// goroutine stacks, RuntimeMiB the runtime's other memory (GC metadata, spans,
	// caches), NextGCMiB the heap size at which the next collection starts (the goal).
	HeapInuseMiB    float64 `json:"heapInuseMiB"`
	HeapRetainedMiB float64 `json:"heapRetainedMiB"`
	StackMiB        float64 `json:"stackMiB"`
	RuntimeMiB      float64 `json:"runtimeMiB"`
	NextGCMiB       float64 `json:"nextGCMiB"`
	// HeapAllocMiB is the allocated heap at the reading; LiveHeapMiB the same right
	// after a forced collection (the heap profile's, gc=1): what is really kept.
	HeapAllocMiB float64 `json:"heapAllocMiB"`
	LiveHeapMiB  float64 `json:"liveHeapMiB,omitempty"`
	Goroutines   float64 `json:"goroutines"`
	// Profile is the heap profile's file (go tool pprof -sample_index=inuse_space).
	Profile string `json:"profile,omitempty"`
}

const mib = 1 << 20

// readMemory reads a process's MemBreakdown; with pprofAddr it also takes a heap
// profile after a forced collection, to read the live heap, and writes it to profile
// (unless profile is empty: no -profile-dir).
func readMemory(ctx context.Context, pid int, metricsURL, pprofAddr, profile string) (MemBreakdown, error) {
	var m MemBreakdown
	var err error
	if m.PeakMiB, m.RSSMiB, err = PeakRSS(pid); err != nil {
		return m, err
	}
	if m.AnonMiB, m.FileMiB, err = RSSSplit(pid); err != nil {
		return m, err
	}
	s, err := scrape(ctx, metricsURL)
	if err != nil {
		return m, err
	}
	get := func(name string) float64 { return sumMetric(s, name, nil) / mib }
	m.HeapInuseMiB = get("go_memstats_heap_inuse_bytes")
	m.HeapRetainedMiB = get("go_memstats_heap_idle_bytes") - get("go_memstats_heap_released_bytes")
	m.StackMiB = get("go_memstats_stack_inuse_bytes")
	m.RuntimeMiB = get("go_memstats_sys_bytes") - get("go_memstats_heap_sys_bytes") - get("go_memstats_stack_sys_bytes")
	m.NextGCMiB = get("go_memstats_next_gc_bytes")
	m.HeapAllocMiB = get("go_memstats_heap_alloc_bytes")
	m.Goroutines = sumMetric(s, "go_goroutines", nil)
	if pprofAddr == "" {
		return m, nil
	}
	to := profile
	if to == "" {
		to = os.DevNull
	}
	if err := download(ctx, "http://"+pprofAddr+"/debug/pprof/heap?gc=1", to); err != nil {
		return m, err
	}
	if profile != "" {
		m.Profile = filepath.Base(profile)
	}
	if s, err = scrape(ctx, metricsURL); err != nil {
		return m, err
	}
	m.LiveHeapMiB = sumMetric(s, "go_memstats_heap_alloc_bytes", nil) / mib
	return m, nil
}

func download(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// cpuSeconds is a process's user+system CPU time so far (/proc/<pid>/stat).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) in parentheses.
	i := len(b) - 1
	for i > 0 && b[i] != ')' {
		i--
	}
	var state string
	var f [13]int64
	_, err = fmt.Sscan(string(b[i+1:]), &state, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12])
	if err != nil {
		return 0
	}
	const ticks = 100 // USER_HZ on Linux
	return float64(f[10]+f[11]) / ticks
}

// runVariants starts each variant's manager in turn, rounds times, on the objects
// already there (total of them), and reads its resync and memory; the default manager
// is started again at the end.
func runVariants(ctx context.Context, env *devenv.Env, opts ScaleOptions, total int) ([]VariantRun, error) {
	var out []VariantRun
	rounds := max(opts.VariantRounds, 1)
	wait := opts.PollWait
	if wait == 0 {
		wait = 45 * time.Second
	}
	for round := range rounds {
		for _, v := range opts.Variants {
			env.Processes()["manager"].Stop()
			addr, err := freeAddr()
			if err != nil {
				return out, err
			}
			bin := v.Binary
			if bin == "" {
				bin = "manager"
			}
			args := append([]string{"--pprof-bind-address", addr}, v.Args...)
			start := time.Now()
			p, err := env.StartManagerFrom("manager", bin, v.Env, args...)
			if err != nil {
				return out, err
			}
			run := VariantRun{Variant: v.Name, Round: round, Objects: total}
			prefix := filepath.Join(opts.ProfileDir, fmt.Sprintf("manager-%s-%d-r%d", v.Name, total, round))
			// Heap profiles are kept only with a -profile-dir (they are taken anyway: the
			// live heap is read after the collection the profile forces).
			syncedProfile, polledProfile := "", ""
			if opts.ProfileDir != "" {
				syncedProfile, polledProfile = prefix+"-synced.pb.gz", prefix+"-polled.pb.gz"
			}
			stopProfile, profiled := make(chan struct{}), make(chan []string, 1)
			if opts.ProfileDir != "" {
				go func() { profiled <- profileCPU(ctx, addr, prefix, stopProfile) }()
			} else {
				profiled <- nil
			}
			n, err := waitResynced(ctx, p.MetricsURL, total, start.Add(opts.Timeout))
			close(stopProfile)
			if err != nil {
				return out, fmt.Errorf("variant %s: %w", v.Name, err)
			}
			run.ResyncSeconds = time.Since(start).Seconds()
			run.ResyncCPUSeconds = cpuSeconds(p.Pid())
			run.CPUProfiles = <-profiled
			if run.Synced, err = readMemory(ctx, p.Pid(), p.MetricsURL, addr, syncedProfile); err != nil {
				return out, err
			}
			if err := sleep(ctx, wait); err != nil {
				return out, err
			}
			s, err := scrape(ctx, p.MetricsURL)
			if err == nil {
				run.PolledReconciles = sumMetric(s, "controller_runtime_reconcile_total", map[string]string{"controller": batchController}) - n
			}
			if run.Polled, err = readMemory(ctx, p.Pid(), p.MetricsURL, addr, polledProfile); err != nil {
				return out, err
			}
			run.CPUSeconds = cpuSeconds(p.Pid())
			out = append(out, run)
			if opts.Progress != nil {
				_, _ = fmt.Fprintf(opts.Progress, "scale: variant %s round %d: resync %.1fs, peak %.0f MiB, live heap %.0f MiB, heap goal %.0f MiB, cpu %.1fs\n",
					v.Name, round, run.ResyncSeconds, run.Polled.PeakMiB, run.Synced.LiveHeapMiB, run.Synced.NextGCMiB, run.CPUSeconds)
			}
		}
	}
	env.Processes()["manager"].Stop()
	_, err := env.StartManager("manager")
	return out, err
}

// ShippedMemoryLimit reads limits.memory of the container named container in the
// Deployment of a manifest file (several documents separated by "---"), in bytes: what
// the Deployment passes to the process as MEMORY_LIMIT (internal/memlimit).
func ShippedMemoryLimit(path, container string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && c.Name == container {
				return q.Value(), nil
			}
		}
	}
	return 0, fmt.Errorf("%s: no memory limit for container %s in a Deployment", path, container)
}
