"""junit.xml: one test suite per lab, one test case per check, for CI test viewers."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from grader.render.model import ReportModel, check_output, of
from grader.results import FAILED, GRADER_ERROR, NOT_RUN, Graded


def junit(report: ReportModel | Graded) -> ET.Element:
    m = of(report)
    suites = ET.Element("testsuites", name=f"minigrad {m.name}")
    if m.likely:  # the report's headline, as JUnit's properties carry it
        properties = ET.SubElement(suites, "properties")
        ET.SubElement(
            properties, "property", name="most_likely_mistake", value=m.likely["explanation"]
        )
    for lab in m.graded.labs:
        mine = [o for o in m.outcomes if o.lab == lab]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=lab,
            tests=str(len(mine)),
            failures=str(sum(o.status == FAILED for o in mine)),
            errors=str(sum(o.status == GRADER_ERROR for o in mine)),
            skipped=str(sum(o.status == NOT_RUN for o in mine)),
        )
        for o in mine:
            case = ET.SubElement(suite, "testcase", classname=lab, name=f"{o.id}: {o.name}")
            if o.status == FAILED:
                ET.SubElement(case, "failure", message=o.summary).text = check_output(o)
            elif o.status == GRADER_ERROR:
                ET.SubElement(case, "error", message=o.summary)
            elif o.status == NOT_RUN:
                ET.SubElement(case, "skipped", message=o.summary)
    return suites
