"""The only place untrusted XML is parsed: a hardened lxml parser with size and depth limits.

Uploaded models are untrusted input. We refuse any DOCTYPE before libxml2 sees the
document (no entity, no DTD, no external reference can exist without one), parse with
entity resolution, DTD loading and network access switched off, and bound both the byte
size and the element nesting depth. Every element keeps its `sourceline`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Real BPMN nests about 20 levels deep (definitions/process/subProcess/.../camunda:entry);
# libxml2 itself stops at 256 without huge_tree, so a limit below that gives our message.
DEFAULT_MAX_DEPTH = 200

# How much of the document start we decode to look for a DOCTYPE before the root element.
_PROLOG_WINDOW = 64 * 1024
_PROLOG_FIRST_LOOK = 2048


@dataclass(frozen=True, slots=True)
class XmlLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


class XmlRefused(Exception):
    """The bytes are not a document we will read. `code` is stable, `line` 1-based or None."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line


def _parser() -> etree.XMLParser:
    # A parser instance is not thread-safe in lxml; make one per call (cheap).
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _guess_encoding(data: bytes) -> str:
    """The encoding of the document start, as XML 1.0 Appendix F describes it."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    if data.startswith(b"<\x00?\x00"):
        return "utf-16-le"
    if data.startswith(b"\x00<\x00?"):
        return "utf-16-be"
    match = _DECLARED_ENCODING.match(data)
    if match:
        name = match.group(1).decode("ascii")
        try:
            codecs.lookup(name)
        except LookupError:
            return "utf-8"
        return name
    return "utf-8"


def _prolog(data: bytes) -> str | None:
    """The decoded text before the root element's start tag (comments and PIs skipped),
    or None when the prolog does not end within the first `_PROLOG_WINDOW` bytes."""
    encoding = _guess_encoding(data)
    # Most prologs are a line or two: look at a small window first, the full one if needed.
    for size in (_PROLOG_FIRST_LOOK, _PROLOG_WINDOW):
        window = data[:size]
        prolog = _scan_prolog(window.decode(encoding, errors="replace"))
        if prolog is not None or len(window) == len(data):
            break
    if prolog is None and len(window) == len(data):
        return window.decode(encoding, errors="replace")
    return prolog


def _scan_prolog(text: str) -> str | None:
    """The text up to the root start tag, or None if `text` ends before it."""
    pos = 0
    while True:
        start = text.find("<", pos)
        if start < 0:
            break
        if text.startswith("<?", start):
            end = text.find("?>", start)
        elif text.startswith("<!--", start):
            end = text.find("-->", start)
        elif start + 9 > len(text):
            return None  # the window cuts what could be "<!DOCTYPE": look further
        else:
            return text[:start + 9]
        if end < 0:
            return None
        pos = end + 2
    return None


@lru_cache(maxsize=8)
def _depth_probe(max_depth: int) -> etree.XPath:
    return etree.XPath("/*" * (max_depth + 1))


def _line_of(data: bytes, needle_index: int) -> int:
    return data.count(b"\n", 0, needle_index) + 1


def parse_xml(data: bytes, *, limits: XmlLimits | None = None) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise XmlRefused saying why and where."""
    limits = limits or XmlLimits()
    if len(data) > limits.max_bytes:
        raise XmlRefused(
            "xml.too-large",
            f"file is {len(data):,} bytes; the limit is {limits.max_bytes:,} bytes",
        )
    if not data or data.isspace():
        raise XmlRefused("xml.empty", "file is empty", 1)

    prolog = _prolog(data)
    if prolog is None:
        raise XmlRefused(
            "xml.prolog-too-long",
            f"no root element within the first {_PROLOG_WINDOW // 1024} KB (only comments, "
            "processing instructions or blank space before it)", 1)
    if "<!DOCTYPE" in prolog.upper():
        index = data.upper().find(b"<!DOCTYPE")
        line = _line_of(data, index) if index >= 0 else None
        raise XmlRefused(
            "xml.doctype",
            "DOCTYPE declarations are not allowed (they can define entities or load "
            "external files); remove the <!DOCTYPE ...> line",
            line,
        )

    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        message = (exc.msg or str(exc)).strip()
        if "Excessive depth" in message:  # libxml2's own bound, without huge_tree
            raise XmlRefused("xml.too-deep", f"elements are nested more than "
                             f"{limits.max_depth} levels deep", line) from None
        raise XmlRefused("xml.syntax", f"not well-formed XML: {message}", line) from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown declared encoding
        raise XmlRefused("xml.syntax", f"not readable XML: {exc}", 1) from None
    if root is None:
        raise XmlRefused("xml.empty", "no root element", 1)
    # An element at depth max_depth + 1, found by one XPath walk in C (linear in size).
    too_deep = _depth_probe(limits.max_depth)(root.getroottree())
    if too_deep:
        raise XmlRefused("xml.too-deep",
                         f"elements are nested more than {limits.max_depth} levels deep",
                         too_deep[0].sourceline)
    if root.getroottree().docinfo.doctype:
        # Defence in depth: the prolog scan above should have caught it.
        raise XmlRefused("xml.doctype", "DOCTYPE declarations are not allowed", 1)
    return root
