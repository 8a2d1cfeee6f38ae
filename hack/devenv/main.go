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

// Command devenv runs the local environment of `make dev-up`: it starts everything (see
// internal/devenv), writes <dir>/env.sh and <dir>/ready, and stops it all on SIGTERM or
// SIGINT. hack/dev.sh runs it in the background.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/openai-operator/openai-operator/internal/devenv"
)

func main() {
	dir := flag.String("dir", "bin/dev", "Directory for kubeconfigs, logs and env.sh.")
	binDir := flag.String("bin-dir", "bin", "Directory holding manager, webhook-receiver and openai-emulator.")
	timeScale := flag.Float64("time-scale", 1, "The emulator's time scale.")
	managerArgs := flag.String("manager-args", "", "Extra manager flags, space-separated (e.g. \"--poll-interval-min=1s\").")
	webhooks := flag.String("webhooks", "endpoint",
		"How webhooks are connected: endpoint (an OpenAIWebhookEndpoint, as users do) or flags (the emulator's --webhook-url and a shared secret).")
	flag.Parse()
	setup := devenv.WebhooksByEndpoint
	switch *webhooks {
	case "endpoint":
	case "flags":
		setup = devenv.WebhooksByFlags
	default:
		fmt.Fprintf(os.Stderr, "dev: --webhooks must be endpoint or flags, not %q\n", *webhooks)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ready := filepath.Join(*dir, "ready")
	_ = os.Remove(ready)
	env, err := devenv.Up(ctx, devenv.Options{Dir: *dir, BinDir: *binDir, TimeScale: *timeScale, ManagerArgs: strings.Fields(*managerArgs),
		Webhooks: setup, Progress: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(ready, []byte("ok\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
	}
	<-ctx.Done()
	fmt.Println("dev: stopping")
	_ = os.Remove(ready)
	if err := env.Down(); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
	fmt.Println("dev: stopped")
}
