"""The HTTP service: FastAPI application (``api.main.create_app``), persistence, keys, audit, jobs.

A thin layer over ``escalation``'s public interface: no statistics here.
"""
