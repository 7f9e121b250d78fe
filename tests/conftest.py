from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    env = os.environ.get("MATHEVAL_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    # The real data is a hard requirement of the suite, not an optional extra: fail, don't skip.
    assert (d / "MANIFEST.md").is_file(), f"data dir {d} not found; set MATHEVAL_DATA_DIR"
    return d


@pytest.fixture(scope="session")
def model_path() -> str:
    from matheval.models import resolve_model

    return resolve_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def chat_tokenizer(model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)
