"""The HTTP routes, one module per resource, gathered in ``api_router``."""

from fastapi import APIRouter

from api.routes import (
    audit,
    decisions,
    health,
    keys,
    paths,
    patients,
    recommendations,
    simulations,
    src_decisions,
    trials,
)

__all__ = ["api_router"]

api_router = APIRouter()
api_router.include_router(health.router)
for module in (
    decisions,
    trials,
    patients,
    recommendations,
    paths,
    src_decisions,
    audit,
    simulations,
    keys,
):
    api_router.include_router(module.router, prefix="/v1")
