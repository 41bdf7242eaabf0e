"""Building the answer key (grader/answer_key.py): grade the reference engine once
with every check, recording each expected value PyTorch computes.

It sits above the checks and the scoring it runs; the key itself (its look-ups, used by
``expect.evaluate`` while a check runs) knows nothing of them.

    python -m grader.keybuild          build the key now (if stale) and say where it is
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader import answer_key
from grader.answer_key import (
    GRADER,
    REFERENCE,
    SHIPPED,
    Key,
    Recorder,
    cache_dirs,
    enabled,
    grader_hash,
    read_key,
    recording,
    save,
    use,
)
from grader.checks import REGISTRY, Check
from grader.discover import Submission
from grader.score import run_checks


@contextmanager
def _naming_checks(recorder: Recorder) -> Iterator[None]:
    """Every registered check names itself on ``recorder`` while it runs."""
    saved = dict(REGISTRY)

    def wrap(cid: str, check: Check) -> Check:
        def run(ctx: Any) -> None:
            recorder.check = cid
            try:
                check.func(ctx)
            finally:
                recorder.check = ""

        return replace(check, func=run)  # its dependencies and diagnosis kept

    REGISTRY.update({cid: wrap(cid, c) for cid, c in saved.items()})
    try:
        yield
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)


def build(reference: Path = REFERENCE) -> Key:
    """Grade the reference engine with every check, recording each expected value."""
    if importlib.util.find_spec("torch") is None:
        raise ImportError("PyTorch is not installed: it computes the expected values")
    key = Key(grader_hash())
    with tempfile.TemporaryDirectory(prefix="minigrad-answer-key-") as tmp:
        engine = Path(tmp) / "reference"
        shutil.copytree(reference, engine / "src" / "minigrad")
        with recording(key) as recorder, _naming_checks(recorder):
            run_checks(Submission("reference", engine))
    key.values = {h: v for h, v in key.values.items() if h in key.checks}
    if not key.values or key.dags is None:  # the reference did not grade: never keep that
        raise RuntimeError("the reference engine failed its checks: no answer key was built")
    return key


def ensure(quiet: bool = False) -> Key | None:
    """The key of this grader version, built now from the reference if there is none.

    None when keys are turned off, or when there is none and no reference to build one
    from (a student repository without its shipped key): then every value is computed.
    """
    if not enabled():
        return None
    key = answer_key.find()
    if key is None and (REFERENCE / "scalar.py").is_file():
        if not quiet:
            print("grader: building the answer key (once per grader version)", file=sys.stderr)
        try:
            key = build()
        except Exception as exc:  # no PyTorch, a grader bug: grading computes as it goes
            print(f"grader: no answer key ({type(exc).__name__}: {exc})", file=sys.stderr)
            return None
        save(key)
    use(key)
    return key


def public_key(checks: set[str], released_grader: Path) -> Key | None:
    """The key for a student release: the values of the given (public) checks only,
    under the hash of the released grader. None when this grader has no key yet and
    cannot build one (no torch): the release then ships none."""
    full = answer_key.find() or ensure(quiet=True)
    if full is None:
        return None
    keep = {h for h, ids in full.checks.items() if set(ids) & checks}
    return Key(
        grader_hash(released_grader),
        {h: v for h, v in full.values.items() if h in keep},
        {},
        full.dags if full.dags_check in checks else None,
        full.dags_check if full.dags_check in checks else "",
    )


def main() -> int:
    key = ensure()
    if key is None:
        print("answer key: none (turned off, or no reference engine to build it from)")
        return 1
    where = next(
        (
            p
            for p in [GRADER / SHIPPED] + [d / f"answer-key-{key.hash}.json" for d in cache_dirs()]
            if read_key(p, key.hash)
        ),
        None,
    )
    dags = len(key.dags) if key.dags is not None else 0
    print(
        f"answer key {key.hash}: {len(key.values)} programs, {dags} random graphs"
        f" ({where or 'in memory only: no writable cache folder'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
