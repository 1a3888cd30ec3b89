"""Bounds on what a request may carry, enforced before anything parses it at length.

A body longer than `http_max_body_bytes` is refused with 413 as soon as that is known (by
its Content-Length, or while it streams in). A JSON body nested deeper than
MAX_JSON_DEPTH, or holding text that is not Unicode (a lone surrogate such as "\\ud800",
which JSON can spell but no database can store) or a NUL character (which PostgreSQL's
text cannot hold), is refused with 422 naming where; so is a query string with a NUL. The
models' own limits (string and list lengths, ids, page sizes) do the rest.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 32


class BodyTooLarge(Exception):
    pass


def json_problem(value: Any, where: list[str | int], depth: int = 0) -> str | None:
    """What is wrong with a parsed JSON value, or None."""
    if depth > MAX_JSON_DEPTH:
        return f"{'.'.join(map(str, where)) or 'body'}: nested deeper than {MAX_JSON_DEPTH}"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            place = ".".join(map(str, where)) or "body"
            return f"{place}: not valid Unicode text (a lone surrogate)"
        if "\x00" in value:
            place = ".".join(map(str, where)) or "body"
            return f"{place}: contains a NUL character (\\u0000), which text may not hold"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = json_problem(key, [*where, "(key)"], depth + 1) or json_problem(
                item, [*where, key], depth + 1
            )
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = json_problem(item, [*where, index], depth + 1)
            if problem:
                return problem
    return None


# What alone can make a parsed body hold a NUL or a lone surrogate: a \u0000 or \uD800-
# \uDFFF escape, or the raw bytes of a surrogate (json.loads decodes with surrogatepass).
_SUSPECT_TEXT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")


def might_be_refused(body: bytes) -> bool:
    """Whether `json_problem` could find anything in this body once parsed: only a body
    with more brackets than MAX_JSON_DEPTH can nest deeper. Most bodies are not, and are
    then neither parsed nor walked here."""
    too_many_brackets = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    if too_many_brackets:
        return True
    # Plain substring tests first: most bodies hold neither, and these cost less than the
    # pattern (a storm's every request passes here).
    maybe = b"\\u" in body or b"\xed" in body
    return maybe and _SUSPECT_TEXT.search(body) is not None


def _has_nul(query: bytes) -> bool:
    return b"\x00" in query or b"%00" in query


class RequestLimits:
    """ASGI middleware: reads the body once, checks it, hands it on unchanged."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope.get("query_string", b"")):
            await self._refuse(send, 422, "query: contains a NUL character (%00)")
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(send, 413, self._too_large())
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await self._refuse(send, 413, self._too_large())
            return
        is_json = headers.get("content-type", "").startswith("application/json")
        if body and is_json and might_be_refused(body):
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):
                parsed = None  # malformed JSON: FastAPI's own 422 says where
            problem = json_problem(parsed, []) if parsed is not None else None
            if problem:
                await self._refuse(send, 422, problem)
                return
        kind = headers.get("content-type", "")
        forms = ("application/x-www-form-urlencoded", "multipart/form-data")
        # No form here takes a file, so a NUL in a form's text is always a mistake.
        if body and kind.startswith(forms) and _has_nul(body):
            await self._refuse(send, 422, "body: contains a NUL character")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # a disconnect, when the client goes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"

    async def _read(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        kind = "too_large" if status == 413 else "invalid_input"
        body = json.dumps(
            {"detail": [{"loc": ["body"], "msg": message, "type": kind}]}, ensure_ascii=False
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
