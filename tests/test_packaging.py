"""A normal (non-editable) install ships tasks/, prompts/ and profiles/ inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_carries_tasks_prompts_profiles_and_uses_them(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("matheval-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for d, n in (("tasks", "gsm8k.yaml"), ("prompts", "gsm8k_fewshot.jinja"), ("profiles", "deepseekmath-base.yaml")):
        assert f"matheval/_{d}/{n}" in names
    for n in ("report.js", "report.css", "template.html"):  # the HTML report's inline assets
        assert f"matheval/html_report/{n}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import matheval.paths as p; from matheval.tasks import load_task; from matheval.prompts import template;"
        "t = load_task('math500'); print(p.tasks_dir()); print(template('minerva_fewshot.jinja').filename)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(site / "matheval" / "_tasks"), str(site / "matheval" / "_prompts" /
                                                                                "minerva_fewshot.jinja")]
