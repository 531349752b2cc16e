"""The SQL a plan hands DuckDB stays small: the cost of running a plan on a cohort is DuckDB
parsing, binding and optimising each statement (about 3 ms per kB of SQL plus 3-8 ms per
statement, whatever the number of rows; DESIGN.md, "Relational engine"), and all derivations of
one patient must take <= 50 ms. These bounds catch a change that brings back a statement per
endpoint or an expression repeated through merged projections (before: endpoints' own steps
were 10 statements and 64 kB, the response step 27 kB).
"""

from __future__ import annotations

import pytest

from bvall.criteria.plans import load_plan

#: Feature variants a plan is built for: qualified lab values, complete reporting.
VARIANTS = [
    {"labs_qualified": False, "complete": []},
    {
        "labs_qualified": True,
        "complete": [
            "Cytokine release syndrome",
            "Febrile neutropenia",
            "Fibrinogen decreased",
            "ICANS",
            "Lung infection",
            "Transaminases increased",
            "transfusions",
        ],
    },
]


@pytest.mark.parametrize("features", VARIANTS)
def test_endpoints_own_statements_are_few_and_small(features: dict[str, object]) -> None:
    """The endpoints' own steps: the facts joined to the patients with the values, then the
    explanation (2 statements; bound 30 kB, measured 28 kB with every term complete)."""
    plan = load_plan("endpoints", features)
    own = [s for s in plan.steps if s.name is None or s.name.startswith("bv_step_endpoints")]
    assert len(own) <= 2, [s.name for s in own]
    assert sum(len(s.sql) for s in own) <= 30_000


@pytest.mark.parametrize("features", VARIANTS)
def test_response_statement_is_small(features: dict[str, object]) -> None:
    """The response step (bound 11 kB, measured 10 kB): each explanation part and CR criterion
    is computed once, in the statement layer below the one that reads it."""
    plan = load_plan("response", features)
    (step,) = [s for s in plan.steps if s.name == "bv_step_responses"]
    assert len(step.sql) <= 11_000
