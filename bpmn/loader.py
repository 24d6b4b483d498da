"""Bytes of a BPMN file -> model + diagnostics. The one entry point for reading a model."""

from __future__ import annotations

from dataclasses import dataclass

from bpmn import diagnostics as diag
from bpmn.model import BPMN_NS, Definitions
from bpmn.parser import build_definitions
from bpmn.parser.extensions import local, namespace
from bpmn.validate import validate
from bpmn.xml import XmlLimits, XmlRefused, parse_xml

# Namespaces of BPMN 2.0 drafts that some old tools still write; we name them in the error.
_DRAFT_NAMESPACES = ("http://schema.omg.org/spec/BPMN/2.0", "http://www.omg.org/bpmn20")


@dataclass(frozen=True, slots=True)
class LoadResult:
    source: str
    definitions: Definitions | None
    diagnostics: tuple[diag.Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is an error (warnings allowed): the model may be deployed."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> tuple[diag.Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


def load_model(data: bytes, *, source: str = "<upload>",
               limits: XmlLimits | None = None) -> LoadResult:
    """Read and validate one BPMN file. Never raises for bad input: whatever is wrong comes
    back as diagnostics with a code, the element id and the line."""
    try:
        root = parse_xml(data, limits=limits)
    except XmlRefused as refused:
        return LoadResult(source, None, (diag.error(refused.code, refused.message, None,
                                                    refused.line),))
    tag_ns, tag_name = namespace(root.tag), local(root.tag)
    if tag_ns != BPMN_NS or tag_name != "definitions":
        if tag_name == "definitions" and tag_ns in _DRAFT_NAMESPACES:
            hint = (f"it uses the pre-release BPMN 2.0 namespace {tag_ns!r}; re-export it "
                    f"from a current modeler ({BPMN_NS!r})")
        elif tag_ns == BPMN_NS:
            hint = (f"its root element is <{tag_name}>; a BPMN file starts with "
                    f"<definitions>")
        else:
            hint = f"its root element is {{{tag_ns}}}{tag_name}, not BPMN <definitions>"
        return LoadResult(source, None, (diag.error(
            "bpmn.not-bpmn", f"not a BPMN 2.0 model: {hint}", root.get("id"),
            root.sourceline),))
    try:
        definitions, found = build_definitions(root)
        found.extend(validate(definitions))
    except Exception as exc:  # a bug of ours must not become a traceback for the user
        return LoadResult(source, None, (diag.error(
            "bpmn.internal", f"the parser failed on this file ({type(exc).__name__}: {exc}); "
            "please report it with the file", None, None),))
    found.sort(key=lambda d: (d.line or 0, d.code))
    return LoadResult(source, definitions, tuple(found))
