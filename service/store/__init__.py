"""Persistence: the SQLAlchemy base, sessions and Alembic migrations."""
