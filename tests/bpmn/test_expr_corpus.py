"""Every condition in the shared corpus of real BPMN models parses (bar a short allow-list)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from bpmn.expr import ExpressionError, parse_expression

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CORPUS = Path(
    os.environ.get(
        "BPMN_CORPUS", Path(__file__).resolve().parents[2].parent / "shared" / "bpmn-corpus"
    )
)
TAGS = ("conditionExpression", "completionCondition", "loopCondition")
OMNITRACKER = "http://www.omninet.de/bpmn/expressions/v1"

# Texts in the corpus that are not in any language we read, with the reason. Keyed by
# (expression language as written, or None; text).
NOT_EXPRESSIONS: dict[tuple[str | None, str], str] = {
    (
        None,
        'Vacation Approval = "Approved"',
    ): "MIWG C.8.0 label with no language: FEEL-style name with a space, not Python",
    (
        None,
        'Vacation Approval = "Manual Validation Required"',
    ): "MIWG C.8.0 label with no language: FEEL-style name with a space, not Python",
    (
        None,
        "Service Level == 'Premium'",
    ): "MIWG C.3.0 label: a name with a space and '==' is neither FEEL, XPath nor Python",
    (
        "http://www.w3.org/1999/XPath",
        "Service Level == 'Premium'",
    ): "MIWG C.3.0 label: '==' and a name with a space are not XPath",
    (
        "http://www.w3.org/TR/XPath",
        "Service Level == 'Premium'",
    ): "MIWG C.3.0 label: '==' and a name with a space are not XPath",
    (
        None,
        "bpmn:getDataObject('approved')",
    ): "MIWG C.1.1 XPath whose expressionLanguage the bpmn.io round trip dropped",
    (
        None,
        "bpmn:getDataObject('clarified') = 'yes'",
    ): "MIWG C.1.1 XPath whose expressionLanguage the bpmn.io round trip dropped",
    (
        None,
        "bpmn:getDataObject('clarified') = 'no'",
    ): "MIWG C.1.1 XPath whose expressionLanguage the bpmn.io round trip dropped",
    (
        None,
        "not(bpmn:getDataObject('approved'))",
    ): "MIWG C.1.1 XPath whose expressionLanguage the bpmn.io round trip dropped",
    (
        None,
        "ErrorThrown = false",
    ): "Yaoqiang test model: XPath-style '=' with no language, not Python",
    (
        None,
        "ErrorThrown = true",
    ): "Yaoqiang test model: XPath-style '=' with no language, not Python",
    (
        None,
        "priority = 'Emergency'",
    ): "SpiffWorkflow test model: '=' is assignment in Python, the flow is never taken",
    (
        "JavaScript",
        "next(null, this.environment.services.get_value('passed')=== true);",
    ): "bpmn-engine (Node.js) JavaScript statement calling a callback",
}
# OMNITRACKER's own expression language is proprietary; its exports reuse MIWG labels.
PROPRIETARY_LANGUAGES = {OMNITRACKER: "OMNITRACKER BPMN's proprietary expression language"}


def _conditions() -> list[tuple[str, int, str | None, str]]:
    if not CORPUS.is_dir():
        pytest.fail(f"BPMN corpus not found at {CORPUS} (set BPMN_CORPUS)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    found: list[tuple[str, int, str | None, str]] = []
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix.lower() not in (".bpmn", ".xml") or not path.is_file():
            continue
        try:
            root = etree.parse(str(path), parser).getroot()
        except etree.XMLSyntaxError:
            continue  # broken files are the XML reader's business, not ours
        default_language = root.get("expressionLanguage")
        for tag in TAGS:
            for element in root.iter(f"{{{BPMN}}}{tag}"):
                text = "".join(element.itertext())
                if not text.strip():
                    continue  # an empty condition is no condition
                language = (
                    element.get("language") or element.get("expressionLanguage") or default_language
                )
                found.append(
                    (str(path.relative_to(CORPUS)), element.sourceline or 0, language, text)
                )
    return found


def test_every_condition_in_the_corpus_parses():
    conditions = _conditions()
    assert len(conditions) > 250
    failures = []
    allowed = 0
    for name, line, language, text in conditions:
        try:
            parse_expression(text, expression_language=language)
        except ExpressionError as exc:
            if (language, text.strip()) in NOT_EXPRESSIONS or language in PROPRIETARY_LANGUAGES:
                allowed += 1
                continue
            failures.append(f"{name}:{line} [{language}] {text.strip()!r}: {exc}")
    print(f"{len(conditions)} conditions, {allowed} allow-listed")
    assert failures == [], "\n".join(failures)


def test_allow_list_has_no_stale_entries():
    texts = {(language, text.strip()) for _, _, language, text in _conditions()}
    stale = [key for key in NOT_EXPRESSIONS if key not in texts]
    assert stale == []
    for language, text in NOT_EXPRESSIONS:
        with pytest.raises(ExpressionError):
            parse_expression(text, expression_language=language)
