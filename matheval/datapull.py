"""`matheval data pull [TASKS]`: fetch each task's pinned files into the data dir, sha256-checked.

A file is fetched from `{base}/{repo}/{commit}/{path}` (its task YAML's source; base defaults to
GitHub raw content, or the source's own `url`), or from a local mirror. A mirror (`--mirror DIR`,
or a `file://` base) is read in either layout: like the data dir (`DIR/<file>`, e.g. another
machine's copy) or like upstream (`DIR/<repo>/<commit>/<path>`). Bytes go to a temp file beside the
target, are hashed, and only a matching file is renamed into place: a failure or a mismatch is one
error line (exit 2) and leaves no partial file.

Some pinned files are conversions, not upstream bytes (MATH train joined from 7500 files, TabMWP
test1k turned from a dict into JSONL, few-shot sets split out of a prompt string). They cannot be
downloaded byte-exact from upstream; they are taken only from a data-dir-layout mirror, and
otherwise the error says how the file was made.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from matheval.data import sha256_of
from matheval.errors import UsageError
from matheval.paths import default_data_dir
from matheval.tasks import DataFile, load_task, task_names

DEFAULT_BASE = "https://raw.githubusercontent.com"
TIMEOUT = 60


@dataclass(frozen=True)
class Pulled:
    file: str
    status: str  # "present" | "pulled"
    origin: str


def task_files(names: list[str]) -> list[DataFile]:
    """The data file and every exemplar file of the tasks, each file once."""
    seen: dict[str, DataFile] = {}
    for name in names:
        task = load_task(name)
        refs = [task.data] + [s.exemplars for s in task.prompts.values() if s.exemplars]
        for ref in refs:
            prev = seen.setdefault(ref.file, ref)
            if prev.sha256 != ref.sha256:
                raise UsageError(f"tasks pin {ref.file} with two different sha256s; fix the task YAMLs")
    return list(seen.values())


def candidates(ref: DataFile, base: str | None, mirror: Path | None) -> list[str]:
    """Where to look for `ref`, in order, as URLs (file:// for a mirror)."""
    src = ref.source
    if mirror is None and base is not None and base.startswith("file://"):
        mirror = Path(urllib.parse.urlparse(base).path)
    if mirror is not None:
        urls = [(mirror / ref.file).resolve().as_uri()]
        if not ref.conversion:  # an upstream-layout tree holds the unconverted source
            urls.append((mirror / src.repo / src.commit / src.path).resolve().as_uri())
        return urls
    if ref.conversion:
        return []
    if src.url and base is None:
        return [src.url]
    quoted = urllib.parse.quote(src.path)
    return [f"{(base or DEFAULT_BASE).rstrip('/')}/{src.repo}/{src.commit}/{quoted}"]


def pull_file(ref: DataFile, data_dir: Path, base: str | None, mirror: Path | None) -> Pulled:
    dest = data_dir / ref.file
    if dest.is_file() and sha256_of(dest) == ref.sha256:
        return Pulled(ref.file, "present", str(dest))
    urls = candidates(ref, base, mirror)
    local = [u for u in urls if u.startswith("file://")]
    found = [u for u in local if Path(urllib.parse.unquote(urllib.parse.urlparse(u).path)).is_file()]
    if local and not found:
        why = f" (not a byte-exact upstream file: {ref.conversion})" if ref.conversion else ""
        raise UsageError(f"cannot pull {ref.file}: not in the mirror ({' nor '.join(local)}){why}")
    if not urls:
        raise UsageError(
            f"cannot pull {ref.file}: it is not a byte-exact upstream file ({ref.conversion}); "
            f"copy it from a data dir that has it: matheval data pull --mirror OTHER_DATA_DIR"
        )
    url = found[0] if found else urls[0]
    _download(url, dest, ref.sha256)
    return Pulled(ref.file, "pulled", url)


def _download(url: str, dest: Path, sha256: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError) as exc:
            raise UsageError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
        if h.hexdigest() != sha256:
            raise UsageError(
                f"{url} has sha256 {h.hexdigest()[:12]}…, expected {sha256[:12]}…; nothing was written"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str], parser_cls) -> int:
    p = parser_cls(prog="matheval data", description="Fetch the pinned data files of tasks into the data dir.")
    p.add_argument("action", choices=["pull"])
    p.add_argument("tasks", nargs="*", help="task names (default: every task)")
    p.add_argument("--data-dir", help="target data dir (default: $MATHEVAL_DATA_DIR or the user cache)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mirror", help="local tree laid out like the data dir or as <repo>/<commit>/<path>")
    src.add_argument("--base", help=f"URL prefix for <repo>/<commit>/<path> (default {DEFAULT_BASE}); file:// ok")
    p.add_argument("--dry-run", action="store_true", help="print where each file would come from")
    args = p.parse_args(argv)
    names = [t.strip() for arg in args.tasks for t in arg.split(",") if t.strip()] or task_names()
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    mirror = Path(args.mirror) if args.mirror else None
    if mirror is not None and not mirror.is_dir():
        raise UsageError(f"--mirror {mirror}: not a directory")
    refs = task_files(names)
    if args.dry_run:
        for ref in refs:
            urls = candidates(ref, args.base, mirror)
            print(f"{ref.file}\t{' | '.join(urls) if urls else 'not pullable: ' + str(ref.conversion)}")
        return 0
    for ref in refs:
        got = pull_file(ref, data_dir, args.base, mirror)
        print(f"{got.status:8} {got.file}  ({got.origin})")
    print(f"data dir: {data_dir}")
    return 0
