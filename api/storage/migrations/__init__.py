"""Alembic migrations of the service's schema (applied at start-up by ``Database.migrate``)."""
