"""Rules: safety elimination, stopping, waiting, dose-change limits (applied in that precedence)."""

from escalation.rules.constraints import (
    Coherence,
    EscalationNeedsCompleteFollowup,
    ExcludeEliminated,
    MaxAmountStep,
    MaxStep,
    NoSkipping,
)
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateToxicDoses, EliminateWhenDLTs
from escalation.rules.stopping import (
    AllOf,
    AnyOf,
    StopAtN,
    StoppingRule,
    StopWhenNAtDose,
    StopWhenTooToxic,
)
from escalation.rules.waiting import Stagger, SuspendWhenPending, WaitForPending

__all__ = [
    "AllOf",
    "AnyOf",
    "Coherence",
    "DecisionContext",
    "EliminateToxicDoses",
    "EliminateWhenDLTs",
    "EscalationNeedsCompleteFollowup",
    "ExcludeEliminated",
    "MaxAmountStep",
    "MaxStep",
    "NoSkipping",
    "Stagger",
    "StopAtN",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
    "SuspendWhenPending",
    "WaitForPending",
]
