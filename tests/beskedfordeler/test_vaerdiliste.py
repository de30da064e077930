"""Value lists over SOAP (KOMBIT's `VaerdilisteOperationer.xsd`) and over the REST mirror.

Requests are KOMBIT's own examples from `example_messages/vaerdiliste_*.xml` where they exist
(Opret, TilfoejVaerdier, List, Slet), and built after the XSD otherwise (FjernVaerdier, Laes,
Soeg). Every answer is validated against KOMBIT's XSD.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from lxml import etree

from besked_samples import VAERDILISTE_EXAMPLES
from conftest import FAGSYSTEM_A, FAGSYSTEM_B, as_system, assert_problem
from indbetaling.besked import SD_NS, vaerdiliste_schema
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.service import Beskedfordeler
from indbetaling.beskedfordeler.vaerdiliste_soap import SOAP_ENV_NS, VL_NS

pytestmark = pytest.mark.anyio
EXAMPLE_LIST_ID = "45e3b4b2-536b-4c00-84a3-7a7727ee5e7c"  # the id KOMBIT's examples refer to
OPRET_VALUES = sorted(
    {"List_1", "List_2", "List_3", "List_4", "List_5", "List_6", "List_7"}
    | {"List_8", "List_9", "a", "b", "c"}
)
ADDED = ["00000000-3333-4444-0000-000000000010", "00000000-5555-0000-0000-000000000010"]
V, S = f"{{{VL_NS}}}", f"{{{SD_NS}}}"


def example(name: str, list_id: str | None = None) -> bytes:
    xml = (VAERDILISTE_EXAMPLES / f"vaerdiliste_{name}.xml").read_bytes()
    return xml if list_id is None else xml.replace(EXAMPLE_LIST_ID.encode(), list_id.encode())


def soap(operation: bytes) -> bytes:
    """A request in a SOAP 1.1 envelope (without its XML declaration)."""
    body = operation.split(b"?>", 1)[1] if operation.startswith(b"<?xml") else operation
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>'.encode()
        + body
        + b"</soapenv:Body></soapenv:Envelope>"
    )


def built(operation: str, inner: str) -> bytes:
    return (
        f'<vl:{operation} xmlns:vl="{VL_NS}" xmlns:sd="{SD_NS}">{inner}</vl:{operation}>'
    ).encode()


async def call(client: httpx.AsyncClient, request: bytes, who: str = FAGSYSTEM_A) -> etree._Element:
    """POST a request; return the answer's operation element, valid against KOMBIT's XSD."""
    response = await client.post(
        "/beskedfordeler/Vaerdiliste", content=request, headers=as_system(who)
    )
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{SOAP_ENV_NS}}}Envelope"
    (output,) = root.find(f"{{{SOAP_ENV_NS}}}Body")  # type: ignore[misc]
    vaerdiliste_schema().validate(output)
    return output


def status(output: etree._Element) -> int:
    return int(output.findtext(f"{S}StandardRetur/{S}StatusKode") or 0)


def values_in(result: etree._Element) -> list[str]:
    return [v.text or "" for v in result.iter(f"{V}Vaerdi")]


async def test_every_operation_over_soap(bf: Beskedfordeler, client: httpx.AsyncClient) -> None:
    opret = await call(client, soap(example("opret")))
    assert etree.QName(opret).localname == "OpretOutput"
    assert status(opret) == 20
    list_id = opret.findtext(f"{V}Vaerdiliste/{S}UUIDIdentifikator") or ""
    assert values_in(opret) == OPRET_VALUES  # the example's duplicate List_8 kept once
    info = (await asyncio.to_thread(service.list_value_lists, bf, [list_id]))[0]
    assert (info.name, info.owner_id, info.note, info.size) == (
        "List 4003",
        FAGSYSTEM_A,
        "Example note text",
        12,
    )

    tilfoej = await call(client, soap(example("tilfoejvaerdier", list_id)))
    assert (etree.QName(tilfoej).localname, status(tilfoej)) == ("TilfoejVaerdierOutput", 20)
    assert await asyncio.to_thread(service.lists_holding, bf, [list_id], ADDED[:1]) == {list_id}

    fjern_request = built(
        "FjernVaerdierInput",
        f"<sd:UUIDIdentifikator>{list_id}</sd:UUIDIdentifikator>"
        "<vl:Vaerdier>List_1</vl:Vaerdier><vl:Vaerdier>a</vl:Vaerdier>",
    )
    fjern = await call(client, soap(fjern_request))
    assert (etree.QName(fjern).localname, status(fjern)) == ("FjernVaerdierOutput", 20)

    laes = await call(
        client, soap(built("LaesInput", f"<sd:UUIDIdentifikator>{list_id}</sd:UUIDIdentifikator>"))
    )
    assert (etree.QName(laes).localname, status(laes)) == ("LaesOutput", 20)
    expected = sorted((set(OPRET_VALUES) - {"List_1", "a"}) | set(ADDED))
    assert values_in(laes) == expected
    assert laes.findtext(f".//{V}Navn") == "List 4003"

    listed = await call(
        client,
        soap(example("list").replace(b"00000000-0000-0000-0000-000000000001", list_id.encode())),
    )
    assert (etree.QName(listed).localname, status(listed)) == ("ListOutput", 20)
    results = listed.findall(f"{V}LaesResultat")
    assert len(results) == 1  # the example's other ids are unknown here
    assert values_in(results[0]) == expected

    other = await asyncio.to_thread(service.create_value_list, bf, FAGSYSTEM_B, "Other", ["x"])
    soeg_request = built(
        "SoegInput",
        "<sd:FoersteResultatReference>0</sd:FoersteResultatReference>"
        "<sd:MaksimalAntalKvantitet>10</sd:MaksimalAntalKvantitet>"
        "<vl:SoegObjekt><vl:SoegAttributListe><vl:SoegEgenskab><vl:Vaerdiliste>"
        "<vl:Navn>List 4003</vl:Navn></vl:Vaerdiliste></vl:SoegEgenskab></vl:SoegAttributListe>"
        "</vl:SoegObjekt>",
    )
    soeg = await call(client, soap(soeg_request))
    assert (etree.QName(soeg).localname, status(soeg)) == ("SoegOutput", 20)
    assert [u.text for u in soeg.iter(f"{S}UUIDIdentifikator")] == [list_id]
    soeg_all = await call(client, soap(built("SoegInput", "")))
    assert [u.text for u in soeg_all.iter(f"{S}UUIDIdentifikator")] == [list_id]
    soeg_other = await call(client, soap(built("SoegInput", "")), who=FAGSYSTEM_B)
    assert [u.text for u in soeg_other.iter(f"{S}UUIDIdentifikator")] == [other]

    slet = await call(client, soap(example("slet", list_id)))
    assert (etree.QName(slet).localname, status(slet)) == ("SletOutput", 20)
    assert await asyncio.to_thread(service.list_value_lists, bf, [list_id]) == []
    again = await call(client, soap(example("slet", list_id)))
    assert status(again) == 44


async def test_bare_operation_without_soap_envelope_is_answered_too(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    opret = await call(client, example("opret"))
    assert status(opret) == 20
    assert len(await asyncio.to_thread(service.search_value_lists, bf)) == 1


async def test_another_it_systems_list_is_answered_like_an_unknown_one(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    list_id = await asyncio.to_thread(
        service.create_value_list, bf, FAGSYSTEM_A, "A's", ["urn:oio:cpr-nr:0101800001"]
    )
    unknown = "00000000-0000-4000-8000-0000000000ff"
    by_id = "<sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator>"
    for make in (
        lambda i: example("tilfoejvaerdier", i),
        lambda i: example("slet", i),
        lambda i: built("LaesInput", by_id.format(i)),
    ):
        answers = [await call(client, soap(make(i)), who=FAGSYSTEM_B) for i in (list_id, unknown)]
        texts = [a.findtext(f"{S}StandardRetur/{S}FejlbeskedTekst") or "" for a in answers]
        assert [status(a) for a in answers] == [44, 44]
        assert texts[0] == texts[1].replace(unknown, list_id)
        assert "0101800001" not in etree.tostring(answers[0]).decode()
    listed = await call(client, soap(built("ListInput", by_id.format(list_id))), who=FAGSYSTEM_B)
    assert (status(listed), listed.findall(f"{V}LaesResultat")) == (20, [])
    found = await call(client, soap(built("SoegInput", "")), who=FAGSYSTEM_B)
    assert list(found.iter(f"{S}UUIDIdentifikator")) == []
    assert (await asyncio.to_thread(service.list_value_lists, bf, [list_id]))[0].size == 1


@pytest.mark.parametrize(
    ("request_body", "reason"),
    [
        (b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', "DOCTYPE"),
        (
            b'<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]><a>&b;</a>',
            "DOCTYPE",
        ),
        (b"<vl:OpretInput", "velformet"),
        (b"", "tom"),
        (soap(b"<Nonsense/>"), "Ukendt værdiliste-operation"),
        (soap(b'<vl:OpretInput xmlns:vl="' + VL_NS.encode() + b'"/>'), "skemaet"),
        (
            soap(built("LaesInput", "<sd:UUIDIdentifikator>x</sd:UUIDIdentifikator><extra/>")),
            "skemaet",
        ),
    ],
)
async def test_hostile_or_invalid_xml_is_refused_and_changes_nothing(
    bf: Beskedfordeler, client: httpx.AsyncClient, request_body: bytes, reason: str
) -> None:
    answer = await call(client, request_body)
    assert status(answer) == 40
    assert reason in (answer.findtext(f"{S}StandardRetur/{S}FejlbeskedTekst") or "")
    assert await asyncio.to_thread(service.search_value_lists, bf) == []


async def test_oversized_request_is_refused_before_parsing(
    bf: Beskedfordeler, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/beskedfordeler/Vaerdiliste",
        content=b"<a>" + b"x" * 16_000_000 + b"</a>",
        headers=as_system(FAGSYSTEM_A),
    )
    assert "16000000 bytes" in assert_problem(response, 413, "FORESPOERGSEL_FOR_STOR")
    assert await asyncio.to_thread(service.search_value_lists, bf) == []


async def test_value_list_endpoints_need_a_caller(client: httpx.AsyncClient) -> None:
    soap = await client.post("/beskedfordeler/Vaerdiliste", content=example("opret"))
    assert_problem(soap, 401, "IKKE_AUTENTIFICERET")
    rest = await client.get("/beskedfordeler/vaerdilister")
    assert_problem(rest, 401, "IKKE_AUTENTIFICERET")


async def test_rest_mirror(bf: Beskedfordeler, client: httpx.AsyncClient) -> None:
    a, b = as_system(FAGSYSTEM_A), as_system(FAGSYSTEM_B)
    made = await client.post(
        "/beskedfordeler/vaerdilister",
        json={"navn": "Borgere", "note": "n", "vaerdier": ["p1", "p2", "p2"]},
        headers=a,
    )
    assert made.status_code == 201
    list_id = made.json()["id"]
    assert made.json() == {
        "id": list_id,
        "navn": "Borgere",
        "ejer": FAGSYSTEM_A,
        "antal": 2,
        "vaerdier": None,
    }
    added = await client.post(
        f"/beskedfordeler/vaerdilister/{list_id}/vaerdier", json={"vaerdier": ["p3"]}, headers=a
    )
    assert added.json()["antal"] == 3
    removed = await client.post(
        f"/beskedfordeler/vaerdilister/{list_id}/fjern", json={"vaerdier": ["p1"]}, headers=a
    )
    assert removed.json()["antal"] == 2
    read = await client.get(f"/beskedfordeler/vaerdilister/{list_id}", headers=a)
    assert read.json()["vaerdier"] == ["p2", "p3"]
    found = await client.get("/beskedfordeler/vaerdilister", params={"navn": "Borgere"}, headers=a)
    assert found.json() == [list_id]
    not_b = await client.get("/beskedfordeler/vaerdilister", params={"navn": "Borgere"}, headers=b)
    assert not_b.json() == []
    unknown = "00000000-0000-4000-8000-0000000000ff"
    for path in (list_id, unknown):
        hidden = await client.get(f"/beskedfordeler/vaerdilister/{path}", headers=b)
        text = assert_problem(hidden, 404, "IKKE_FUNDET")
        assert text == f"Værdilisten {path} findes ikke"
        assert "p2" not in hidden.text

    foreign = await client.post(
        f"/beskedfordeler/vaerdilister/{list_id}/vaerdier", json={"vaerdier": ["x"]}, headers=b
    )
    assert assert_problem(foreign, 404, "IKKE_FUNDET") == f"Værdilisten {list_id} findes ikke"
    too_long = await client.post(
        f"/beskedfordeler/vaerdilister/{list_id}/vaerdier",
        json={"vaerdier": ["x" * 201]},
        headers=a,
    )
    assert "1 til 200 tegn" in assert_problem(too_long, 400, "UGYLDIG_FORESPOERGSEL")
    not_json = await client.post(
        f"/beskedfordeler/vaerdilister/{list_id}/vaerdier", content=b"<x/>", headers=a
    )
    assert_problem(not_json, 422, "UGYLDIG_FORESPOERGSEL")
    assert (await asyncio.to_thread(service.read_value_list, bf, list_id))[1] == [
        "p2",
        "p3",
    ]  # nothing of that changed

    refused = await client.delete(f"/beskedfordeler/vaerdilister/{list_id}", headers=b)
    assert_problem(refused, 404, "IKKE_FUNDET")
    assert (
        await client.delete(f"/beskedfordeler/vaerdilister/{list_id}", headers=a)
    ).status_code == 204
    missing = await client.get(f"/beskedfordeler/vaerdilister/{list_id}", headers=a)
    assert assert_problem(missing, 404, "IKKE_FUNDET").startswith("Værdilisten")


def test_values_with_backslashes_and_tabs_are_kept_as_given(bf: Beskedfordeler) -> None:
    odd = ["a\\b", "c\td", "e\\nf", "urn:oio:cpr-nr:0101800001"]
    list_id = service.create_value_list(bf, FAGSYSTEM_A, "odd", odd)
    assert service.read_value_list(bf, list_id)[1] == sorted(odd)
    assert service.add_values(bf, list_id, ["c\td", "g\\"]) == 1
    assert service.lists_holding(bf, [list_id], ["g\\"]) == {list_id}
