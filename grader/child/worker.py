"""The only grader code that runs next to student code: inside the sandboxed child.

Started by ``grader.sandbox`` as ``python -I -S -B <folder>/code/grader/worker.py
CONFIG`` where ``<folder>`` holds ``code/`` (this file and the rest of ``grader/child/``,
copied), ``pkg/minigrad`` (the submission's package, copied) and
``work/`` (its scratch). It
  1. confines itself (``grader/child/confine.py``: user, mount, network and PID namespaces,
     then in the forked PID 1: no capabilities, no-new-privs, Landlock, seccomp that
     still lets it fork; where the host refuses user namespaces, the same without them,
     as uid 65534 if root),
  2. keeps private copies of stdin/stdout for the protocol and points fds 0/1/2
     elsewhere (student prints go to the output log the grader opened and passed),
  3. becomes the *driver* (``driver.py``): it forks the student's process, which closes every
     descriptor but 0/1/2 and its two pipes to the driver, sets its resource limits
     (memory, CPU time, file size = output cap, tasks), locks itself down again (a
     Landlock domain of its own: it cannot signal or trace the driver; seccomp: no
     process creation), blocks imports of numerical libraries, and only then imports
     the student's package,
  4. forwards each JSON request line to the student's process, which runs the steps
     (``interpreter.py``: build graphs, call the student's code, read back plain numbers
     and strings);
     the driver reads one capped reply, checks that it is well-formed and answers that
     request (``vet``), and passes on its own clean copy. Garbage, a reply to another
     request or a line nobody asked for ends the student's process and becomes the
     driver's ``fault`` reply; when the student's process dies, the driver exits the
     same way, so the grader sees how it died.
It computes; it never judges. The grader compares the numbers in its own process.

What the driver cannot know and so takes from the student's process (whose code can
change it): the reads and errors (an engine's own answers anyway), ``blocked_imports``
(an engine can hide that it *tried* numpy, never use it: site-packages is not
readable), ``parents`` (wording only) and the progress mark in ``work/progress`` that
names where a hang was (a forged mark can only make the grader skip or retry the
student's own steps). What the driver states itself: ``network_isolated``, ``hidden``,
and how the student's process ended.
Standard library only: it runs with site-packages disabled.
"""

from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__":
    # Started by path with -I: the grader package is two folders above (grader/child/).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# After the path above (the standard library and the grader's copy of its code only).
from grader.child import limits
from grader.child.driver import Driver
from grader.child.interpreter import OP_TABLE, serve
from grader.child.limits import (
    CONFINE_FAILED,
    _Blocker,
    enter_confinement,
    redirect_stdio,
    set_limits,
)


def main() -> None:
    config = json.loads(sys.argv[1])
    root = config["folder"]
    from grader.child import pyview

    pyview.apply(config.get("view", {}))  # the installation, where NOBODY can read it
    # The op table, from the grader's copy beside this file, before any confinement
    # and before the student's package is on the path (nothing of it can stand in).
    from grader.optable import OPS

    OP_TABLE.update(OPS)
    # Likewise the driver's reader: the folder this file was loaded from is hidden
    # once the confinement has bound the sandbox's folder elsewhere.
    import grader.child.channel  # noqa: F401  (imported again by the driver)

    mode = config["confine"]  # confine.NAMESPACES, confine.LANDLOCK or "" (unconfined)
    reads: list[str] = []
    tasks = 0
    try:
        from grader.child import confine, privileges

        if mode and os.geteuid() == 0:  # RLIMIT_NPROC counts every task of the uid:
            tasks = privileges.tasks_of(privileges.NOBODY)  # leave room for those it has now
        elif mode == confine.LANDLOCK:
            tasks = privileges.tasks_of(os.getuid())
        if mode == confine.NAMESPACES:
            root = enter_confinement(root)
        os.chdir(os.path.join(root, "work"))
        requests_fd, replies_fd = redirect_stdio(config["log_fd"])
        code, pkg, work = (os.path.join(root, name) for name in ("code", "pkg", "work"))
        if mode:
            reads = confine.allowed_reads([code, pkg])
            confine.lock_down(read=[code, pkg], write=[work], processes=True, mode=mode)
            limits.confined = True
    except BaseException:  # no student code has run: the grader's failure, not theirs
        os._exit(CONFINE_FAILED)

    def student(requests: int, replies: int) -> None:
        try:
            set_limits({**config, "tasks": tasks})
            privileges.die_with_parent()
            if limits.confined:
                confine.lock_again(reads, [work])
        except BaseException:
            os._exit(CONFINE_FAILED)
        sys.setrecursionlimit(1000)  # the default, whatever the parent had
        sys.path.insert(0, pkg)
        sys.meta_path.insert(0, _Blocker())
        serve(requests, replies)

    Driver(requests_fd, replies_fd, student).run()


if __name__ == "__main__":
    main()
