"""Rules: safety elimination, stopping, waiting, dose-change limits (applied in that precedence)."""

from escalation.rules.constraints import ExcludeEliminated, MaxStep, NoSkipping
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateToxicDoses
from escalation.rules.stopping import (
    AllOf,
    AnyOf,
    StopAtN,
    StoppingRule,
    StopWhenNAtDose,
    StopWhenTooToxic,
)
from escalation.rules.waiting import WaitForPending

__all__ = [
    "AllOf",
    "AnyOf",
    "DecisionContext",
    "EliminateToxicDoses",
    "ExcludeEliminated",
    "MaxStep",
    "NoSkipping",
    "StopAtN",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
    "WaitForPending",
]
