"""Rules: safety elimination, stopping, waiting, dose-change limits (applied in that precedence)."""

from escalation.rules.constraints import (
    Coherence,
    EscalationNeedsCompleteFollowup,
    ExcludeEliminated,
    MaxAmountStep,
    MaxStep,
    NoSkipping,
    NoSkippingDown,
)
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateToxicDoses, EliminateWhenDLTs
from escalation.rules.grammar import parse_stopping, to_expression
from escalation.rules.stopping import (
    AllOf,
    AnyOf,
    DemandNAtDose,
    StopAtN,
    StoppingRule,
    StopWhenDeescalationImpossible,
    StopWhenNAtDose,
    StopWhenTooToxic,
)
from escalation.rules.waiting import Stagger, SuspendWhenPending, WaitForPending

__all__ = [
    "AllOf",
    "AnyOf",
    "Coherence",
    "DecisionContext",
    "DemandNAtDose",
    "EliminateToxicDoses",
    "EliminateWhenDLTs",
    "EscalationNeedsCompleteFollowup",
    "ExcludeEliminated",
    "MaxAmountStep",
    "MaxStep",
    "NoSkipping",
    "NoSkippingDown",
    "Stagger",
    "StopAtN",
    "StopWhenDeescalationImpossible",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
    "SuspendWhenPending",
    "WaitForPending",
    "parse_stopping",
    "to_expression",
]
