"""Persistence: the ORM models, the database handle (engine, transactions, migrations), the audit chain."""
