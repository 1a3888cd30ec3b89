"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, select

from service.clock import FrozenClock
from service.notify.claim import Lease, due_query
from service.notify.tables import MessageRow, MessageState, state_is
from service.schema import Base
from service.store import migrate
from service.store.bulk import among
from service.store.database import create_engine
from tests.engine_helpers import start_dutyd


async def test_migrations_match_models(database_url: str) -> None:
    """After `upgrade head` there is no difference between database and models."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)  # a second run is a no-op

        def differences(connection: Connection) -> list[object]:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_the_outbox_queries_use_the_partial_indexes(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """The messages' indexes leave out what the senders never look for; the senders'
    queries must still be able to use them, or each pass reads every message ever sent."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, outbox_lanes=1)
    try:
        outbox = dutyd.engine.outbox
        async with dutyd.sessions() as session:
            dialect = session.get_bind().dialect
            queries = {
                "ix_messages_due": [
                    due_query(
                        session, clock.now(), Lease(outbox.worker, outbox.lease), outbox.batch_size
                    ),
                    select(func.min(MessageRow.due_at)).where(state_is(MessageState.pending)),
                ],
                "ix_messages_recent": [
                    select(func.count()).where(
                        among(session, MessageRow.person_id, ["a", "b"]),
                        MessageRow.sent_at > clock.now(),
                    )
                ],
                "ix_messages_digest_of": [
                    select(MessageRow.id).where(among(session, MessageRow.digest_of, [1, 2]))
                ],
            }
            connection = await session.connection()
            if dialect.name == "postgresql":
                await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN" if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
            for index, statements in queries.items():
                for statement in statements:
                    sql = str(
                        statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
                    )
                    plan = (await connection.exec_driver_sql(f"{explain} {sql}")).all()
                    assert index in str(plan), (sql, plan)
    finally:
        await dutyd.stop()


async def test_message_ids_go_past_32_bits(database_url: str) -> None:
    """Message and event ids past INTEGER's end (2,000 warnings of a million recipients):
    stored, pointed at, and handed out by the id sequence on PostgreSQL."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, text

    from service.notify.tables import MessageEventRow

    big = 2**40
    now = datetime(2026, 12, 2, tzinfo=UTC)
    message = {
        "person_id": "sun_li",
        "channel": "sms",
        "address": "+8613800001102",
        "body": "x",
        "state": MessageState.pending,
        "due_at": now,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
    }
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(insert(MessageRow), [{**message, "id": big}])
            if engine.dialect.name == "postgresql":
                await connection.execute(text(f"SELECT setval('messages_id_seq', {big + 1})"))
            next_id = (
                await connection.execute(
                    insert(MessageRow).returning(MessageRow.id),
                    [{**message, "digest_of": big, "failover_of": big}],
                )
            ).scalar_one()
            await connection.execute(
                insert(MessageEventRow),
                [{"id": big, "message_id": next_id, "at": now, "state": "pending"}],
            )
            stored = await connection.scalar(
                select(MessageRow.digest_of).where(MessageRow.id == next_id)
            )
        assert next_id > big and stored == big
    finally:
        await engine.dispose()
