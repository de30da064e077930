"""How the Beskedfordeler's REST endpoints identify their caller and answer a refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from indbetaling.beskedfordeler.service import BeskedfordelerError
from indbetaling.http_errors import CODE_OF_STATUS, ProblemError

T = TypeVar("T")
CallerResolver = Callable[[Request], str]


class Unauthenticated(Exception):
    """The caller could not be identified."""


def problem(exc: BeskedfordelerError) -> ProblemError:
    """A refused request as the problem document to answer with."""
    status = {44: 404, 43: 403}.get(exc.status, 400)
    return ProblemError(status, CODE_OF_STATUS[status], str(exc))


def call(work: Callable[[], T]) -> T:
    """Run a use case; its refusal becomes the problem document."""
    try:
        return work()
    except BeskedfordelerError as exc:
        raise problem(exc) from None
