"""Run a command as on a host that refuses unprivileged user namespaces.

    python tests/no_userns.py COMMAND [ARGS...]

Docker's default seccomp profile refuses ``unshare``, ``setns`` and ``mount`` to a
container, and Ubuntu 24.04 restricts user namespaces through AppArmor; GitHub's
runners and Gradescope's containers are such hosts. This installs a seccomp filter that
refuses the same calls (``clone3`` answers ENOSYS, as there), then runs the command, so
the grader's probe finds no namespaces and it confines with Landlock and seccomp alone
(``grader.child.confine.LANDLOCK``). Used by ``tests/test_hostile.py``.

It also finds a Python that users other than root can run with this suite's packages
(``readable_python``): the unprivileged legs of the hostile tests need one, and so does
the grader as root without namespaces (student code then runs as uid 65534).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from grader.child import privileges, seccomp

REFUSED = ("unshare", "setns", "mount", "umount2")


def program() -> bytes:
    ins = seccomp._ins
    prog = [ins(seccomp.LD_W_ABS, 0)]  # seccomp_data.nr (x86_64 only: confine checks)
    prog += [ins(seccomp.JEQ, seccomp.SYS["clone3"], 0, 1)]
    prog += [ins(seccomp.RET, seccomp.RET_ERRNO | seccomp.ENOSYS)]
    for name in REFUSED:
        prog += [ins(seccomp.JEQ, seccomp.SYS[name], 0, 1)]
        prog += [ins(seccomp.RET, seccomp.RET_ERRNO | seccomp.EPERM)]
    prog.append(ins(seccomp.RET, seccomp.RET_ALLOW))
    return b"".join(prog)


LAUNCHER = os.path.abspath(__file__)
USER = "minigrad-hostile"  # the unprivileged user of the hostile tests (made if missing)
SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"
SITE_DIRS = sorted({p for p in sys.path if p.endswith("site-packages")})


def as_user() -> tuple[list[str], str]:
    """(argv prefix running a command as USER, '') or ([], why not); root only."""
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        useradd = shutil.which("useradd", path=SBIN) or "useradd"
        args = ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]
        made = subprocess.run([useradd, *args], capture_output=True, text=True)
        if made.returncode != 0:
            return [], f"useradd {USER} failed: {made.stderr.strip()}"
    return [shutil.which("runuser", path=SBIN) or "runuser", "-u", USER, "--"], ""


def readable_python() -> tuple[str, str]:
    """(a Python every user can run, with this suite's packages; '') or ('', why not).

    Ours if USER can import torch with it; else (ours is unreadable, e.g. under /root) a
    venv in /var/tmp of the system's Python of the same version, seeing our
    site-packages through a .pth file (rewritten each time: it follows this suite)."""
    if os.geteuid() != 0:
        return sys.executable, ""
    run_as, why = as_user()
    if why:
        return "", why
    if subprocess.run([*run_as, sys.executable, "-c", "import torch"]).returncode == 0:
        return sys.executable, ""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    base = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if base is None:
        return "", f"no {version} readable by other users (ours is unreadable to them)"
    venv = Path("/var/tmp/minigrad-hostile-venv")
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / version / "site-packages"
    (site / "minigrad-test-env.pth").write_text("\n".join(SITE_DIRS) + "\n")
    if subprocess.run([*run_as, str(python), "-c", "import torch"]).returncode != 0:
        return "", f"{USER} cannot import our packages through {venv}"
    return str(python), ""


def main(argv: list[str]) -> None:
    code = program()
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(buffer))
    privileges.no_new_privs()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(privileges.PR_SET_SECCOMP, privileges.SECCOMP_MODE_FILTER, fprog, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
