"""Storage: SQLAlchemy models, per-block tables, engines and migrations."""
