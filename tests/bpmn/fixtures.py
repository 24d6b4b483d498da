"""Small inline models for parser and validator tests: a process body wrapped in definitions."""

from __future__ import annotations

from pathlib import Path

from bpmn.loader import LoadResult, load_model

NAMESPACES = (
    'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:flowable="http://flowable.org/bpmn"'
)
SPIFF = 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'


def wrap(body: str, attributes: str = "") -> str:
    # The body starts on line 2, so a test can count lines from its own text.
    return (f'<definitions {NAMESPACES} id="defs" targetNamespace="http://example.com" '
            f"{attributes}>{body}\n</definitions>\n")


def load(body: str, attributes: str = "") -> LoadResult:
    return load_model(wrap(body, attributes).encode("utf-8"), source="test.bpmn")


def write_model(path: Path, body: str) -> Path:
    path.write_text(wrap(body), encoding="utf-8")
    return path
