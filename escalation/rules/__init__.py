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
from escalation.rules.elimination import (
    EliminateInadmissible,
    EliminateToxicDoses,
    EliminateWhenDLTs,
)
from escalation.rules.grammar import parse_stopping, to_expression
from escalation.rules.stopping import (
    AllOf,
    AnyOf,
    DemandNAtDose,
    StopAtN,
    StoppingRule,
    StopWhenDeescalationImpossible,
    StopWhenModelStops,
    StopWhenNAtDose,
    StopWhenTooToxic,
)
from escalation.rules.waiting import Stagger, SuspendWhenPending, WaitForOutcomes, WaitForPending

__all__ = [
    "AllOf",
    "AnyOf",
    "Coherence",
    "DecisionContext",
    "DemandNAtDose",
    "EliminateInadmissible",
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
    "StopWhenModelStops",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
    "SuspendWhenPending",
    "WaitForOutcomes",
    "WaitForPending",
    "parse_stopping",
    "to_expression",
]
