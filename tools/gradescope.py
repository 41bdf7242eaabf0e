"""Build the Gradescope autograder package: ``python -m tools.gradescope OUT.zip``.

The zip holds, at its top (as Gradescope wants): ``setup.sh`` (installs a released
Python 3.11 if the image lacks one -- never a release candidate --, then the pinned
grader requirements, PyTorch's CPU build, into ``/autograder/venv``, and compiles the
grader's bytecode into the image), ``run_autograder`` (runs ``python -m grader.gradescope``: finds
the engine in either upload layout, grades it with EVERY check, writes
``/autograder/results/results.json``), and what the grader needs at run time: the whole
``grader/`` (hidden checks and the planted-bug catalog included) and the reference
engine (the extra credit runs the student's tests on it). The package is the
instructor's: upload it to Gradescope, never to students.

Both scripts take the root from ``MINIGRAD_AUTOGRADER_ROOT`` (default ``/autograder``)
and ``run_autograder`` the interpreter from ``MINIGRAD_PYTHON`` (default the venv
setup.sh made), so the package can be tried in any folder laid out like Gradescope's.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
CONTENTS = ["grader", "reference/src/minigrad", "requirements"]
PYTHON = "3.11"

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, when the autograder image is built.
set -euo pipefail
root="${{MINIGRAD_AUTOGRADER_ROOT:-/autograder}}"
export DEBIAN_FRONTEND=noninteractive
final() {{  # a released Python {PYTHON} (Ubuntu 22.04's python{PYTHON} is a release candidate)
  "$1" -c 'import sys; v = sys.version_info
sys.exit(f"{{v[0]}}.{{v[1]}}{{v[3]}}" != "{PYTHON}final")' 2>/dev/null
}}
python="$(command -v python{PYTHON} || true)"
if [ -z "$python" ] || ! final "$python"; then
  apt-get update
  apt-get install -y python{PYTHON} python{PYTHON}-venv || true
  python="$(command -v python{PYTHON} || true)"
fi
if [ -z "$python" ] || ! final "$python"; then
  # the distribution has no released {PYTHON}: the deadsnakes PPA serves one for Ubuntu
  apt-get install -y software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update
  apt-get install -y python{PYTHON} python{PYTHON}-venv
  python="$(command -v python{PYTHON} || true)"
fi
if [ -z "$python" ] || ! final "$python"; then
  echo "setup.sh: no released Python {PYTHON} could be installed; use an image with one" >&2
  exit 1
fi
"$python" -m venv "$root/venv"
pip=("$root/venv/bin/python" -m pip install --no-cache-dir --retries 2 --timeout 30)
# PyTorch's CPU build first (PyPI's Linux wheel pulls GBs of CUDA); where its index
# cannot be reached, PyPI's wheel works too, only larger.
torch="$(grep -E '^torch==' "$root/source/requirements/grade.txt")"
if ! "${{pip[@]}}" --no-deps --index-url https://download.pytorch.org/whl/cpu "$torch"; then
  echo "setup.sh: download.pytorch.org unreachable: installing $torch from PyPI" >&2
fi
"${{pip[@]}}" -r "$root/source/requirements/grade.txt"
# Compile the grader's bytecode into the image: grading then writes nothing there.
"$root/venv/bin/python" -m compileall -q "$root/source/grader" "$root/source/reference/src"
# Where the container refuses user namespaces, student code runs as uid 65534 under
# Landlock and seccomp: it needs the interpreter readable by all users (Landlock, not
# file modes, keeps the grader's own files out of its reach).
chmod a+x "$root"
chmod -R a+rX "$root/venv"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission with every
# check and write /autograder/results/results.json (see grader/gradescope.py).
set -euo pipefail
root="${MINIGRAD_AUTOGRADER_ROOT:-/autograder}"
python="${MINIGRAD_PYTHON:-$root/venv/bin/python}"
cd "$root/source"
# Prints the confinement in use; exits 1 (results.json saying so) if the grader fails.
exec "$python" -m grader.gradescope "$root"
"""


def _files() -> list[Path]:
    found: list[Path] = []
    for part in CONTENTS:
        base = ROOT / part
        found += [
            p
            for p in sorted(base.rglob("*"))
            if p.is_file()
            and not SKIP.intersection(p.relative_to(ROOT).parts)
            and p.suffix != ".pyc"
        ]
    return found


def _executable(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16  # a regular file, rwxr-xr-x
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build(target: Path) -> list[str]:
    """Write the package to ``target``; return the names in it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_executable("setup.sh"), SETUP_SH)
        archive.writestr(_executable("run_autograder"), RUN_AUTOGRADER)
        for path in _files():
            archive.write(path, path.relative_to(ROOT).as_posix())
        return archive.namelist()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].endswith(".zip"):
        print("usage: python -m tools.gradescope OUT.zip", file=sys.stderr)
        return 2
    names = build(Path(argv[0]))
    print(f"wrote {argv[0]}: {len(names)} files; upload it as the Gradescope autograder")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
