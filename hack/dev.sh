#!/usr/bin/env bash
# dev.sh up|down: the local environment (see internal/devenv and the README).
#   up    starts a local control plane, installs the operator, starts the OpenAI emulator,
#         the webhook receiver and the manager, connects webhooks with the sample
#         OpenAIWebhookEndpoint (in namespace default, waiting until it is Verified),
#         writes bin/dev/env.sh, and returns with everything running (logs in bin/dev/).
#   down  stops everything `up` started.
# Environment: TIME_SCALE (the emulator's, default 1), MANAGER_ARGS (extra manager flags),
# WEBHOOKS (endpoint, the default, or flags: the emulator's --webhook-url and a shared
# secret, the manual route).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR="${DEV_DIR:-bin/dev}"
PIDFILE="$DIR/devenv.pid"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

up() {
  if running; then
    echo "dev: already running (pid $(cat "$PIDFILE")); source $DIR/env.sh, or run 'make dev-down' first"
    return 0
  fi
  mkdir -p "$DIR"
  rm -f "$DIR/ready"
  go build -o bin/devenv ./hack/devenv
  export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(./hack/envtest-assets.sh)}"
  nohup bin/devenv --dir "$DIR" --bin-dir bin --time-scale "${TIME_SCALE:-1}" --manager-args "${MANAGER_ARGS:-}" --webhooks "${WEBHOOKS:-endpoint}" >"$DIR/devenv.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 600); do
    if [ -f "$DIR/ready" ]; then
      sed 's/^/  /' "$DIR/devenv.log"
      echo "dev: up. Use it with: source $DIR/env.sh && kubectl get openai"
      return 0
    fi
    if ! running; then
      echo "dev: failed to start; its log follows:" >&2
      cat "$DIR/devenv.log" >&2
      rm -f "$PIDFILE"
      return 1
    fi
    sleep 0.2
  done
  echo "dev: not ready after 2 minutes; see $DIR/devenv.log" >&2
  down
  return 1
}

down() {
  if ! running; then
    echo "dev: not running"
    rm -f "$PIDFILE" "$DIR/ready"
    return 0
  fi
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE" "$DIR/ready" "$DIR/env.sh"
  echo "dev: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
