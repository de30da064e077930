"""What every HTTP part answers when something goes wrong: a clear JSON problem, never a stack
trace, never a 500 for bad input."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger("indbetaling")


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={"FejlKode": "UGYLDIG_FORESPOERGSEL", "FejlTekst": "; ".join(problems)},
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            status_code=500,
            content={"FejlKode": "INTERN_FEJL", "FejlTekst": "Intern fejl; prøv igen senere"},
        )
