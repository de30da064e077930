"""zeep as the client, the way a fagsystem vendor would use it."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import httpx
import requests
import zeep
from zeep.transports import Transport


def zeep_client(wsdl_url: str, token: str | None = None) -> zeep.Client:
    """A zeep client of our served WSDL; fails the test on any warning while loading it."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = zeep.Client(
            wsdl_url,
            settings=zeep.Settings(forbid_external=True, strict=True, xml_huge_tree=False),
            transport=Transport(session=session, timeout=30, operation_timeout=30),
        )
    assert [str(w.message) for w in caught] == []
    return client


def kombit_headers(cvr: str, transaction: uuid.UUID | None = None, **call_context: str) -> Any:
    headers: dict[str, Any] = {
        "RequestHeader": {"TransactionUUID": str(transaction or uuid.uuid4())},
        "AuthorityContext": {"MunicipalityCVR": cvr},
    }
    if call_context:
        headers["CallContext"] = call_context
    return headers


def fetch_token(base_url: str, client_id: str, client_secret: str, entity_id: str, cvr: str) -> str:
    """An access token from the platform's token service (client_secret), or fail the test."""
    answer = httpx.post(
        f"{base_url}/sts/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": f"entityid:{entity_id},anvenderkontekst:{cvr}",
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])
