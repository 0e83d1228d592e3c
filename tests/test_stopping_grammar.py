"""The stopping-rule expression of the design block (escalation/rules/grammar.py) and the
dose-change options: parsing with field paths, the options shown as the expression they stand
for, each leaf's outcome in the decision, the logic of ``all``/``any``, demands never cut short,
the same grammar in simulation specs, and fast engines that decline what they do not implement."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation import (
    BOIN,
    CRM,
    DESIGNS,
    MAX_STOPPING_DEPTH,
    Action,
    AllOf,
    AnyOf,
    DemandNAtDose,
    InvalidDesignError,
    InvalidTrialDataError,
    RuleKind,
    StopAtN,
    StoppingRule,
    TrialData,
    decision_to_json,
    parse_design,
    parse_document,
    parse_stopping,
    to_expression,
)
from escalation.decision import RuleOutcome
from escalation.rules.context import DecisionContext
from escalation.rules.stopping import decide_stop
from tests.designs_catalog import make_design
from tests.strategies import trial_data

SK5 = [0.05, 0.1, 0.25, 0.4, 0.6]


def crm_block(**extra: Any) -> dict[str, Any]:
    return {"method": "crm", "target": 0.25, "skeleton": SK5} | extra


def problems_of(block: dict[str, Any], n_doses: int = 5) -> list[tuple[str, str]]:
    with pytest.raises(InvalidDesignError) as e:
        parse_design(block, n_doses=n_doses)
    return [(p.field, p.message) for p in e.value.problems]


# ---- parsing --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stopping", "field", "says"),
    [
        (
            {"all": [{"max_patients": 12}, {"n_at_dose": 0}]},
            "design.stopping.all[1].n_at_dose",
            "from 1",
        ),
        ({"any": []}, "design.stopping.any", "non-empty list"),
        ({"max_patients": 12, "n_at_dose": 3}, "design.stopping", "exactly one"),
        ({"n_at_dose": 3, "dose": 9}, "design.stopping.dose", "dose level from 1 to 5"),
        ({"n_at_dose": 3, "dose": "middle"}, "design.stopping.dose", "'recommended', 'any'"),
        ({"n_at_dose": 3, "when": "staying"}, "design.stopping.when", "unknown key"),
        ({"too_toxic": {"level": 1}}, "design.stopping.too_toxic.confidence", "missing"),
        (
            {"any": [{"too_toxic": {"level": 1, "confidence": 1.2}}]},
            "design.stopping.any[0].too_toxic.confidence",
            "strictly between 0 and 1",
        ),
        (
            {"too_toxic": {"level": 1, "confidence": 0.8, "dose": 1}},
            "design.stopping.too_toxic.dose",
            "unknown key",
        ),
        ({"demand_n_at_dose": 9, "label": 3}, "design.stopping.label", "expected a string"),
        (
            {"deescalation_impossible": False},
            "design.stopping.deescalation_impossible",
            "expected true",
        ),
        (
            {"all": [{"any": [{"all": [{"any": [{"all": [{"max_patients": 3}]}]}]}]}]},
            "design.stopping.all[0].any[0].all[0].any[0].all",
            "nest at most 4 deep",
        ),
        ([{"max_patients": 3}], "design.stopping", "expected a rule object"),
        (
            {"all": [{"any": [{"all": [{"max_patients": "x"}]}]}]},
            "design.stopping.all[0].any[0].all[0].max_patients",
            "whole number",
        ),
    ],
)
def test_a_bad_rule_is_named_by_its_field_path(stopping: Any, field: str, says: str) -> None:
    found = problems_of(crm_block(stopping=stopping))
    assert any(f == field and says in m for f, m in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems_of(
        crm_block(stopping={"all": [{"max_patients": 0}, {"n_at_dose": 3, "dose": 0}]})
    )
    assert [f for f, _ in found] == [
        "design.stopping.all[0].max_patients",
        "design.stopping.all[1].dose",
    ]


def test_a_simulation_spec_names_the_design_entry() -> None:
    from simulations import InvalidSpecError, parse_spec

    spec = {
        "designs": [{"name": "CRM", **crm_block(stopping={"any": [{"n_at_dose": -1}]})}],
        "scenarios": [{"name": "S1", "true_dlt_probs": [0.05, 0.1, 0.25, 0.4, 0.6]}],
        "trials": 2,
    }
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert [p.field for p in e.value.problems] == ["designs[0].stopping.any[0].n_at_dose"]


def test_a_stopping_option_beside_a_different_expression_is_refused() -> None:
    found = problems_of(crm_block(n_stop=9, stopping={"max_patients": 12}))
    assert found[0][0] == "design.n_stop" and "stopping expression" in found[0][1]


def test_blrm_has_no_too_toxic_rule() -> None:
    block = {
        "method": "blrm",
        "target": 0.25,
        "stopping": {"too_toxic": {"level": 1, "confidence": 0.9}},
    }
    with pytest.raises(InvalidDesignError) as e:
        parse_design(block, n_doses=3, dose_amounts=[1.0, 2.0, 4.0])
    assert e.value.problems[0].field == "design.stopping"


# ---- the options as the expression they stand for ---------------------------------------------------
def test_the_options_are_shown_as_their_expression() -> None:
    boin = parse_design(
        {"method": "boin", "target": 0.3, "n_stop": 12, "extra_safe": True}, n_doses=5
    )
    assert boin.options()["stopping"] == {
        "any": [
            {"max_patients": 30},
            {"n_at_dose": 12, "dose": "recommended", "when_staying": True},
            {
                "too_toxic": {
                    "level": 1,
                    "confidence": 0.95 - 0.05,
                    "min_n": 3,
                    "strict": True,
                    "eliminate": False,
                }
            },
        ]
    }
    crm = parse_design(crm_block(n_stop=9), n_doses=5)
    assert crm.options()["stopping"] == {
        "any": [
            {"max_patients": 30},
            {"n_at_dose": 9, "dose": "recommended"},
            {
                "too_toxic": {
                    "level": 1,
                    "confidence": 0.9,
                    "min_n": 3,
                    "strict": True,
                    "eliminate": False,
                }
            },
        ]
    }


@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_every_design_reads_back_its_options(method: str) -> None:
    design = make_design(method, 4)
    amounts = getattr(design, "dose_amounts", None)
    again = parse_design(design.options(), n_doses=4, dose_amounts=amounts)
    assert again == design
    assert again.rules() == design.rules()


def test_an_expression_replaces_the_stopping_options_and_reads_back() -> None:
    block = crm_block(
        stopping={"any": [{"max_patients": 12, "label": "sample size"}, {"demand_n_at_dose": 9}]}
    )
    design = parse_design(block, n_doses=5)
    assert "n_stop" not in design.options() and "safety_stop_prob" not in design.options()
    assert design.options()["stopping"] == {
        "any": [
            {"max_patients": 30},
            {"max_patients": 12, "label": "sample size"},
            {"demand_n_at_dose": 9, "dose": "recommended"},
        ]
    }
    assert parse_design(design.options(), n_doses=5) == design


def test_recommend_json_lists_the_resolved_expression_and_each_leaf(
    example_doc: dict[str, Any],
) -> None:
    example_doc["design"] = {
        "method": "boin",
        "target": 0.3,
        "stopping": {
            "any": [
                {
                    "all": [
                        {"max_patients": 9, "label": "early look"},
                        {"n_at_dose": 6, "dose": "any"},
                    ]
                },
                {"too_toxic": {"level": 1, "threshold": 0.4, "confidence": 0.8}},
                {"demand_n_at_dose": 9},
            ]
        },
    }
    doc = parse_document(example_doc)
    out = decision_to_json(doc.design.decide(doc.data), doc)
    assert out["design"]["stopping"]["any"][1] == example_doc["design"]["stopping"]["any"][0]
    labels = [r["rule"] for r in out["rules"] if r["kind"] == "stopping"]
    assert labels == [
        "StopAtN(30)",
        "early look: StopAtN(9)",
        "StopWhenNAtDose(6, when_staying=False, dose=any)",
        "StopWhenTooToxic(level=1, prob=0.8, min_n=0, threshold=0.4, strict=False, eliminate=True)",
        "DemandNAtDose(9, dose=recommended)",
    ]


# ---- the logic of all and any -----------------------------------------------------------------------
LEAF = st.builds(
    lambda n, kind: {"max_patients": n} if kind else {"n_at_dose": n, "dose": "any"},
    st.integers(1, 12),
    st.booleans(),
)


def expressions(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Expressions whose ``all``/``any`` nest at most ``depth`` levels."""
    if depth == 0:
        return LEAF
    inner = expressions(depth - 1)
    return st.one_of(
        LEAF,
        st.builds(
            lambda key, parts: {key: parts},
            st.sampled_from(["all", "any"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
    )


EXPRESSION = expressions(MAX_STOPPING_DEPTH)


def truth(expr: dict[str, Any], data: TrialData) -> bool:
    """What the expression says, read directly: all = every part, any = some part."""
    if "all" in expr:
        return all(truth(e, data) for e in expr["all"])
    if "any" in expr:
        return any(truth(e, data) for e in expr["any"])
    if "max_patients" in expr:
        return data.n_patients >= expr["max_patients"]
    return int(data.summary.n_treated.max()) >= expr["n_at_dose"]


def context(data: TrialData) -> DecisionContext:
    import numpy as np

    k = data.n_doses
    return DecisionContext(
        data=data,
        target=0.3,
        current_index=None if data.current_dose_level is None else data.current_dose_level - 1,
        start_index=0,
        n_for_safety=data.summary.n_complete,
        dlt_for_safety=data.summary.n_dlt,
        prob_overdose=np.full(k, np.nan),
        eliminated=np.zeros(k, dtype=np.bool_),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(expr=EXPRESSION, data=trial_data(n_doses=3, max_patients=15))
def test_all_and_any_behave_as_logic(expr: dict[str, Any], data: TrialData) -> None:
    rule, problems = parse_stopping(expr, n_doses=3)
    assert rule is not None, problems
    ctx = context(data)
    stop, outcomes, safety = decide_stop(rule, ctx)
    assert stop == truth(expr, data) and not safety
    # every leaf has its outcome, in order, and an all stops iff every leaf below stops
    assert len(outcomes) == len(list(_leaves(expr)))
    assert to_expression(rule) == _with_defaults(expr)


def _leaves(expr: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("all", "any"):
        if key in expr:
            return [leaf for e in expr[key] for leaf in _leaves(e)]
    return [expr]


def _with_defaults(expr: dict[str, Any]) -> dict[str, Any]:
    for key in ("all", "any"):
        if key in expr:
            return {key: [_with_defaults(e) for e in expr[key]]}
    return expr


class Fixed(StoppingRule):
    """A leaf with a given verdict."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    @property
    def label(self) -> str:
        return f"Fixed({self.value})"

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        return self.value, (
            RuleOutcome(label=self.label, kind=RuleKind.STOPPING, triggered=self.value, detail=""),
        )


@given(st.lists(st.booleans(), min_size=1, max_size=6), trial_data(n_doses=2, max_patients=3))
def test_all_is_true_iff_every_leaf_is_and_any_iff_one_is(
    values: list[bool], data: TrialData
) -> None:
    ctx = context(data)
    leaves = tuple(Fixed(v) for v in values)
    assert AllOf(rules=leaves).evaluate(ctx)[0] == all(values)
    assert AnyOf(rules=leaves).evaluate(ctx)[0] == any(values)
    # a demand is neutral inside either (a demand alone stops nothing)
    demand = DemandNAtDose(1000)
    assert AllOf(rules=(*leaves, demand)).evaluate(ctx)[0] == all(values)
    assert AnyOf(rules=(*leaves, demand)).evaluate(ctx)[0] == any(values)
    assert not AllOf(rules=(demand,)).evaluate(ctx)[0]
    with pytest.raises(TypeError):
        bool(leaves[0] | leaves[-1])


# ---- a demand is never cut short --------------------------------------------------------------------
OTHER = st.sampled_from(
    [
        {"max_patients": 6},
        {"n_at_dose": 3, "dose": "any"},
        {"n_at_dose": 3},
        {"too_toxic": {"level": 1, "threshold": 0.35, "confidence": 0.8}},
        {"deescalation_impossible": True},
    ]
)
DEMAND = st.builds(
    lambda n, dose: {"demand_n_at_dose": n, "dose": dose},
    st.integers(3, 12),
    st.sampled_from(["recommended", "any", 1, 2, 3]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    others=st.lists(OTHER, min_size=1, max_size=3),
    demand=DEMAND,
    combine=st.sampled_from(["any", "all"]),
    method=st.sampled_from(["boin", "crm"]),
    data=trial_data(n_doses=3, max_patients=24),
)
def test_a_demanded_n_is_never_cut_short(
    others: list[dict[str, Any]], demand: dict[str, Any], combine: str, method: str, data: TrialData
) -> None:
    block: dict[str, Any] = {"method": method, "target": 0.3, "max_patients": 40}
    if method == "crm":
        block["skeleton"] = [0.15, 0.3, 0.45]
    block["stopping"] = {combine: [*others, demand]}
    design = parse_design(block, n_doses=3)
    decision = design.decide(data)
    if decision.action is not Action.STOP or data.n_patients >= 40:
        return
    safety = decision.selection is not None and decision.selection.dose_level is None
    if safety or decision.eliminated == tuple(range(1, 4)):
        return  # a stop with no dose (too toxic): R's demand does not hold it off either
    treated = data.escalation_data().summary.n_treated
    dose = demand["dose"]
    if dose == "any":
        assert treated.max() >= demand["demand_n_at_dose"]
    elif dose == "recommended":
        assert decision.selection is not None
        # the recommended dose while deciding is the next dose; at a stop it has n patients
        held = [r for r in decision.rules if r.label.startswith("DemandNAtDose")]
        assert held and not held[0].triggered
    else:
        assert treated[dose - 1] >= demand["demand_n_at_dose"]


def test_a_demand_holds_the_trial_open_and_says_so() -> None:
    design = parse_design(
        crm_block(
            stopping={"any": [{"max_patients": 12}, {"demand_n_at_dose": 9}]},
            max_patients=1000,
            no_skipping=False,
            coherence=False,
        ),
        n_doses=5,
    )
    data = TrialData.from_counts([3, 6, 3, 0, 0], [0, 0, 0, 0, 0], current_level=3)
    decision = design.decide(data)
    assert decision.action is not Action.STOP
    demand = next(r for r in decision.rules if r.label.startswith("DemandNAtDose"))
    assert demand.triggered and "may not stop" in demand.detail
    # the design's own max_patients is the sample size: no demand holds the trial past it
    capped = parse_design(
        crm_block(
            stopping={"demand_n_at_dose": 9}, max_patients=12, no_skipping=False, coherence=False
        ),
        n_doses=5,
    )
    assert capped.decide(data).action is Action.STOP


# ---- dose-change options ----------------------------------------------------------------------------
def test_no_skipping_down_limits_de_escalation_to_one_level() -> None:
    data = TrialData.from_counts([3, 1, 3, 0, 0], [0, 0, 3, 0, 0], current_level=3)
    free = parse_design(crm_block(coherence=False), n_doses=5).decide(data)
    limited = parse_design(crm_block(coherence=False, no_skipping_down=True), n_doses=5).decide(
        data
    )
    assert free.next_level == 1 and limited.next_level == 2
    assert any(r.label == "NoSkippingDown()" and r.triggered for r in limited.rules)


@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_every_design_takes_the_dose_change_options(method: str) -> None:
    design = make_design(method, 4)
    amounts = getattr(design, "dose_amounts", None)
    block = design.options() | {"no_skipping": False, "no_skipping_down": True}
    changed = parse_design(block, n_doses=4, dose_amounts=amounts)
    names = [c.label for c in changed.rules().constraints]
    assert "NoSkipping()" not in names and "NoSkippingDown()" in names


def test_boin_stops_when_deescalation_is_impossible_with_no_dose() -> None:
    design = BOIN(n_doses=5, target=0.25, stop_when_deescalation_impossible=True)
    decision = design.decide(
        TrialData.from_counts([3, 0, 0, 0, 0], [1, 0, 0, 0, 0], current_level=1)
    )
    assert decision.action is Action.STOP and decision.selection is not None
    assert decision.selection.dose_level is None
    plain = BOIN(n_doses=5, target=0.25).decide(
        TrialData.from_counts([3, 0, 0, 0, 0], [1, 0, 0, 0, 0], current_level=1)
    )
    assert plain.action is Action.STAY


def test_crm_select_untried_names_the_model_dose() -> None:
    data = TrialData.from_counts([3, 3, 0, 0, 0], [0, 0, 0, 0, 0], current_level=2)
    kwargs: dict[str, Any] = {
        "n_doses": 5,
        "target": 0.25,
        "skeleton": tuple(SK5),
        "max_patients": 6,
    }
    assert CRM(**kwargs).decide(data).selection.dose_level == 2  # type: ignore[union-attr]
    untried = CRM(**kwargs, select_untried=True, no_skipping=False).decide(data)
    assert untried.selection is not None and untried.selection.dose_level == 5


# ---- fast engines -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "design",
    [
        BOIN(n_doses=4, target=0.3, stop_when_deescalation_impossible=True),
        BOIN(n_doses=4, target=0.3, no_skipping_down=True),
        BOIN(n_doses=4, target=0.3, stopping=StopAtN(30) | DemandNAtDose(9)),
        CRM(n_doses=4, target=0.3, skeleton=(0.1, 0.2, 0.3, 0.4), select_untried=True),
        CRM(n_doses=4, target=0.3, skeleton=(0.1, 0.2, 0.3, 0.4), no_skipping=False),
    ],
    ids=[
        "boin-deescalation-impossible",
        "boin-no-skipping-down",
        "boin-demand",
        "crm-select-untried",
        "crm-skipping",
    ],
)
def test_fast_engines_decline_what_they_do_not_implement(
    design: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from simulations import Conduct
    from simulations.engines import choose_engine

    with caplog.at_level(logging.WARNING):
        assert choose_engine(design, Conduct()).name == "generic"
    assert "generic engine used" in caplog.text


def test_the_fast_engines_still_run_the_options_they_implement() -> None:
    from simulations import Conduct
    from simulations.engines import choose_engine

    boin = parse_design({"method": "boin", "target": 0.3}, n_doses=4)
    assert choose_engine(boin, Conduct()).name == "fast-boin"
    # the same rules written as an expression are the same design
    again = parse_design(boin.options(), n_doses=4)
    assert choose_engine(again, Conduct()).name == "fast-boin"


def test_a_document_with_a_bad_rule_is_rejected_whole(example_doc: dict[str, Any]) -> None:
    example_doc["design"] = {
        "method": "boin",
        "target": 0.3,
        "stopping": {"all": [{"n_at_dose": 3, "dose": 7}]},
    }
    with pytest.raises(InvalidTrialDataError) as e:
        parse_document(example_doc)
    assert e.value.problems[0].field == "design.stopping.all[0].dose"


def test_a_design_without_a_posterior_judges_too_toxic_by_beta_1_1() -> None:
    """3+3 has no posterior: its too-toxic rule reads independent Beta(1, 1) posteriors."""
    design = parse_design(
        {"method": "3+3", "stopping": {"too_toxic": {"level": 1, "confidence": 0.8}}}, n_doses=3
    )
    # Pr(p > 0.3 | 1 DLT in 3, Beta(1, 1)) = 0.652 < 0.8: the rule holds its fire
    one = design.decide(TrialData.from_counts([3, 0, 0], [1, 0, 0], current_level=1))
    leaf = next(r for r in one.rules if r.kind is RuleKind.STOPPING and "TooToxic" in r.label)
    assert not leaf.triggered and "0.652" in leaf.detail


def test_a_python_rule_the_expression_cannot_state_is_shown_by_its_label() -> None:
    design = BOIN(n_doses=3, target=0.3, stopping=StopAtN(12) | Fixed(False))  # type: ignore[abstract]
    assert design.options()["stopping"] == "StopAtN(30) | StopAtN(12) | Fixed(False)"


@pytest.mark.parametrize("method", ["boin", "crm"])
def test_a_backfill_design_reads_back_its_escalation_only_sample_size(method: str) -> None:
    """With backfill, the sample size counts escalation patients: the expression says so
    (``cohort``), and reading it back keeps that meaning."""
    block = {"method": method, "target": 0.25, "backfill": {"min_responses": 0}}
    if method == "crm":
        block["skeleton"] = [0.05, 0.12, 0.25, 0.4]
    design = parse_design(block, n_doses=4)
    shown = design.options()["stopping"]
    assert {"max_patients": design.max_patients, "cohort": "escalation"} in shown["any"]
    again = parse_design(design.options(), n_doses=4)
    assert again.rules() == design.rules()
    with pytest.raises(InvalidDesignError, match=r"stopping\.cohort"):
        parse_design(block | {"stopping": {"max_patients": 9, "cohort": "everyone"}}, n_doses=4)
