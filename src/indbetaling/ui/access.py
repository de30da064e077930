"""Who is signed in, what they may open, and forms that are theirs (CSRF).

`WebAccess` is what every part's pages get from the composition root: the session cookie's
codec and the users. A page asks `require` for the user it needs; a form handler reads its
fields through `form`, which refuses a POST whose CSRF token is missing or forged before
anything else happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request

from indbetaling.ui.sessions import CSRF_FIELD, Session, SessionCodec, check_csrf
from indbetaling.ui.users import Role, UserDirectory, WebUser

SIGN_IN_PATH = "/log-ind"
SIGN_OUT_PATH = "/log-ud"
MAX_FORM_FIELDS = 50


class PageError(Exception):
    """A refusal the page shows as it is: a status, a heading and a Danish text."""

    def __init__(self, status: int, title: str, text: str, code: str | None = None) -> None:
        super().__init__(f"{status} {code or ''}: {text}")
        self.status = status
        self.title = title
        self.text = text
        self.code = code


class SignInRequired(Exception):
    """Nobody is signed in: the answer is the sign-in page, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        return f"{SIGN_IN_PATH}?naeste={quote(safe_next(self.next_path), safe='/')}"


CSRF_REFUSED = PageError(
    403,
    "Formularen kunne ikke godkendes",
    "Formularens sikkerhedsnøgle mangler eller passer ikke til din session, så intet er "
    "ændret. Gå tilbage, genindlæs siden og prøv igen.",
    "CSRF_UGYLDIG",
)


def safe_next(path: str | None) -> str:
    """A path on this site to go on to after signing in; anything else is `/`."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@dataclass(frozen=True)
class WebAccess:
    sessions: SessionCodec
    directory: UserDirectory

    def session(self, request: Request) -> Session:
        return self.sessions.session(request)

    def user(self, request: Request) -> WebUser | None:
        session = self.session(request)
        if session.user is not None:
            return session.user
        return None if session.username is None else self.directory.find(session.username)

    def require(self, request: Request, role: Role, scope: str | None = None) -> WebUser:
        """The signed-in user, who must work as `role` in `scope`."""
        user = self.user(request)
        if user is None:
            target = request.url.path if request.method == "GET" else "/"
            if request.method == "GET" and request.url.query:
                target += f"?{request.url.query}"
            raise SignInRequired(target)
        if not user.may(role, scope):
            raise PageError(
                403,
                "Ingen adgang",
                f"Du er logget ind som {user.name} ({user.role_text}) og har ikke adgang "
                "til denne side.",
                "IKKE_ADGANG",
            )
        return user

    async def form(self, request: Request) -> FormData:
        """The POSTed form, once its CSRF token is the session's."""
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        if not check_csrf(self.session(request), form.get(CSRF_FIELD)):
            raise CSRF_REFUSED
        return form


def field(form: FormData, name: str, max_length: int = 200) -> str:
    """A form field's text (empty when missing), cut to `max_length`."""
    value = form.get(name)
    return value[:max_length] if isinstance(value, str) else ""
