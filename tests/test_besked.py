"""The FordringTilIndbetaling envelope, KOMBIT's schemas and examples, and push signatures."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from besked_samples import (
    EXTERN_TEST_BESKED,
    RESTDELIVERY_MESSAGE,
    SOURCE_SYSTEM,
    claim,
    envelope,
)
from indbetaling import webhooks
from indbetaling.besked import (
    BESKEDTYPE_FORDRING_TIL_INDBETALING,
    InvalidMessage,
    ObjectAction,
    afsend_besked_input,
    anvendersystem_schema,
    build_envelope,
    kuvert_schema,
    modtag_besked_input,
    modtag_besked_output,
    parse_envelope,
    read_status_code,
)
from indbetaling.fordring import ClaimStatus, LiableParty
from indbetaling.xml_safety import UnsafeXml, parse_xml


def test_built_envelope_is_valid_against_kombit_beskedkuvert() -> None:
    view = claim("urn:oio:cpr-nr:0101800001", "urn:oio:cvr-nr:11223344")
    _, xml = envelope(view)
    kuvert_schema().validate(etree.fromstring(xml))
    anvendersystem_schema().validate(etree.fromstring(modtag_besked_input(xml)))


def test_envelope_round_trips_claim_and_filter_data() -> None:
    view = claim("urn:oio:cpr-nr:0101800001", "urn:oio:cpr-nr:0202800002", restance=5)
    transaction, xml = envelope(view, ObjectAction.AENDRET)
    parsed = parse_envelope(xml)
    assert parsed.besked_id == str(transaction)
    assert parsed.transaction_id == str(transaction)
    assert parsed.source_system == str(SOURCE_SYSTEM)
    assert parsed.filter_data.message_type == BESKEDTYPE_FORDRING_TIL_INDBETALING
    assert [r.object_id for r in parsed.filter_data.related_objects] == [
        "urn:oio:cpr-nr:0101800001",
        "urn:oio:cpr-nr:0202800002",
    ]
    assert {r.role for r in parsed.filter_data.related_objects} == {"Haefter"}
    assert parsed.filter_data.actions == {"Aendret"}
    assert parsed.filter_data.authority_cvrs == {"12345678"}
    assert parsed.claim == view
    assert b"<Restance>0.05</Restance>" in xml


def test_optional_period_fields_are_left_out_when_absent() -> None:
    view = claim()
    view = type(view)(**{**view.__dict__, "payment_period_from": None})
    _, xml = envelope(view)
    assert b"BetalingsperiodeFra" not in xml
    assert parse_envelope(xml).claim == view


@given(
    restance=st.integers(min_value=0, max_value=10**15 - 1),
    status=st.sampled_from(list(ClaimStatus)),
    parties=st.lists(
        st.from_regex(r"\Aurn:oio:cpr-nr:[0-9]{10}\Z"), min_size=1, max_size=4, unique=True
    ),
    period_to=st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
)
def test_any_claim_round_trips(
    restance: int, status: ClaimStatus, parties: list[str], period_to: date | None
) -> None:
    view = claim(*parties, restance=restance, status=status)
    view = type(view)(**{**view.__dict__, "payment_period_to": period_to})
    _, xml = envelope(view)
    assert parse_envelope(xml).claim == view


def test_envelope_wrapped_for_push_and_publish_parses_the_same() -> None:
    view = claim()
    _, xml = envelope(view)
    assert parse_envelope(modtag_besked_input(xml)).claim == view
    assert parse_envelope(afsend_besked_input(xml)).claim == view


def test_kombit_restdelivery_example_parses() -> None:
    parsed = parse_envelope(RESTDELIVERY_MESSAGE.read_bytes())
    assert parsed.besked_id == "248ce14c-a863-4fb5-9e6f-7df9ea850809"
    assert parsed.filter_data.message_type == "c8673551-981e-4be1-b1a6-180cf6fa61f0"
    assert parsed.claim is None


def test_kombit_extern_test_besked_parses() -> None:
    parsed = parse_envelope(EXTERN_TEST_BESKED.read_bytes())
    assert parsed.besked_id == "01157488-c45c-4fd2-b076-1de12effbf66"
    assert parsed.filter_data.related_objects[0].object_id == "urn:oio:cpr-nr:2512484916"
    assert parsed.filter_data.authority_cvrs == {"99999999"}


def test_schema_invalid_envelope_is_refused_with_a_reason() -> None:
    _, xml = envelope(claim())
    broken = xml.replace(b"<kuvert:BeskedVersion>1.0</kuvert:BeskedVersion>", b"")
    with pytest.raises(InvalidMessage, match="skemaet"):
        parse_envelope(broken)


def test_bad_claim_body_is_refused() -> None:
    _, xml = envelope(claim())
    with pytest.raises(InvalidMessage, match="Restance"):
        parse_envelope(xml.replace(b"<Restance>1234.50</Restance>", b"<Restance>1e3</Restance>"))
    with pytest.raises(InvalidMessage, match="PartId"):
        parse_envelope(xml.replace(b">urn:oio:cpr-nr:0101800001</PartId>", b">Hansen</PartId>"))


def test_wrong_root_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="Forventede Haendelsesbesked"):
        parse_envelope(b"<a/>")


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b'<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><a>&b;</a>',
        b"<a>" + b"x" * 2_000_000 + b"</a>",
        b'<!doctype a [<!ENTITY x SYSTEM "http://127.0.0.1:9/">]><a>&x;</a>',
        b"<a><b></a>",
        b"",
    ],
)
def test_hostile_xml_is_refused(hostile: bytes) -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(hostile)
    with pytest.raises(ValueError, match="XML"):
        parse_envelope(hostile)


def test_status_code_is_read_from_an_answer() -> None:
    assert read_status_code(modtag_besked_output(20)) == 20
    assert read_status_code(modtag_besked_output(40, "ugyldig")) == 40
    assert read_status_code(b"<nonsense/>") is None
    assert read_status_code(b"not xml") is None
    anvendersystem_schema().validate(etree.fromstring(modtag_besked_output(40, "x")))


def test_envelope_besked_id_can_differ_from_transaction() -> None:
    besked_id, transaction = uuid.uuid4(), uuid.uuid4()
    xml = build_envelope(
        claim(),
        action=ObjectAction.AFSLUTTET,
        transaction_id=transaction,
        source_system=SOURCE_SYSTEM,
        besked_id=besked_id,
    )
    parsed = parse_envelope(xml)
    assert (parsed.besked_id, parsed.transaction_id) == (str(besked_id), str(transaction))


def test_cvr_party_is_kept() -> None:
    view = claim("urn:oio:cvr-nr:11223344")
    _, xml = envelope(view)
    assert parse_envelope(xml).claim.liable_parties == (  # type: ignore[union-attr]
        LiableParty("urn:oio:cvr-nr:11223344", "PRIMAER"),
    )


# --- signatures ---------------------------------------------------------------------------


@given(msg_id=st.text(min_size=1, max_size=60).filter(str.strip), body=st.binary(max_size=500))
def test_signature_round_trip(msg_id: str, body: bytes) -> None:
    secret = webhooks.make_secret()
    headers = webhooks.signed_headers(secret, msg_id.strip(), 1_700_000_000, body)
    assert webhooks.verify(secret, headers, body, now=1_700_000_100) == msg_id.strip()


@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0, max_value=199))
def test_signature_refuses_tampered_body(body: bytes, flip: int) -> None:
    secret = webhooks.make_secret()
    headers = webhooks.signed_headers(secret, "m", 1_700_000_000, body)
    i = flip % len(body)
    tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(secret, headers, tampered, now=1_700_000_000)


def test_signature_refuses_other_key_stale_future_and_missing() -> None:
    secret = webhooks.make_secret()
    body = b"<x/>"
    headers = webhooks.signed_headers(secret, "m", 1_700_000_000, body)
    with pytest.raises(webhooks.InvalidSignature, match="passer ikke"):
        webhooks.verify(webhooks.make_secret(), headers, body, now=1_700_000_000)
    with pytest.raises(webhooks.InvalidSignature, match="fem minutter"):
        webhooks.verify(secret, headers, body, now=1_700_000_000 + 301)
    with pytest.raises(webhooks.InvalidSignature, match="fem minutter"):
        webhooks.verify(secret, headers, body, now=1_700_000_000 - 301)
    assert webhooks.verify(secret, headers, body, now=1_700_000_300) == "m"
    for missing in (webhooks.HEADER_ID, webhooks.HEADER_TIMESTAMP, webhooks.HEADER_SIGNATURE):
        partial = {k: v for k, v in headers.items() if k != missing}
        with pytest.raises(webhooks.InvalidSignature, match="skal angives"):
            webhooks.verify(secret, partial, body, now=1_700_000_000)


def test_signature_accepts_one_valid_among_several() -> None:
    secret = webhooks.make_secret()
    headers = webhooks.signed_headers(secret, "m", 1_700_000_000, b"b")
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert webhooks.verify(secret, headers, b"b", now=1_700_000_000) == "m"


def test_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        webhooks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
