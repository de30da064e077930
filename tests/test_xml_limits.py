"""The hardened parser bounds a document's shape before any schema sees it."""

from __future__ import annotations

import pytest

from indbetaling.soap import SoapFault, parse_xml
from indbetaling.xml_safety import (
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_PER_ELEMENT,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_TEXT_CHARS,
    UnsafeXml,
    XmlLimits,
    check_shape,
)
from indbetaling.xml_safety import parse_xml as parse_untrusted


def _attrs(n: int) -> str:
    return " ".join(f'a{i}="x"' for i in range(n))


def _nested(depth: int) -> bytes:
    return ("<x>" * depth + "</x>" * depth).encode()


HOSTILE = {
    "attributes on one element": (
        f"<r><x {_attrs(MAX_ATTRIBUTES_PER_ELEMENT + 1)}/></r>".encode(),
        "more than 32 attributes on one element",
    ),
    "namespace declarations on one element": (
        ("<r><x " + " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(40)) + "/></r>").encode(),
        "more than 32 attributes on one element",
    ),
    "attributes in all": (
        ("<r>" + f"<x {_attrs(30)}/>" * (MAX_ATTRIBUTES // 30 + 1) + "</r>").encode(),
        f"more than {MAX_ATTRIBUTES} attributes",
    ),
    "elements": (b"<r>" + b"<x/>" * MAX_ELEMENTS + b"</r>", f"more than {MAX_ELEMENTS} elements"),
    "depth": (_nested(MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels deep"),
    "text": (b"<r>" + b"a" * (MAX_TEXT_CHARS + 1) + b"</r>", "longer than"),
    "tail text": (b"<r><x/>" + b"a" * (MAX_TEXT_CHARS + 1) + b"</r>", "longer than"),
    "attribute value": (b'<r a="' + b"a" * (MAX_TEXT_CHARS + 1) + b'"/>', "longer than"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_document_over_a_shape_limit_is_a_client_fault_saying_which(case: str) -> None:
    document, english = HOSTILE[case]
    with pytest.raises(SoapFault) as fault:
        parse_xml(document)
    assert fault.value.code == "Client"
    assert fault.value.http_status == 400
    assert english in fault.value.text
    assert " / " in fault.value.text  # Danish first, then English


def test_a_document_at_every_limit_is_parsed() -> None:
    at_limits = [
        f"<r><x {_attrs(MAX_ATTRIBUTES_PER_ELEMENT)}/></r>".encode(),
        _nested(MAX_DEPTH),
        b"<r>" + b"<x/>" * (MAX_ELEMENTS - 1) + b"</r>",
        b"<r>" + b"a" * MAX_TEXT_CHARS + b"</r>",
    ]
    for document in at_limits:
        assert parse_xml(document) is not None


def test_limits_can_be_narrowed_per_use() -> None:
    tight = XmlLimits(elements=2, attributes_per_element=1, attributes=2, depth=2, text_chars=3)
    root = parse_untrusted(b'<r a="1"><x b="2">abc</x></r>', limits=tight)
    for document in (
        b"<r><x/><y/></r>",
        b'<r a="1" b="2"/>',
        b"<r><x><y/></x></r>",
        b"<r>abcd</r>",
    ):
        with pytest.raises(UnsafeXml):
            parse_untrusted(document, limits=tight)
    check_shape(root, tight)
