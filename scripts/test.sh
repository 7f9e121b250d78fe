#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, the real-model tests included.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export MATHEVAL_DATA_DIR=${MATHEVAL_DATA_DIR:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
# pytest's 5 means "no tests collected": a run that tests nothing must not pass.
if [ "$rc" -eq 5 ]; then echo "error: no tests were collected" >&2; exit 1; fi
exit "$rc"
