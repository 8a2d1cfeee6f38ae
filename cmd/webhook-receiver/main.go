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

// Command webhook-receiver verifies OpenAI's signed webhook events and records them in
// the status of the OpenAIBatch or OpenAIResponse they concern. See
// docs/WEBHOOK-RECEIVER.md.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/openai-operator/openai-operator/internal/logging"
	"github.com/openai-operator/openai-operator/internal/memlimit"
	"github.com/openai-operator/openai-operator/internal/version"
	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

func main() {
	var opts receiver.Options
	opts.BindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	showVersion := version.BindFlag(flag.CommandLine)
	flag.Parse() // --kubeconfig is registered by controller-runtime
	if *showVersion {
		fmt.Println(version.Line("webhook-receiver"))
		return
	}

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts), zap.RawZapOpts(logging.LazyWith())))
	log := ctrl.Log.WithName("setup")
	log.Info("Version", version.Get().KeysAndValues()...)
	if limit, from, err := memlimit.Apply(os.Getenv); err != nil {
		log.Error(err, "Setting the Go memory limit")
	} else if limit > 0 {
		log.Info("Set the Go memory limit", "bytes", limit, "from", from)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Loading the kubeconfig")
		os.Exit(1)
	}
	mgr, _, err := receiver.NewManager(cfg, opts)
	if err != nil {
		log.Error(err, "Setting up the webhook receiver")
		os.Exit(1)
	}
	log.Info("Starting the webhook receiver")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Running the webhook receiver")
		os.Exit(1)
	}
}
