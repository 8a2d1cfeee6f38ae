// Command benchscale measures the manager's cache memory per 1,000 submitted batches,
// with and without their inline requests, against a real API server (envtest); then the
// scale scenario of make bench (bench.RunScale: the real binaries' memory and a manager
// restart) at a chosen size; and writes bench/results-scale.json and the scale section of
// docs/PERFORMANCE.md (make bench-scale runs it).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openai-operator/openai-operator/bench"
	"github.com/openai-operator/openai-operator/internal/testenv"
)

// Results are one make bench-scale run.
type Results struct {
	// Commit is the tree measured (git describe --always --dirty).
	Commit  string        `json:"commit"`
	Started time.Time     `json:"started"`
	Machine bench.Machine `json:"machine"`
	// CacheMemory are the cache's heap slopes, kept and dropped requests side by side.
	CacheMemory []bench.CacheMemPoint `json:"cacheMemory"`
	// Binaries is the scale scenario with the real binaries (nil when not run), and
	// Seeded whether its in-flight batches were seeded (bench.ScaleOptions.Seed).
	Binaries *bench.ScaleResults `json:"binaries,omitempty"`
	Seeded   bool                `json:"seeded,omitempty"`
	// Writes are the API server writes per submission and per completion against its
	// bare write ceiling (nil when not run).
	Writes *bench.WritesResults `json:"writes,omitempty"`
	// WritesCommit is the tree the writes were measured at, when -only-writes added them
	// to an earlier run's results.
	WritesCommit string `json:"writesCommit,omitempty"`
	// Seconds is how long the run took.
	Seconds float64 `json:"seconds"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "bench/results-scale.json", "Where to write the results (JSON).")
	report := flag.String("report", "docs/PERFORMANCE.md", "Report whose scale section is rewritten; empty skips it.")
	reportOnly := flag.Bool("report-only", false, "Only rewrite the report from the results file.")
	n1k := flag.Int("objects-1k", 5000, "Submitted batches with 1 KiB of inline requests.")
	n100k := flag.Int("objects-100k", 300, "Submitted batches with 100 KiB of inline requests (fewer: 100 KiB each is what etcd stores).")
	rounds := flag.Int("rounds", 3, "Measurements of each cache (alternating); medians are reported.")
	commit := flag.String("commit", "", "The tree measured (git describe).")
	inFlight := flag.Int("inflight", 0, "In-flight batches of the real binaries' run (its last step; a first step at a tenth); 0 skips it.")
	completed := flag.Int("done", 0, "Completed batches of the real binaries' run (its last step; a first step at a tenth).")
	seed := flag.Bool(
		"seed",
		true,
		"Seed the in-flight batches (status written by a bare client, batches created in the emulator) instead of having the manager submit them.",
	)
	binDir := flag.String("bin", "bin", "Directory of the manager, webhook-receiver and openai-emulator binaries.")
	workDir := flag.String("work", "", "Directory for the real binaries' environment and logs (default: a temporary one).")
	timeout := flag.Duration("timeout", 20*time.Minute, "Bound of each step's submissions and each resync.")
	writeItems := flag.Int("writes-items", 0, "Batches per phase of the writes run (completions, submissions); 0 skips it.")
	ceilingConc := intList{16, 64}
	flag.Var(&ceilingConc, "ceiling-concurrency", "Items a bare client replays at once when it measures the API server's ceiling for an item's writes (comma-separated).")
	replicas := intList{1, 2, 4}
	flag.Var(&replicas, "receiver-replicas", "Receiver replica counts whose throughput the writes run measures (comma-separated; empty skips).")
	receiverConc := flag.Int("receiver-concurrency", 64, "Webhooks in flight in all during the receiver replicas' run.")
	writesRounds := flag.Int("writes-rounds", 2, "Rounds of the writes run's completions, submissions and their replays.")
	writesManagerArgs := flag.String("writes-manager-args", "", "Arguments added to the writes run's manager (space-separated), e.g. --max-concurrent-reconciles=32.")
	splitCPUs := flag.Bool("writes-split-cpus", true,
		"Run the writes with the API server and etcd on half of the CPUs and the operator's processes and the bench on the other half (as on separate nodes).")
	onlyWrites := flag.Bool("only-writes", false, "Only run the writes and add them to the results file (with their commit).")
	firstInFlight := flag.Int("first-inflight", -1, "In-flight batches of the first step (its completed ones in proportion); -1: a tenth of -inflight.")
	profileDir := flag.String("profile-dir", "",
		"Directory for heap profiles of the receiver and of the -variant managers (their profilers on); empty: none.")
	var variants variantFlags
	flag.Var(&variants, "variant",
		"A manager compared on each step's objects, repeatable: name|binary|env|args "+
			"(binary an absolute path or empty for -bin's; env and args space-separated).")
	variantRounds := flag.Int("variant-rounds", 1, "Starts of each -variant per step, alternating.")
	pollWait := flag.Duration("poll-wait", 45*time.Second, "How long each -variant runs after its resync before its second memory reading.")
	shippedLimits := flag.Bool("shipped-memory-limits", true,
		"Give the manager and the receiver the MEMORY_LIMIT their Deployments (config/) set from limits.memory, as in a cluster.")
	flag.Parse()
	log.SetLogger(logr.Discard())
	writes := bench.WritesOptions{
		BinDir: *binDir, Items: *writeItems, Rounds: *writesRounds, CeilingConcurrency: ceilingConc,
		ReceiverReplicas: replicas, ReceiverConcurrency: *receiverConc, Timeout: *timeout, Progress: os.Stderr,
		ManagerArgs: strings.Fields(*writesManagerArgs), SplitCPUs: *splitCPUs,
	}

	if *reportOnly {
		data, err := os.ReadFile(*out)
		if err != nil {
			return err
		}
		var res Results
		if err := json.Unmarshal(data, &res); err != nil {
			return err
		}
		return writeReport(*report, res)
	}
	if *onlyWrites {
		data, err := os.ReadFile(*out)
		if err != nil {
			return err
		}
		var res Results
		if err := json.Unmarshal(data, &res); err != nil {
			return err
		}
		if err := runWrites(context.Background(), &res, writes, *workDir); err != nil {
			return err
		}
		res.WritesCommit = *commit
		return save(*out, *report, res)
	}
	res := Results{Commit: *commit, Started: time.Now().UTC(), Machine: bench.DescribeMachine()}
	if *n1k > 0 || *n100k > 0 {
		if err := cacheMemory(&res, *n1k, *n100k, *rounds); err != nil {
			return err
		}
	}
	ctx := context.Background()
	var binErr error
	if *inFlight > 0 {
		// A failed run's steps so far are still saved.
		var managerEnv, receiverEnv []string
		if *shippedLimits {
			m, err := bench.ShippedMemoryLimit(filepath.Join("config", "manager", "manager.yaml"), "manager")
			if err != nil {
				return err
			}
			r, err := bench.ShippedMemoryLimit(filepath.Join("config", "webhook-receiver", "webhook_receiver.yaml"), "webhook-receiver")
			if err != nil {
				return err
			}
			managerEnv, receiverEnv = []string{fmt.Sprintf("MEMORY_LIMIT=%d", m)}, []string{fmt.Sprintf("MEMORY_LIMIT=%d", r)}
		}
		binErr = runBinaries(ctx, &res, binariesRun{
			managerEnv: managerEnv, receiverEnv: receiverEnv,
			inFlight: *inFlight, completed: *completed, firstInFlight: *firstInFlight, seed: *seed, binDir: *binDir, workDir: *workDir,
			timeout: *timeout, profileDir: *profileDir, variants: variants, variantRounds: *variantRounds, pollWait: *pollWait,
		})
		if binErr != nil && res.Binaries == nil {
			return binErr
		}
	}
	if *writeItems > 0 {
		if err := runWrites(ctx, &res, writes, *workDir); err != nil {
			return err
		}
	}
	res.Machine.LoadEnd = bench.LoadAvg()
	res.Seconds = time.Since(res.Started).Seconds()
	if err := save(*out, *report, res); err != nil {
		return err
	}
	return binErr
}

// save writes res to out and, unless report is empty, the report's scale section.
func save(out, report string, res Results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if report == "" {
		return nil
	}
	return writeReport(report, res)
}

// cacheMemory measures the cache's heap slopes in its own API server, stopped on return.
func cacheMemory(res *Results, n1k, n100k, rounds int) error {
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	ctx := context.Background()
	for _, p := range []struct{ n, size int }{{n1k, 1 << 10}, {n100k, 100 << 10}} {
		fmt.Fprintf(os.Stderr, "benchscale: %d batches of %d bytes\n", p.n, p.size)
		pt, err := bench.MeasureCacheMem(ctx, env.Config, env.Client, testenv.Scheme, fmt.Sprintf("scale-%d", p.size), p.n, p.size, rounds)
		if err != nil {
			return err
		}
		res.CacheMemory = append(res.CacheMemory, pt)
	}
	return nil
}

// writeReport replaces the scale section of the report.
func writeReport(path string, res Results) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(bench.ReplaceScaleSection(string(old), render(res))), 0o644)
}

func render(res Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Scale: the manager's cache per 1,000 submitted batches (make bench-scale)\n\n")
	fmt.Fprintf(
		&b,
		"Commit %s, %s; %d CPUs, load average %.2f at the start and %.2f at the end (1 minute; the machine is shared); the run took %.0f s.\n\n",
		res.Commit,
		res.Started.Format("2006-01-02 15:04 UTC"),
		res.Machine.NProc,
		res.Machine.LoadStart[0],
		res.Machine.LoadEnd[0],
		res.Seconds,
	)
	fmt.Fprintf(
		&b,
		"Heap of an informer cache (in process, after GC) holding submitted OpenAIBatch objects, each with one inline request, against a real API server; the two caches are measured alternately in one run (median of the rounds). \"Before\" strips managedFields only; \"after\" is the manager's CacheOptions, which also drops the inline requests of submitted batches.\n\n",
	)
	fmt.Fprintf(
		&b,
		"| inline request | objects | rounds | before (MiB / 1,000) | after (MiB / 1,000) | after / before |\n|---|---:|---:|---:|---:|---:|\n",
	)
	for _, p := range res.CacheMemory {
		ratio := 0.0
		if p.KeepMiBPer1000 > 0 {
			ratio = p.DropMiBPer1000 / p.KeepMiBPer1000
		}
		fmt.Fprintf(
			&b,
			"| %s | %d | %d | %.2f | %.2f | %.2f |\n",
			sizeName(p.RequestBytes),
			p.Objects,
			p.Rounds,
			p.KeepMiBPer1000,
			p.DropMiBPer1000,
			ratio,
		)
	}
	b.WriteString("\n")
	for _, p := range res.CacheMemory {
		fmt.Fprintf(
			&b,
			"- %s requests: 50,000 submitted batches would hold about %.0f MiB in the cache before and %.0f MiB after (slope × 50; a linear extrapolation from %d objects, not a measurement at 50,000).\n",
			sizeName(p.RequestBytes),
			p.KeepMiBPer1000*50,
			p.DropMiBPer1000*50,
			p.Objects,
		)
	}
	b.WriteString("\n")
	if res.Binaries == nil {
		b.WriteString("The real binaries were not run (BENCH_SCALE_INFLIGHT=0).\n\n")
	}
	renderBinaries(&b, res)
	renderWrites(&b, res.Writes, res.WritesCommit)
	return b.String()
}

func sizeName(n int) string {
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
