"""SQL storage (SQLAlchemy Core, async) for SQLite and PostgreSQL with one schema."""
