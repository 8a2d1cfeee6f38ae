#!/usr/bin/env bash
# demo.sh: the main job in one command (make demo). Starts the local environment (a real
# control plane, the operator's manager and webhook receiver, the OpenAI emulator),
# applies the samples, shows them moving to Completed, prints a result, and stops
# everything. Exits non-zero with a clear message if anything fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TIMEOUT="${DEMO_TIMEOUT:-120}"
# The emulator runs at half speed here, so each phase shows up on screen.
export TIME_SCALE="${TIME_SCALE:-2}"
# Poll every second (the default starts at 15 s) so that progress shows between the
# webhook events, which arrive only when work ends.
export MANAGER_ARGS="${MANAGER_ARGS:---poll-interval-min=1s --poll-interval-max=2s}"

cleanup() { ./hack/dev.sh down >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() {
  echo >&2
  echo "demo: FAILED: $*" >&2
  echo "demo: logs are in bin/dev/ (manager.log, webhook-receiver.log, openai-emulator.log)" >&2
  exit 1
}

./hack/dev.sh up || fail "the local environment did not start"
# shellcheck disable=SC1091
source bin/dev/env.sh

echo
echo "demo: webhooks are connected by one manifest, config/samples/openai_v1alpha1_openaiwebhookendpoint.yaml:"
echo "demo: the manager created the endpoint on OpenAI, wrote its signing secret into the receiver's"
echo "demo: Secret, and OpenAI's test delivery passed the receiver's signature check (Verified)."
echo "demo: kubectl get openaiwebhookendpoints -o wide"
kubectl get openaiwebhookendpoints -o wide || fail "listing the webhook endpoint"
[ "$(kubectl get openaiwebhookendpoint openai-webhooks -o jsonpath='{.status.conditions[?(@.type=="Verified")].status}')" = "True" ] \
  || fail "the OpenAIWebhookEndpoint is not Verified"

echo
echo "demo: kubectl apply -k config/samples"
kubectl apply -k config/samples 2>&1 | grep -v '^Warning' || fail "applying the samples"

echo
echo "demo: kubectl get openaibatch,openairesponse,openaifinetuningjob (until all are done)"
last=""
start=$SECONDS
while :; do
  table="$(kubectl get openaibatch,openairesponse,openaifinetuningjob -o custom-columns='KIND:.kind,NAME:.metadata.name,PHASE:.status.phase,OPENAI ID:.status.batchID,PROGRESS:.status.progress,RESPONSE:.status.responseID' 2>/dev/null)" || table=""
  if [ "$table" != "$last" ]; then
    printf '\n[%3ds]\n%s\n' $((SECONDS - start)) "$table"
    last="$table"
  fi
  phases="$(kubectl get openaibatch,openairesponse,openaifinetuningjob -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}')"
  total=$(grep -c . <<<"$phases" || true)
  done_=$(grep -cE '^(Completed|Succeeded|Failed|Expired|Cancelled|Incomplete)$' <<<"$phases" || true)
  if [ "$total" -gt 0 ] && [ "$done_" -eq "$total" ]; then
    break
  fi
  [ $((SECONDS - start)) -lt "$TIMEOUT" ] || fail "not all samples finished within ${TIMEOUT}s"
  sleep 0.5
done

notdone="$(kubectl get openaibatch,openairesponse,openaifinetuningjob -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}: {.status.phase} {.status.message}{"\n"}{end}' | grep -vE ': (Completed|Succeeded) ' || true)"
[ -z "$notdone" ] || fail "some samples did not complete: $notdone"

echo
echo "demo: kubectl wait --for=condition=Complete openaibatch,openairesponse,openaifinetuningjob --all"
kubectl wait --for=condition=Complete openaibatch,openairesponse,openaifinetuningjob --all --timeout=30s || fail "kubectl wait"

echo
echo "demo: the response's output (status.outputText of openairesponse/release-notes-summary):"
echo "  $(kubectl get openairesponse release-notes-summary -o jsonpath='{.status.outputText}')"
echo
echo "demo: the fine-tuned model (ConfigMap support-assistant-model, key model):"
echo "  $(kubectl get configmap support-assistant-model -o jsonpath='{.data.model}')"
echo
echo "demo: the first embedding result (ConfigMap embeddings-results, key output.jsonl):"
kubectl get configmap embeddings-results -o jsonpath='{.data.output\.jsonl}' | head -n 1 | cut -c1-240
echo
echo "demo: how the batch learned it was done (status.lastWebhookEvent of openaibatch/nightly-embeddings):"
kubectl get openaibatch nightly-embeddings -o jsonpath='{.status.lastWebhookEvent}'
echo
echo
echo "demo: OK, all samples completed"
