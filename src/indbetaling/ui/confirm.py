"""The confirm step every changing form has: the form → a confirm page that repeats what will
happen → `Bekræft` POSTs the same fields again (with the same idempotency key where the change
goes through one) → the change, then the thing's page.

Both POSTs read and check the form alike; when it does not hold, the answer is the form again
with what is wrong (`FormRefused`, 422). The confirm page makes the key (`new_key`) and carries
it in a hidden field (the `confirm_form` macro); the second POST reads it (`key_of`), so a
repeated `Bekræft` is the same change, made once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from starlette.datastructures import FormData
from starlette.responses import Response

from indbetaling.ids import InvalidId, parse_uuid
from indbetaling.ui.access import PageError, field

T = TypeVar("T")
KEY_FIELD = "noegle"


class FormRefused(Exception):
    """A form's fields do not hold: the answer is `page`, the form again showing what is
    wrong. The pages' route class answers with it."""

    def __init__(self, page: Response) -> None:
        super().__init__(page.status_code)
        self.page = page


def checked(
    found: tuple[T | None, dict[str, str]], form_page: Callable[[dict[str, str]], Response]
) -> T:
    """What a check found, or `FormRefused` with `form_page(errors)`."""
    value, errors = found
    if value is None:
        raise FormRefused(form_page(errors))
    return value


def new_key() -> str:
    """The idempotency key a confirm page carries to its `Bekræft`."""
    return str(uuid.uuid4())


def key_of(form: FormData, title: str) -> str:
    """The confirm page's key, back in its `Bekræft`; a 400 page (`title`) without it."""
    try:
        return str(parse_uuid(field(form, KEY_FIELD, 60), "Nøglen"))
    except InvalidId:
        raise PageError(400, title, "Bekræftelsen mangler sin nøgle; prøv igen.") from None
