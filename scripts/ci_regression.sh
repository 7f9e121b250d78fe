#!/usr/bin/env bash
# The project's regression gate: run the CI suite (profiles/ci-smollm2.yaml) on the embedded
# SmolLM2-135M-Instruct, then check it against the committed baseline.
# Exit 0 pass, 1 regression or missing problems, 2 usage error or incomparable baseline.
#   bash scripts/ci_regression.sh                 # gate (what .ci/run calls)
#   bash scripts/ci_regression.sh --update        # refresh the baseline after an intended change
set -euo pipefail
cd "$(dirname "$0")/.."
export MATHEVAL_DATA_DIR=${MATHEVAL_DATA_DIR:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
BASELINE=results/baselines/smollm2-135m-instruct-ci.jsonl
POLICY=results/baselines/smollm2-135m-instruct-ci.policy.yaml
OUT=${MATHEVAL_CI_OUT:-$(mktemp -d)}
MATHEVAL=${MATHEVAL:-.venv/bin/matheval}
# One model job at a time on shared machines (CI has the machine to itself; the lock is free).
LOCK=()
if command -v flock >/dev/null; then LOCK=(flock /tmp/matheval-model.lock); fi

"${LOCK[@]}" "$MATHEVAL" --model smollm2-135m-instruct --profile ci-smollm2 --dtype float32 \
  --output-dir "$OUT" --run-id ci -q
if [ "${1:-}" = "--update" ]; then
  exec "$MATHEVAL" check --baseline "$BASELINE" "$OUT/ci" --update
fi
set +e
"$MATHEVAL" check --baseline "$BASELINE" --policy "$POLICY" "$OUT/ci" --format markdown > "$OUT/check.md"
rc=$?
set -e
cat "$OUT/check.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$OUT/check.md" >> "$GITHUB_STEP_SUMMARY"; fi
echo "run: $OUT/ci (samples.jsonl), exit $rc" >&2
exit "$rc"
