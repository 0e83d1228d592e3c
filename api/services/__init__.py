"""What the endpoints do, each operation one function over the database (no HTTP here).

Reads use ``Database.read``, every change one ``Database.write`` transaction that also appends its
audit entry, so a change and its audit record commit together or not at all.
"""
