"""Bayesian dose-escalation decision engine.

The public interface: trial data, designs, rules, decisions and the trial document. Everything
else is private. Dose levels count from 1 in every document, table and message.

The names are imported on first use (PEP 562): ``import escalation`` costs almost nothing, so that a
command such as ``escalation --version`` starts at once; ``from escalation import BOIN`` imports
what BOIN needs. Type checkers see the imports below ``TYPE_CHECKING``.

Examples
--------
>>> from escalation import BOIN, TrialData
>>> design = BOIN(n_doses=5, target=0.3)
>>> design.decide(TrialData.from_counts([3, 0, 0, 0, 0], [0, 0, 0, 0, 0], current_level=1)).next_level
2
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
    from escalation.backfill import BackfillPlan
    from escalation.data import (
        COHORTS,
        DoseSummary,
        EfficacySummary,
        Patient,
        PatientState,
        TrialData,
    )
    from escalation.decision import (
        Action,
        Decision,
        DoseEstimate,
        EfficacyEstimate,
        ExpansionStatus,
        IndicationEstimate,
        PosteriorBands,
        RuleKind,
        RuleOutcome,
        Selection,
    )
    from escalation.designs import (
        BLRM,
        BOIN,
        BOIN12,
        CRM,
        DESIGNS,
        TITEBOIN,
        TITEBOIN12,
        TITECRM,
        Design,
        ThreePlusThree,
    )
    from escalation.designs.blrm import OverdoseControl
    from escalation.designs.three_plus_three import StopThreePlusThree
    from escalation.document_writer import document_to_json
    from escalation.documents import (
        Dose,
        TrialDocument,
        decision_to_json,
        parse_design,
        parse_document,
        selection_to_json,
    )
    from escalation.errors import (
        ConvergenceWarning,
        EscalationError,
        InvalidDesignError,
        InvalidTrialDataError,
        PosteriorComputationError,
        Problem,
    )
    from escalation.expansion import (
        ExpansionPlan,
        expansion_status,
        indication_estimates,
        parse_futility,
    )
    from escalation.limits import (
        EARLIEST_DATE,
        LATEST_DATE,
        LIMITS,
        MAX_DOCUMENT_PATIENTS,
        MAX_TEXT_LENGTH,
        Limit,
        date_problem,
        text_problem,
        whole_numbers,
    )
    from escalation.models.blrm import (
        BLRMIntervalProbs,
        BLRMPosterior,
        BLRMPrior,
        blrm_interval_probs,
        blrm_posterior,
        blrm_posterior_batch,
    )
    from escalation.models.bop2 import (
        FutilityCheck,
        FutilityOC,
        FutilityRule,
        calibrate_futility,
        futility_oc,
    )
    from escalation.models.boundaries import (
        BoundaryRow,
        beta_overdose_prob,
        boin_lambdas,
        boundary_row,
        boundary_rows,
    )
    from escalation.models.crm import (
        CRMPosteriorBatch,
        crm_overdose_thresholds,
        crm_posterior_batch,
        linear_weights,
        tite_crm_posterior_batch,
    )
    from escalation.models.isotonic import IsotonicSelection, select_isotonic, select_isotonic_batch
    from escalation.models.monitoring import (
        MAX_MONITORED_PATIENTS,
        MonitoringCheck,
        MonitoringOC,
        ToxicityMonitor,
        monitoring_oc,
        monitoring_problems,
    )
    from escalation.models.three_plus_three import (
        ThreePlusThreeStep,
        three_plus_three_select,
        three_plus_three_step,
    )
    from escalation.models.utility import (
        DesirabilityRow,
        desirability_from_x,
        desirability_table,
        efficacy_estimates,
        efficacy_futility_boundary,
        obd_select_batch,
        pseudo_successes,
        utility_benchmark,
        utility_of_probs,
    )
    from escalation.paths import (
        DosePaths,
        PathNode,
        PathProbabilities,
        dose_paths,
        path_probabilities,
        paths_to_json,
    )
    from escalation.rules import (
        AllOf,
        AnyOf,
        Coherence,
        DemandNAtDose,
        EliminateInadmissible,
        EliminateToxicDoses,
        EliminateWhenDLTs,
        EscalationNeedsCompleteFollowup,
        ExcludeEliminated,
        MaxAmountStep,
        MaxStep,
        NoSkipping,
        NoSkippingDown,
        StopAtN,
        StoppingRule,
        StopWhenDeescalationImpossible,
        StopWhenModelStops,
        StopWhenNAtDose,
        StopWhenTooToxic,
        SuspendWhenPending,
        WaitForOutcomes,
        WaitForPending,
        parse_stopping,
        to_expression,
    )
    from escalation.rules.grammar import MAX_STOPPING_DEPTH

_SOURCES: dict[str, tuple[str, ...]] = {
    "escalation.data": (
        "COHORTS",
        "DoseSummary",
        "EfficacySummary",
        "Patient",
        "PatientState",
        "TrialData",
    ),
    "escalation.decision": (
        "Action",
        "Decision",
        "DoseEstimate",
        "EfficacyEstimate",
        "ExpansionStatus",
        "IndicationEstimate",
        "PosteriorBands",
        "RuleKind",
        "RuleOutcome",
        "Selection",
    ),
    "escalation.designs": (
        "BLRM",
        "BOIN",
        "BOIN12",
        "CRM",
        "DESIGNS",
        "TITEBOIN",
        "TITEBOIN12",
        "TITECRM",
        "Design",
        "ThreePlusThree",
    ),
    "escalation.designs.blrm": ("OverdoseControl",),
    "escalation.designs.three_plus_three": ("StopThreePlusThree",),
    "escalation.document_writer": ("document_to_json",),
    "escalation.backfill": ("BackfillPlan",),
    "escalation.documents": (
        "Dose",
        "TrialDocument",
        "decision_to_json",
        "parse_design",
        "parse_document",
        "selection_to_json",
    ),
    "escalation.errors": (
        "ConvergenceWarning",
        "EscalationError",
        "InvalidDesignError",
        "InvalidTrialDataError",
        "PosteriorComputationError",
        "Problem",
    ),
    "escalation.expansion": (
        "ExpansionPlan",
        "expansion_status",
        "indication_estimates",
        "parse_futility",
    ),
    "escalation.limits": (
        "EARLIEST_DATE",
        "LATEST_DATE",
        "LIMITS",
        "MAX_DOCUMENT_PATIENTS",
        "MAX_TEXT_LENGTH",
        "Limit",
        "date_problem",
        "text_problem",
        "whole_numbers",
    ),
    "escalation.models.blrm": (
        "BLRMIntervalProbs",
        "BLRMPosterior",
        "BLRMPrior",
        "blrm_interval_probs",
        "blrm_posterior",
        "blrm_posterior_batch",
    ),
    "escalation.models.bop2": (
        "FutilityCheck",
        "FutilityOC",
        "FutilityRule",
        "calibrate_futility",
        "futility_oc",
    ),
    "escalation.models.boundaries": (
        "BoundaryRow",
        "beta_overdose_prob",
        "boin_lambdas",
        "boundary_row",
        "boundary_rows",
    ),
    "escalation.models.crm": (
        "CRMPosteriorBatch",
        "crm_overdose_thresholds",
        "crm_posterior_batch",
        "linear_weights",
        "tite_crm_posterior_batch",
    ),
    "escalation.models.isotonic": ("IsotonicSelection", "select_isotonic", "select_isotonic_batch"),
    "escalation.models.monitoring": (
        "MAX_MONITORED_PATIENTS",
        "MonitoringCheck",
        "MonitoringOC",
        "ToxicityMonitor",
        "monitoring_oc",
        "monitoring_problems",
    ),
    "escalation.models.three_plus_three": (
        "ThreePlusThreeStep",
        "three_plus_three_select",
        "three_plus_three_step",
    ),
    "escalation.models.utility": (
        "DesirabilityRow",
        "desirability_from_x",
        "desirability_table",
        "efficacy_estimates",
        "efficacy_futility_boundary",
        "obd_select_batch",
        "pseudo_successes",
        "utility_benchmark",
        "utility_of_probs",
    ),
    "escalation.paths": (
        "DosePaths",
        "PathNode",
        "PathProbabilities",
        "dose_paths",
        "path_probabilities",
        "paths_to_json",
    ),
    "escalation.rules": (
        "AllOf",
        "AnyOf",
        "Coherence",
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
        "StopAtN",
        "StoppingRule",
        "StopWhenDeescalationImpossible",
        "StopWhenModelStops",
        "StopWhenNAtDose",
        "StopWhenTooToxic",
        "SuspendWhenPending",
        "WaitForOutcomes",
        "WaitForPending",
        "parse_stopping",
        "to_expression",
    ),
    "escalation.rules.grammar": ("MAX_STOPPING_DEPTH",),
}

_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = [
    "BLRM",
    "BOIN",
    "BOIN12",
    "COHORTS",
    "CRM",
    "DESIGNS",
    "EARLIEST_DATE",
    "LATEST_DATE",
    "LIMITS",
    "MAX_DOCUMENT_PATIENTS",
    "MAX_MONITORED_PATIENTS",
    "MAX_STOPPING_DEPTH",
    "MAX_TEXT_LENGTH",
    "TITEBOIN",
    "TITEBOIN12",
    "TITECRM",
    "Action",
    "AllOf",
    "AnyOf",
    "BLRMIntervalProbs",
    "BLRMPosterior",
    "BLRMPrior",
    "BackfillPlan",
    "BoundaryRow",
    "CRMPosteriorBatch",
    "Coherence",
    "ConvergenceWarning",
    "Decision",
    "DemandNAtDose",
    "Design",
    "DesirabilityRow",
    "Dose",
    "DoseEstimate",
    "DosePaths",
    "DoseSummary",
    "EfficacyEstimate",
    "EfficacySummary",
    "EliminateInadmissible",
    "EliminateToxicDoses",
    "EliminateWhenDLTs",
    "EscalationError",
    "EscalationNeedsCompleteFollowup",
    "ExcludeEliminated",
    "ExpansionPlan",
    "ExpansionStatus",
    "FutilityCheck",
    "FutilityOC",
    "FutilityRule",
    "IndicationEstimate",
    "InvalidDesignError",
    "InvalidTrialDataError",
    "IsotonicSelection",
    "Limit",
    "MaxAmountStep",
    "MaxStep",
    "MonitoringCheck",
    "MonitoringOC",
    "NoSkipping",
    "NoSkippingDown",
    "OverdoseControl",
    "PathNode",
    "PathProbabilities",
    "Patient",
    "PatientState",
    "PosteriorBands",
    "PosteriorComputationError",
    "Problem",
    "RuleKind",
    "RuleOutcome",
    "Selection",
    "StopAtN",
    "StopThreePlusThree",
    "StopWhenDeescalationImpossible",
    "StopWhenModelStops",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
    "SuspendWhenPending",
    "ThreePlusThree",
    "ThreePlusThreeStep",
    "ToxicityMonitor",
    "TrialData",
    "TrialDocument",
    "WaitForOutcomes",
    "WaitForPending",
    "__version__",
    "beta_overdose_prob",
    "blrm_interval_probs",
    "blrm_posterior",
    "blrm_posterior_batch",
    "boin_lambdas",
    "boundary_row",
    "boundary_rows",
    "calibrate_futility",
    "crm_overdose_thresholds",
    "crm_posterior_batch",
    "date_problem",
    "decision_to_json",
    "desirability_from_x",
    "desirability_table",
    "document_to_json",
    "dose_paths",
    "efficacy_estimates",
    "efficacy_futility_boundary",
    "expansion_status",
    "futility_oc",
    "indication_estimates",
    "linear_weights",
    "monitoring_oc",
    "monitoring_problems",
    "obd_select_batch",
    "parse_design",
    "parse_document",
    "parse_futility",
    "parse_stopping",
    "path_probabilities",
    "paths_to_json",
    "pseudo_successes",
    "select_isotonic",
    "select_isotonic_batch",
    "selection_to_json",
    "text_problem",
    "three_plus_three_select",
    "three_plus_three_step",
    "tite_crm_posterior_batch",
    "to_expression",
    "utility_benchmark",
    "utility_of_probs",
    "whole_numbers",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("escalation")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0+unknown"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """A public name, imported from its module on first use and kept here."""
        if name == "__version__":
            value = _version()
        elif name in _MODULE_OF:
            value = getattr(importlib.import_module(_MODULE_OF[name]), name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
