"""The one error shape of every HTTP part: an RFC 9457 problem document that carries the
project's `FejlKode` and a Danish `FejlTekst`, never a stack trace, never a 500 for bad input.

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "Fordringen findes ikke", "FejlKode": "FORDRING_UKENDT",
     "FejlTekst": "Fordringen findes ikke"}

Code that refuses a request raises `ProblemError(status, FejlKode, FejlTekst)`; a plain
`HTTPException` (FastAPI's own 404/405, a dependency's 401) and a request FastAPI cannot
validate become the same shape, with a FejlKode chosen by status. `document_problems` makes the
OpenAPI description say so for every error answer of every operation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from indbetaling.http_body import BodyRefused
from indbetaling.ids import mask_cpr_in_text

log = logging.getLogger("indbetaling")

PROBLEM_MEDIA_TYPE = "application/problem+json"
MAX_TEXT = 1000

CODE_OF_STATUS: Mapping[int, str] = {
    400: "UGYLDIG_FORESPOERGSEL",
    401: "IKKE_AUTENTIFICERET",
    403: "ADGANG_NAEGTET",
    404: "IKKE_FUNDET",
    405: "METODE_IKKE_TILLADT",
    409: "KONFLIKT",
    413: "FORESPOERGSEL_FOR_STOR",
    415: "MEDIETYPE_IKKE_UNDERSTOETTET",
    422: "UGYLDIG_FORESPOERGSEL",
    429: "FOR_MANGE_FORESPOERGSLER",
    500: "INTERN_FEJL",
    503: "IKKE_TILGAENGELIG",
}


class Problem(BaseModel):
    """RFC 9457 problem details, with the project's error code and Danish text."""

    type: str = Field(default="about:blank", description="RFC 9457: about:blank")
    title: str = Field(description="The HTTP status phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What is wrong (the same text as FejlTekst)")
    FejlKode: str = Field(description="The error code, e.g. FORDRING_UKENDT")
    FejlTekst: str = Field(description="What is wrong, in Danish, for a person")


class ProblemError(StarletteHTTPException):
    """Raise to refuse a request with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        text: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail=text, headers=headers)
        self.code = code
        self.text = text


def problem_body(status: int, code: str | None, text: str) -> dict[str, Any]:
    """The problem document as a dict (CPR numbers masked, text bounded)."""
    safe = mask_cpr_in_text(text)[:MAX_TEXT]
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return Problem(
        title=title,
        status=status,
        detail=safe,
        FejlKode=code or CODE_OF_STATUS.get(status, "FEJL"),
        FejlTekst=safe,
    ).model_dump()


def problem_response(
    status: int,
    code: str | None,
    text: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem document as the answer; `code` None picks one by status."""
    return JSONResponse(
        problem_body(status, code, text),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _from_http_exception(exc: StarletteHTTPException) -> JSONResponse:
    if isinstance(exc, ProblemError):
        return problem_response(exc.status_code, exc.code, exc.text, exc.headers)
    detail: Any = exc.detail
    if isinstance(detail, Mapping) and "FejlKode" in detail:
        code, text = str(detail["FejlKode"]), str(detail.get("FejlTekst", ""))
    else:
        code, text = None, str(detail) if detail else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, code, text, exc.headers)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allow_only(router: APIRouter, path: str, allowed: Collection[str]) -> None:
    """Answer every other method on `path` 405 with an `Allow` header naming all of `allowed`:
    where two routes share a path (GET and POST), Starlette's own 405 names only one of them."""
    allow = ", ".join(sorted(allowed))

    @router.api_route(
        path,
        methods=[m for m in HTTP_METHODS if m not in allowed],
        include_in_schema=False,
    )
    def not_allowed() -> None:
        raise ProblemError(405, "METODE_IKKE_TILLADT", "Metoden er ikke tilladt", {"Allow": allow})


def validation_text(exc: RequestValidationError) -> str:
    """What FastAPI could not accept, field by field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg', '')}"
        for e in exc.errors()
    )


def install(app: FastAPI) -> None:
    """Answer every error of `app` with a problem document, and document them in its OpenAPI."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _from_http_exception(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "UGYLDIG_FORESPOERGSEL", validation_text(exc))

    @app.exception_handler(BodyRefused)
    async def body_refused(_request: Request, exc: BodyRefused) -> JSONResponse:
        return problem_response(exc.http_status, None, str(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "internal error on %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return problem_response(500, "INTERN_FEJL", "Intern fejl; prøv igen senere")

    document_problems(app)


def document_problems(
    app: FastAPI, prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> None:
    """Make every operation of `app`'s OpenAPI describe its errors as one `Problem` shape;
    `prepare`, when given, first reshapes the description FastAPI made."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            servers=app.servers,
        )
        app.openapi_schema = with_problems(prepare(schema) if prepare else schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every 4xx/5xx answer (and a default one) described as `Problem`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for status in [s for s in responses if not s.startswith(("1", "2", "3"))]:
                description = responses[status].get("description") or "Fejl"
                if description == "Validation Error":
                    description = "Ugyldig forespørgsel"
                responses[status] = {
                    "description": description,
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}},
                }
            responses.setdefault(
                "default",
                {
                    "description": "Fejl: et problemdokument (RFC 9457) med FejlKode og FejlTekst",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}},
                },
            )
    return schema
