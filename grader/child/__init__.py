"""Everything that runs inside the confined child process, and nothing else.

``worker`` interprets the grader's programs against the student's package; ``runner``
runs a student's own tests with pytest; ``confine`` locks the process down first
(namespaces, no capabilities, Landlock, seccomp). The sandbox copies this package
(with ``grader/optable.py``, which the worker reads) into each child's folder: only
the standard library may be imported here. The grader's side of the protocol lives in
``grader/sandbox.py``.
"""
