"""Persistence: SQLAlchemy schema, engine, unit of work, encryption, migrations."""
