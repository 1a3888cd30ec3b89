"""Alertmanager's webhook, answered ahead of FastAPI for the request that needs nothing
but to be stored: a storm is thousands of such requests a second, and FastAPI's route
matching, dependency solving and middleware cost several times what storing one does.

The fast path does exactly what the route in `api.intake` does for a request whose token
was found valid a moment ago, whose body fits the limits and is a valid notification: the
same access check, the same `accept_notification`. Any other request (no token or one not
yet trusted, a body too large, suspect or invalid, any other path) goes on to the
application unchanged, body included, and is answered there with the reason; nothing is
decided here that the route would decide otherwise."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.access import check_access
from service.api.errors import store_failure
from service.api.intake import accept_notification, source_of, trusted_tokens
from service.api.limits import might_be_refused
from service.app import Dutyd
from service.auth.tables import ApiTokenRow
from service.errors import DutydError, StoreUnavailable
from service.intake.models import AmNotification
from service.intake.rules import IntakeRules, Source

PATH = "/api/v1/intake/alertmanager"


class AlertmanagerFastPath:
    """ASGI middleware in front of the application (`api.app.DutydApi`): serves PATH when
    it can, else hands the request on."""

    def __init__(self, app: ASGIApp, *, dutyd: Dutyd, max_body_bytes: int) -> None:
        self.app, self.dutyd, self.max_body_bytes = app, dutyd, max_body_bytes
        # The last token allowed here, under the intake rules then in force, and the source it
        # reports for: a storm is one token's thousands of requests, each asking the same.
        self._allowed: tuple[ApiTokenRow, IntakeRules, str, Source] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("query_string")  # Alertmanager sends none; the app checks one
        ):
            await self.app(scope, receive, send)
            return
        token = self._trusted_token(scope["headers"])
        if token is None:
            await self.app(scope, receive, send)
            return
        chunks, complete, last = await self._read(receive)
        found = self._notification(token, b"".join(chunks)) if complete else None
        if found is None:
            await self.app(scope, _replaying(chunks, complete, last, receive), send)
            return
        try:
            answer = await accept_notification(self.dutyd, *found)
        except (StoreUnavailable, DBAPIError) as exc:
            answer = store_failure(exc)
        await answer(scope, receive, send)

    def _trusted_token(self, headers: list[tuple[bytes, bytes]]) -> ApiTokenRow | None:
        """The bearer token's row if trusted already, and the body declared within limits."""
        token, seen = None, False
        for name, value in headers:
            if name == b"authorization" and not seen:  # the first, as the route reads it
                seen = True
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and credentials.strip():
                    token = trusted_tokens(self.dutyd).trusted(credentials.strip())
            elif name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body_bytes:
                    return None
        return token

    async def _read(self, receive: Receive) -> tuple[list[bytes], bool, Message | None]:
        """The body's chunks; whether it was read to its end within the limit; and the
        message that ended the reading otherwise (a disconnect), if one did."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return chunks, False, message
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_body_bytes:
                return chunks, False, None
            if not message.get("more_body", False):
                return chunks, True, None

    def _notification(
        self, token: ApiTokenRow, body: bytes
    ) -> tuple[str, Source, AmNotification] | None:
        """What the route would accept: None for anything it would refuse."""
        found = self._source_of(token)
        if found is None or might_be_refused(body):
            return None
        try:
            return *found, AmNotification.model_validate_json(body)
        except ValidationError:
            return None

    def _source_of(self, token: ApiTokenRow) -> tuple[str, Source] | None:
        """The source the token may report for here, as the route decides it; else None."""
        rules, allowed = self.dutyd.intake_rules, self._allowed
        # The same row object: trusted_tokens looks a token up again (a new row) when its
        # trust lapses, so a revoked or changed token is decided afresh.
        if allowed is not None and allowed[0] is token and allowed[1] is rules:
            return allowed[2], allowed[3]
        try:
            check_access("POST", PATH, token)
            name, source = source_of(self.dutyd, token, "alertmanager")
        except DutydError:
            return None
        self._allowed = (token, rules, name, source)
        return name, source


def _replaying(
    chunks: list[bytes], complete: bool, last: Message | None, receive: Receive
) -> Receive:
    """`receive` as if nothing had been read from it yet."""
    pending = list(chunks)
    ending = [last] if last is not None else []

    async def replay() -> Message:
        if pending:
            more = len(pending) > 1 or not complete
            return {"type": "http.request", "body": pending.pop(0), "more_body": more}
        if ending:
            return ending.pop()
        return await receive()

    return replay
