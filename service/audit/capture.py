"""Every change of the duty office's records made while someone acts becomes an audit
entry in the same transaction: what rows were added, changed (each column before and
after) or removed, by whom, from where. Installed once on SQLAlchemy's sessions, so no
handler can forget it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from service.audit.context import current_actor
from service.audit.tables import AuditRow

_PENDING = "dutyd.audit.pending"
AUDIT = AuditRow.__table__
_SAVEPOINTS = "dutyd.audit.savepoints"
# Rows that are the machinery's own, or records already (and large): not audited here.
NOT_AUDITED = frozenset(
    {
        "audit_log",
        "messages",
        "message_events",
        "timeline_entries",
        "web_sessions",
        "login_attempts",
        "signing_keys",
        "job_runs",
        "process_heartbeats",
        "machine_reports",
        "recipient_codes",
        "recipient_channels",
        "recipient_events",
    }
)
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "secret_hash", "secret", "csrf_token"})
MAX_VALUE = 500


def plain(value: Any) -> Any:
    """A value as the record keeps it: JSON, times in UTC, long texts cut."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return value[:MAX_VALUE]
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, dict | list):
        text = str(value)
        return value if len(text) <= MAX_VALUE else text[:MAX_VALUE]
    return str(value)[:MAX_VALUE]


def _subject(obj: Any) -> str:
    # The primary key as flushed (a new row's identity is only set after the flush ends).
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    key = ",".join("?" if v is None else str(v) for v in values)
    return f"{obj.__table__.name}:{key}"


def _changed_columns(obj: Any, *, added: bool) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    state = inspect(obj)
    touched, values = state.committed_state, state.dict
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name not in touched:
            continue  # not set since made or loaded: SQLAlchemy keeps no history of it
        if added:  # a new row's history is what was set on it: nothing before
            if name not in values:
                continue
            before, after = None, values[name]
        else:
            history = state.attrs[name].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
        secret = name in SECRET_COLUMNS
        changes[name] = ["(secret)", "(secret)"] if secret else [plain(before), plain(after)]
    return changes


def _collect(session: Session, _: UOWTransaction) -> None:
    if current_actor() is None:
        return
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    kinds = (("added", session.new), ("changed", session.dirty), ("removed", session.deleted))
    for how, objects in kinds:
        for obj in objects:
            table = getattr(obj, "__table__", None)
            if table is None or table.name in NOT_AUDITED:
                continue
            if how == "changed" and not session.is_modified(obj, include_collections=False):
                continue
            columns = _changed_columns(obj, added=how == "added") if how != "removed" else {}
            pending.append({"subject": _subject(obj), "how": how, "columns": columns})


def _append(session: Session) -> None:
    actor = current_actor()
    if actor is None or session.in_nested_transaction():
        return  # a savepoint's changes are in the entry its outer transaction makes
    session.flush()  # what is still to be written is collected before the entry is made
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    subjects, changes = [], {}
    for item in pending:
        subject = item["subject"]
        if subject not in changes:
            subjects.append(subject)
            changes[subject] = {"how": item["how"], "columns": {}}
        changes[subject]["columns"].update(item["columns"])
    # A plain INSERT: as an ORM object the entry cost a flush of its own at every commit.
    session.execute(
        AUDIT.insert(),
        {
            "at": actor.now(),
            "actor": actor.name[:160],
            "actor_kind": actor.kind,
            "address": actor.address[:64],
            "action": actor.action[:160],
            "subjects": subjects,
            "changes": changes,
        },
    )


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_SAVEPOINTS, {})
        marks[transaction] = len(session.info.get(_PENDING, ()))


def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A savepoint rolled back takes only what was collected in it; the outer transaction
    rolled back, everything."""
    mark = session.info.get(_SAVEPOINTS, {}).pop(transaction, None)
    if mark is not None:
        del session.info.get(_PENDING, [])[mark:]
    elif transaction.parent is None:
        session.info.pop(_PENDING, None)


def _end(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint's mark stays until the outer transaction ends: SQLAlchemy ends a
    # savepoint before it tells of its rollback.
    if transaction.parent is None:  # committed (appended already), rolled back or closed
        session.info.pop(_PENDING, None)
        session.info.pop(_SAVEPOINTS, None)


_installed = False


def install_audit() -> None:
    """Listen on every session (once per process)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "before_commit", _append)
    event.listen(Session, "after_transaction_create", _mark_savepoint)
    event.listen(Session, "after_soft_rollback", _forget)
    event.listen(Session, "after_transaction_end", _end)
    _installed = True


def record(
    session: Session | Any,
    actor: Any,
    action: str,
    *,
    subjects: list[str] | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """An entry for something no row change shows (a login, a refused login, a reload)."""
    session.add(
        AuditRow(
            at=actor.now(),
            actor=actor.name[:160],
            actor_kind=actor.kind,
            address=actor.address[:64],
            action=action[:160],
            subjects=subjects or [],
            changes=changes or {},
        )
    )
