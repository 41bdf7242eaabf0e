"""Build the Gradescope autograder image as Gradescope does, and grade uploads in it.

    python -m tools.gradescope_image [--gradescope-resources] [--rebuild] [--keep DIR]
                                     [--base IMAGE] [--mirror URL]
    python -m tools.gradescope_image --check     (one line: why there is no Docker engine)

Gradescope's model, followed step by step with the ``docker`` command: a base image
(theirs is Ubuntu 22.04 with ``/autograder``; here ``minigrad-base:bookworm``, Debian 12
made with ``debootstrap --variant=minbase`` when it is missing, as Docker Hub may not be
reachable), the package (``tools.gradescope``) unpacked into ``/autograder/source``,
``run_autograder`` copied to ``/autograder/run_autograder`` and ``setup.sh`` run once,
as root, while the image is built (the Dockerfile of Gradescope's manual set-up, no
layer cache). Then, for every upload, a FRESH container of that image with Docker's
default settings (its default seccomp profile, which refuses user namespaces; no extra
capability; not privileged): the upload copied into ``/autograder/submission``,
``run_autograder`` run as root, ``/autograder/results/results.json`` copied back, and
``docker diff`` listing what grading wrote in the container besides the upload,
results.json and emptied temporary folders (it should write nothing else: neither the
grader nor an upload). ``--gradescope-resources`` also gives each container Gradescope's
default resources (768 MB of memory, half a CPU, 10 minutes).

The uploads: the reference engine's files at the top (100), the skeleton (0), a planted
bug as a repository (between), a repository with the reference's own tests (100 plus
at least 4 of the 5 extra points), and a hostile engine (the reference, its scalar.py
importing a module that attacks the grader's files, the results, the network, the
grader's process and process creation; it keeps the reference's behaviour only while
every attack fails, so it scores 100 when they are all held).

Stand-ins for this machine's network, in the image build only (``setup.sh`` sees them
through pip's environment; everything else comes from PyPI as on Gradescope): the wheel
of the pinned torch, where one is in a folder of ``PIP_FIND_LINKS`` here, is a local
stand-in for download.pytorch.org (else ``setup.sh`` takes PyPI's torch, GBs of CUDA
libraries); and pip's certificate bundle (``PIP_CERT``), where this machine's pip has one
of its own (a TLS-inspecting proxy's CA).

Prints one row per upload (score, extra credit, exit status of ``run_autograder``, the
confinement it printed, seconds, the container's peak memory, paths written) and exits
1 if any upload missed its expectation, 3 (one line) where no Docker engine answers.
The image is kept, tagged by the package's contents and the base, so a second run
grades without rebuilding (``--rebuild`` forces it); it replaces older ones.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import gradescope

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference" / "src" / "minigrad"
SKELETON = ROOT / "skeleton" / "src" / "minigrad"
BASE = "minigrad-base:bookworm"
SUITE = "bookworm"  # Debian 12: its python3.11 is a released 3.11 (3.11.2)
MIRROR = "http://deb.debian.org/debian"
REPOSITORY = "minigrad-autograder"  # the images built here: REPOSITORY:<package digest>
BUG = "bug-sub-sign"
NO_DOCKER = 3
RUN_SECONDS = 1800  # per upload, with Docker's defaults
# Gradescope's default resources per container (its troubleshooting page): 768 MB of
# memory, half a virtual CPU, a 10-minute timeout (the assignment's settings raise them).
GRADESCOPE_LIMITS = ["--memory", "768m", "--memory-swap", "768m", "--cpus", "0.5"]
GRADESCOPE_SECONDS = 600
BUILD_SECONDS = 3600
BUILD = ["docker", "build", "--no-cache", "--force-rm"]  # from scratch, as Gradescope builds

# Gradescope's Dockerfile for an autograder zip (its "manual Docker configuration"), with
# this machine's stand-ins (LOCAL: the torch wheel, pip's certificates) for setup.sh only.
LOCAL = "/opt/minigrad-local"
DOCKERFILE = """\
FROM {base}
ADD source /autograder/source
COPY local {local}
RUN cp /autograder/source/run_autograder /autograder/run_autograder \\
 && chmod +x /autograder/run_autograder
RUN apt-get update \\
 && env {stand_ins} bash /autograder/source/setup.sh \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/* {local}
"""

MARK = "PWNED"  # in the name of every file an attack tries to create
TARGETS = [  # what the hostile upload tries to read: any success changes its behaviour
    "/autograder/source/reference/src/minigrad/scalar.py",
    "/autograder/source/grader/rubric.toml",
    "/autograder/source/grader/mistakes/catalog.toml",
    "/autograder/run_autograder",
    "/proc/1/environ",
]
PLANTS = [  # where it tries to write (docker diff must list none of them)
    f"/autograder/source/grader/{MARK}.py",
    f"/autograder/source/grader/__pycache__/{MARK}.pyc",
    f"/autograder/venv/lib/{MARK}.pth",
    f"/autograder/results/{MARK}.json",
    f"/autograder/submission/{MARK}",
    f"/autograder/{MARK}",
    f"/tmp/{MARK}",
    f"/root/{MARK}",
]


def _lines(paths: list[str]) -> str:
    return "\n".join(f'    "{path}",' for path in paths)


ATTACK = f'''"""Attacks on the autograder, run when scalar.py imports this module."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path


def _through(attack: Callable[[], object]) -> int:
    """1 if the attack got through, 0 if it was refused."""
    try:
        attack()
    except Exception:
        return 0
    return 1


def _fork() -> None:
    if os.fork() == 0:
        os._exit(0)


def _system() -> None:
    if os.system("touch /autograder/{MARK}-system") != 0:
        raise OSError("refused")


def _kill_parent() -> None:  # the grader's process (or, told 0, the whole group)
    os.kill(os.getppid(), signal.SIGKILL)


def _connect() -> None:
    socket.create_connection(("pypi.org", 443), timeout=3).close()


READS = [
{_lines(TARGETS)}
]
PLANTS = [
{_lines(PLANTS)}
]


def _plant(path: str) -> Callable[[], object]:
    return lambda: Path(path).write_text('{{"score": 1000}}')


def _attacks() -> int:
    through = sum(_through(Path(path).read_bytes) for path in READS)
    through += sum(_through(_plant(path)) for path in PLANTS)
    through += _through(lambda: Path("/autograder/run_autograder").chmod(0o777))
    for attack in (_fork, _system, _connect, _kill_parent):
        through += _through(attack)
    return through


THROUGH = _attacks()  # scalar.py answers wrongly unless this is 0
'''
HOOK = """

if _attack.THROUGH:  # an attack got through: every sum is wrong from now on
    Value.__add__ = Value.__mul__  # type: ignore[method-assign]
"""


@dataclass
class Upload:
    name: str
    folder: Path
    expect: str  # in words, for the table
    ok: Callable[[dict[str, Any]], bool]
    tests: bool = False  # the upload brings tests (extra credit)


@dataclass
class Row:
    upload: str
    expect: str
    score: str = "-"
    extra: str = "-"
    status: str = "-"
    confinement: str = "-"
    seconds: float = 0.0
    peak_mb: float = 0.0  # the container's peak memory use (cgroup, page cache included)
    writes: int = 0  # paths written outside the upload, results.json and /tmp
    changed: list[str] = field(default_factory=list)
    verdict: str = "MISSED"  # ok; MISSED its expectation (score, exit status); WROTE files
    note: str = ""


def docker(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, **kwargs)


def docker_problem() -> str:
    """'' where a Docker engine answers, else one line saying why not."""
    if shutil.which("docker") is None:
        return "no docker command (install docker.io and start dockerd)"
    try:
        done = docker("info", "--format", "{{.ServerVersion}}", timeout=60)
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer (docker info timed out after 60 s)"
    if done.returncode != 0 or not done.stdout.strip():
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines()]
        return next((line for line in lines if line), f"docker info exited {done.returncode}")
    return ""


def image_id(image: str) -> str:
    """The image's id, or '' if there is no such image."""
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def make_base(base: str, mirror: str, work: Path) -> None:
    """Debian 12 from ``mirror`` (debootstrap, minbase) with ``/autograder``, as ``base``."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None or os.geteuid() != 0:
        raise SystemExit(
            f"no image {base}, and it can only be made as root with debootstrap "
            f"(apt-get install debootstrap), or: docker tag YOUR_IMAGE {base}"
        )
    rootfs = work / "rootfs"
    print(f"making {base}: debootstrap --variant=minbase {SUITE} ({mirror})", flush=True)
    log = work / "debootstrap.log"
    with log.open("w") as out:
        made = subprocess.run(
            [debootstrap, "--variant=minbase", SUITE, str(rootfs), mirror],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if made.returncode != 0:
        raise SystemExit(f"debootstrap failed (exit {made.returncode}); see {log}")
    (rootfs / "autograder").mkdir(exist_ok=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["docker", "import", "-c", 'CMD ["/bin/bash"]', "-", base],
        stdin=tar.stdout,
        capture_output=True,
        text=True,
    )
    if tar.stdout is not None:
        tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise SystemExit(f"docker import of {base} failed: {imported.stderr.strip()}")
    shutil.rmtree(rootfs)


def digest(package: Path, base: str) -> str:
    """The package's contents (names, bytes, modes, whatever the zip's file dates) and
    the base image's id: what the image is built from."""
    sha = hashlib.sha256(image_id(base).encode() + b"\0")
    with zipfile.ZipFile(package) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            sha.update(f"{info.filename}\0{info.external_attr >> 16:o}\0".encode())
            sha.update(hashlib.sha256(archive.read(info)).digest())
    return sha.hexdigest()[:12]


def unpack(package: Path, target: Path) -> None:
    """Unzip as ``unzip`` does: with the modes stored in the zip."""
    with zipfile.ZipFile(package) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def local_wheels() -> list[Path]:
    """The wheels of the pinned torch in this machine's PIP_FIND_LINKS folders."""
    pin = re.search(r"^torch==(\S+)", (ROOT / "requirements" / "grade.txt").read_text(), re.M)
    if pin is None:
        return []
    version = re.escape(pin.group(1))
    found: list[Path] = []
    for place in os.environ.get("PIP_FIND_LINKS", "").split():
        folder = Path(place.removeprefix("file://"))
        if folder.is_dir():
            found += sorted(
                p for p in folder.glob("torch-*.whl") if re.match(rf"torch-{version}(\+|-)", p.name)
            )
    return found


def build_image(package: Path, base: str, work: Path, rebuild: bool) -> tuple[str, float]:
    """The image of ``package`` (built unless one of the same contents exists), seconds."""
    image = f"{REPOSITORY}:{digest(package, base)}"
    previous = image_id(image)
    if previous and not rebuild:
        print(f"image {image}: already built from this very package", flush=True)
        return image, 0.0
    context = work / "context"
    unpack(package, context / "source")
    local = context / "local"
    (local / "wheels").mkdir(parents=True)
    wheels = local_wheels()
    for wheel in wheels:
        shutil.copyfile(wheel, local / "wheels" / wheel.name)
    stand_ins = [f"PIP_FIND_LINKS={LOCAL}/wheels"]
    cert = Path(os.environ.get("PIP_CERT", ""))
    if cert.is_file():  # where this machine's pip trusts a bundle of its own (a TLS proxy's CA)
        shutil.copyfile(cert, local / "cert.pem")
        stand_ins.append(f"PIP_CERT={LOCAL}/cert.pem")
    dockerfile = DOCKERFILE.format(base=base, local=LOCAL, stand_ins=" ".join(stand_ins))
    (context / "Dockerfile").write_text(dockerfile)
    names = ", ".join(w.name for w in wheels) or "none (PyPI's torch: GBs of CUDA)"
    more = f"; pip's certificates: {cert}" if cert.is_file() else ""
    print(f"building {image} from {base}; local wheels: {names}{more}", flush=True)
    log = work / "build.log"
    start = time.monotonic()
    with log.open("w") as out:
        # The build's own network is the host's: a daemon without NAT gives a bridge no way out.
        try:
            built = subprocess.run(
                [*BUILD, "--network", "host", "-t", image, str(context)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=BUILD_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise SystemExit(f"docker build did not finish in {BUILD_SECONDS} s") from None
    seconds = time.monotonic() - start
    shutil.rmtree(context)
    if built.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        end = f"docker build failed (exit {built.returncode}); log {log} (kept with --keep DIR)"
        raise SystemExit(f"{tail}\n{end}")
    setup = [line for line in log.read_text().splitlines() if "setup.sh" in line]
    for line in setup[-5:]:
        print(f"  {line}")
    print(f"built {image} in {seconds:.0f} s", flush=True)
    listed = docker("images", "--no-trunc", REPOSITORY, "--format", "{{.ID}} {{.Tag}}")
    for line in listed.stdout.splitlines():
        old, _, tag = line.partition(" ")
        if tag != image.partition(":")[2]:
            docker("rmi", old)  # an image of an older package
    if previous and previous != image_id(image):
        docker("rmi", previous)  # the same package's image, rebuilt
    return image, seconds


def _copy_engine(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.py")):
        shutil.copyfile(path, target / path.name)


def uploads(work: Path) -> list[Upload]:
    from grader.mistakes import VARIANTS, materialize

    def score(data: dict[str, Any]) -> float:
        return float(data.get("score", -1))

    def graded(data: dict[str, Any]) -> bool:
        return bool(data.get("extra_data", {}).get("status") == "graded")

    top = work / "reference-files"
    _copy_engine(REFERENCE, top)
    skeleton = work / "skeleton-files"
    _copy_engine(SKELETON, skeleton)
    bug = materialize(next(v for v in VARIANTS if v.id == BUG), work / "bug" / "minigrad-main")
    repo = work / "repository" / "minigrad-bob-main"
    _copy_engine(REFERENCE, repo / "src" / "minigrad")
    shutil.copytree(
        ROOT / "reference" / "tests", repo / "tests", ignore=shutil.ignore_patterns("__pycache__")
    )
    hostile = work / "hostile-files"
    _copy_engine(REFERENCE, hostile)
    (hostile / "_attack.py").write_text(ATTACK)
    scalar = hostile / "scalar.py"
    first = "from typing import Union\n"
    text = scalar.read_text().replace(first, first + "\nfrom minigrad import _attack\n", 1)
    scalar.write_text(text + HOOK)
    return [
        Upload("reference, files at the top", top, "100", lambda d: score(d) == 100),
        Upload("skeleton, files at the top", skeleton, "0", lambda d: score(d) == 0 and graded(d)),
        Upload(f"{BUG}, repository", bug.parent, "0 < s < 100", lambda d: 0 < score(d) < 100),
        Upload(
            "reference + its tests, repository",
            repo.parent,
            ">= 104",  # every point and at least 4 of the 5 extra (issue 18)
            lambda d: score(d) >= 104,
            tests=True,
        ),
        Upload("hostile, files at the top", hostile, "100, no plant", lambda d: score(d) == 100),
    ]


def _cgroup_peak(container: str) -> Path | None:
    """The file holding the container's peak memory use (cgroup v1 or v2), if any."""
    for path in [
        f"/sys/fs/cgroup/memory/docker/{container}/memory.max_usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{container}.scope/memory.peak",
        f"/sys/fs/cgroup/docker/{container}/memory.peak",
    ]:
        if Path(path).is_file():
            return Path(path)
    return None


class PeakMemory(threading.Thread):
    """Reads the container's peak memory use (page cache included) while it runs."""

    def __init__(self, container: str) -> None:
        super().__init__(daemon=True)
        self.container = container
        self.done = threading.Event()
        self.peak = 0

    def run(self) -> None:
        while not self.done.wait(0.5):
            path = _cgroup_peak(self.container)
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, int(path.read_text())) if path else self.peak


def grade(
    image: str, upload: Upload, work: Path, limits: list[str], seconds: float = RUN_SECONDS
) -> Row:
    """Grade ``upload`` in a fresh container of ``image``, as Gradescope does: Docker's
    default settings, plus ``limits`` (``docker create`` options), within ``seconds``."""
    row = Row(upload.name, upload.expect)
    made = docker("create", *limits, image, "/autograder/run_autograder")
    if made.returncode != 0:
        row.note = f"docker create: {made.stderr.strip()}"
        return row
    container = made.stdout.strip()
    try:
        empty = work / "empty"
        empty.mkdir(exist_ok=True)
        for source, target in [(upload.folder, "submission"), (empty, "results")]:
            copied = docker("cp", f"{source}/.", f"{container}:/autograder/{target}")
            if copied.returncode != 0:
                row.note = f"docker cp: {copied.stderr.strip()}"
                return row
        memory = PeakMemory(container)
        memory.start()
        start = time.monotonic()
        try:
            ran = docker("start", "--attach", container, timeout=seconds)
        except subprocess.TimeoutExpired:
            docker("kill", container)
            row.note = f"run_autograder did not finish in {seconds:g} s (timed out)"
            return row
        finally:
            memory.done.set()
        row.seconds = time.monotonic() - start
        row.peak_mb = memory.peak / 2**20
        state = docker("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", container)
        code, _, oom = state.stdout.strip().partition(" ")
        row.status = code or str(ran.returncode)
        (work / f"{container[:12]}.log").write_text(ran.stdout + ran.stderr)
        lines = ran.stdout.splitlines()
        row.confinement = next(
            (line.removeprefix("confinement: ") for line in lines if "confinement: " in line), "-"
        )
        back = work / f"{container[:12]}-results"
        got = docker("cp", f"{container}:/autograder/results/results.json", str(back))
        if got.returncode != 0:
            killed = "killed: out of memory; " if oom == "true" else ""
            row.note = f"no results.json: {killed}" + (ran.stdout + ran.stderr)[-400:].strip()
            return row
        data: dict[str, Any] = json.loads(back.read_text())
        row.score = f"{data.get('score', '-'):g}" if "score" in data else "-"
        bonus = [t for t in data.get("tests", []) if "tests.catch_mistakes" in t.get("name", "")]
        extra = re.search(r"\+([\d.]+) of ([\d.]+) extra", ran.stdout)  # the report's table
        if extra:
            row.extra = f"+{extra[1]} of {extra[2]}"
        elif bonus:
            row.extra = f"+{bonus[0]['score']:g}"
        row.writes, row.changed = changes(container)
        if upload.ok(data) and row.status == "0":
            row.verdict = "WROTE" if row.changed else "ok"
        status = data.get("extra_data", {}).get("status", "")
        first = data.get("output", "").splitlines()[:1]
        row.note = f"{status}: {first[0] if first else ''}"
        if upload.tests and bonus and extra and extra[1] != extra[2]:
            row.note += f" | extra credit: {bonus[0]['output'].splitlines()[0]}"
        if oom == "true":
            row.note += " | killed: out of memory"
        return row
    finally:
        docker("rm", "--force", container)


ALLOWED = ("/autograder/submission", "/autograder/results", "/tmp")


def changes(container: str) -> tuple[int, list[str]]:
    """What grading changed in the container besides the upload, results.json and
    emptied temporary folders (the grader's files, an upload's plants, anything else):
    how many paths it wrote (a folder changed only by what is inside does not count),
    and the list (an added folder once, with how much it holds)."""
    found = []
    for line in docker("diff", container).stdout.splitlines():
        kind, _, path = line.partition(" ")
        left = path.startswith("/tmp/")  # a temporary file grading did not remove
        if left or MARK in path or not (path == "/autograder" or path.startswith(ALLOWED)):
            found.append((kind, path))

    def inside(folder: str) -> int:
        return sum(other.startswith(folder + "/") for _, other in found)

    listed = []
    added = [path for kind, path in found if kind == "A"]
    for kind, path in found:
        holder = kind == "C" and inside(path) > 0  # changed by what it holds
        if holder or any(path.startswith(folder + "/") for folder in added):
            continue
        more = f" (and {inside(path)} more inside)" if inside(path) else ""
        listed.append(f"{kind} {path}{more}")
    return sum(kind != "C" or not inside(path) for kind, path in found), listed


def table(rows: list[Row]) -> str:
    head = ["upload", "expect", "score", "extra credit", "exit", "confinement", "s", "peak MB"]
    head += ["writes", "ok"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.upload, r.expect, r.score, r.extra, r.status, r.confinement]
        cells += [f"{r.seconds:.0f}", f"{r.peak_mb:.0f}" if r.peak_mb else "-"]
        cells += [str(r.writes), r.verdict]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace, work: Path) -> list[Row]:
    """Make the base if missing, build the image, grade every upload; print the table."""
    if not image_id(args.base):
        make_base(args.base, args.mirror, work)
    package = work / "autograder.zip"
    gradescope.build(package)
    image, built = build_image(package, args.base, work, args.rebuild)
    limits, seconds = ([], RUN_SECONDS)
    settings = "Docker's default settings"
    if args.gradescope_resources:
        limits, seconds = (GRADESCOPE_LIMITS, GRADESCOPE_SECONDS)
        settings += f" and Gradescope's default resources ({' '.join(limits)}, {seconds} s)"
    print(f"grading with {settings}", flush=True)
    rows = []
    for upload in uploads(work / "uploads"):
        print(f"grading {upload.name} in a fresh container ...", flush=True)
        rows.append(grade(image, upload, work, limits, seconds))
        print(f"  score {rows[-1].score}, exit {rows[-1].status}, {rows[-1].seconds:.0f} s")
    print(f"\nimage {image} (from {args.base}; built in {built:.0f} s this run); {settings}")
    print(table(rows))
    for r in rows:
        print(f"- {r.upload}: {r.note}")
        for change in r.changed:
            print(f"    changed in the container: {change}")
    if args.keep:
        print(f"uploads, logs and results kept in {work}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gradescope_image")
    parser.add_argument("--check", action="store_true", help="only say whether Docker answers")
    parser.add_argument("--base", default=BASE, help=f"the base image (default {BASE})")
    parser.add_argument("--mirror", default=MIRROR, help="Debian mirror to make the base from")
    parser.add_argument("--rebuild", action="store_true", help="build even if already built")
    parser.add_argument("--keep", type=Path, help="keep the uploads, logs and results here")
    parser.add_argument(
        "--gradescope-resources",
        action="store_true",
        help="limit each container as Gradescope does by default: 768 MB, 0.5 CPU, 10 min",
    )
    args = parser.parse_args(argv)
    problem = docker_problem()
    if problem:
        print(f"no Docker engine here: {problem}", file=sys.stderr)
        return NO_DOCKER
    if args.check:
        return 0
    if args.keep:  # kept, even when something fails
        args.keep.mkdir(parents=True, exist_ok=True)
        rows = run(args, Path(tempfile.mkdtemp(prefix="minigrad-image-", dir=args.keep)))
    else:
        with tempfile.TemporaryDirectory(prefix="minigrad-image-") as tmp:
            rows = run(args, Path(tmp))
    missed = [r.upload for r in rows if r.verdict == "MISSED"]
    wrote = [r.upload for r in rows if r.verdict == "WROTE"]
    if missed:
        print(f"{len(missed)} upload(s) missed their expectation: {'; '.join(missed)}")
    if wrote:
        print(
            f"{len(wrote)} upload(s) graded as expected, but grading wrote outside the "
            f"upload, results.json and /tmp (listed above): {'; '.join(wrote)}"
        )
    return 1 if missed or wrote else 0


if __name__ == "__main__":
    raise SystemExit(main())
