"""Render: what grading found, written for people and for tools.

``model`` computes a submission's report once from its ``Graded`` (which sections,
which checks in each, the headline mistake, each failing check's details); the small
renderers turn that one model into ``report.md`` (``markdown``), ``report.html``
(``html``, with ``graph`` drawing a failing graph), ``junit.xml`` (``junit``) and
Gradescope's ``results.json`` (``gradescope``). ``kit`` is the HTML kit every page
shares: escaping, the page shell and tables; ``histogram`` draws the class page's score
distribution (``grader/classview.py``), ``classwords`` the class pages' words.
"""
