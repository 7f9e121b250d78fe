"""`matheval data pull`: from a local mirror (both layouts), sha256-checked, atomic, one-line errors.

The mirrors are built in tmp dirs from the real data dir during the test; nothing is copied into
the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from matheval.cli import main
from matheval.data import sha256_of
from matheval.tasks import load_task


def _mirror_data_layout(data_dir: Path, root: Path, files: list[str]) -> Path:
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / f, root / f)
    return root


def _mirror_upstream_layout(data_dir: Path, root: Path, task: str) -> Path:
    ref = load_task(task).data
    dest = root / ref.source.repo / ref.source.commit / ref.source.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_dir / ref.file, dest)
    return root


def _leftovers(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_pull_from_a_data_dir_mirror(data_dir, tmp_path, capsys):
    gsm = load_task("gsm8k")
    files = [gsm.data.file, gsm.style("fewshot").exemplars.file, "tabmwp/test1k.jsonl"]
    mirror = _mirror_data_layout(data_dir, tmp_path / "mirror", files)
    target = tmp_path / "data"
    assert main(["data", "pull", "gsm8k,tabmwp", "--mirror", str(mirror), "--data-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.count("pulled") == 3
    for f in files:
        assert sha256_of(target / f) == sha256_of(data_dir / f)
    # Converted files (TabMWP test1k, the few-shot sets) come only from such a mirror.
    assert (target / "tabmwp/test1k.jsonl").is_file()
    # A second pull finds everything in place and downloads nothing.
    assert main(["data", "pull", "gsm8k", "--mirror", str(mirror), "--data-dir", str(target)]) == 0
    assert capsys.readouterr().out.count("present") == 2


def test_pull_from_an_upstream_layout_file_base(data_dir, tmp_path, capsys):
    base = _mirror_upstream_layout(data_dir, tmp_path / "up", "svamp").as_uri()
    target = tmp_path / "data"
    assert main(["data", "pull", "svamp", "--base", base, "--data-dir", str(target)]) == 0
    assert sha256_of(target / "svamp/test.jsonl") == load_task("svamp").data.sha256
    assert "pulled" in capsys.readouterr().out


def test_a_converted_file_is_not_faked_from_upstream(data_dir, tmp_path, capsys):
    # gsm8k's test file is upstream bytes; its few-shot set was split out of a .py prompt string.
    base = _mirror_upstream_layout(data_dir, tmp_path / "up", "gsm8k").as_uri()
    target = tmp_path / "data"
    assert main(["data", "pull", "gsm8k", "--base", base, "--data-dir", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot pull fewshot/deepseek_math_gsm8k_cot_8shot.json")
    assert "not a byte-exact upstream file" in err[0]
    assert _leftovers(target) == [target / "gsm8k/test.jsonl"]  # the pullable file did arrive


def test_a_sha256_mismatch_leaves_no_file(data_dir, tmp_path, capsys):
    mirror = _mirror_data_layout(data_dir, tmp_path / "mirror", ["amc23/test.jsonl"])
    with open(mirror / "amc23/test.jsonl", "a", encoding="utf-8") as fh:
        fh.write("\n")
    target = tmp_path / "data"
    assert main(["data", "pull", "amc23", "--mirror", str(mirror), "--data-dir", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has sha256" in err[0] and "nothing was written" in err[0]
    assert not target.exists() or _leftovers(target) == []


def test_missing_in_mirror_and_bad_arguments(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "pull", "amc23", "--mirror", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "d")]) == 2
    assert main(["data", "pull", "amc32", "--mirror", str(tmp_path / "empty")]) == 2
    assert main(["data", "push"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "not in the mirror" in err[0] and "did you mean 'amc23'" in err[1]


@pytest.mark.parametrize("task", ["gsm8k", "tabmwp"])
def test_dry_run_prints_pinned_urls(task, capsys):
    assert main(["data", "pull", task, "--dry-run"]) == 0
    out = capsys.readouterr().out
    ref = load_task(task).data
    if ref.conversion:
        assert f"{ref.file}\tnot pullable: " in out
    else:
        src = ref.source
        assert f"https://raw.githubusercontent.com/{src.repo}/{src.commit}/{src.path}" in out
