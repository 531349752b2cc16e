"""The engine's results for a patient, shared by the web workers through the database
(bvall.web.results): what one worker graded, another takes as it was computed; a request writes
them after its answer; a row that cannot be read is computed again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from bvall.cohort import load_cohort
from bvall.criteria import plans
from bvall.criteria.plans import load_plan, plan_features, run_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared() -> Iterator[Any]:
    """The database store registered, and this process's own results by content forgotten (as
    in another worker)."""
    from bvall.web.results import DatabaseResults

    store = DatabaseResults()
    plans.share_results(store)
    forget()
    try:
        yield store
    finally:
        plans.share_results(None)
        forget()


def forget() -> None:
    with plans._BY_CONTENT_LOCK:
        plans._BY_CONTENT.clear()
    with plans._STEPS_LOCK:
        plans._STEPS.clear()


def one_patient(pid: str = "P05") -> Any:
    return load_cohort("example").subset([pid])


def _no_engine(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the plan ran: the shared result was not taken")


def test_a_result_kept_by_one_worker_is_taken_by_another_as_computed(
    shared: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bvall.store.models import DerivedResult

    cohort = one_patient()
    plan = load_plan("grades", plan_features(cohort))
    computed = run_plan(plan, cohort)
    assert DerivedResult.objects.count() == 1
    forget()  # another worker: nothing of it in memory
    monkeypatch.setattr(plans, "_execute", _no_engine)
    monkeypatch.setattr(plans, "_sorted", _no_engine)
    taken = run_plan(plan, one_patient())
    assert taken.equals(computed, check_metadata=True)
    assert taken.schema == computed.schema


def test_other_data_are_not_given_the_kept_result(shared: Any) -> None:
    """The key is the content of what the plan reads: another patient's data run the plan."""
    from bvall.store.models import DerivedResult

    cohort = one_patient("P05")
    plan = load_plan("grades", plan_features(cohort))
    run_plan(plan, cohort)
    forget()
    other = run_plan(plan, one_patient("P07"))
    assert set(other.column("patient_id").to_pylist()) == {"P07"}
    assert DerivedResult.objects.count() == 2


def test_a_request_writes_its_results_once_its_answer_is_sent(shared: Any) -> None:
    """A save's answer does not wait for the write: during the request the result is queued,
    and written when Django has delivered the answer (``request_finished``)."""
    from django.core.signals import request_finished
    from django.http import HttpResponse

    from bvall.store.models import DerivedResult
    from bvall.web.results import share_after_answer

    cohort = one_patient()
    plan = load_plan("tls", plan_features(cohort))
    during = []

    def view(request: Any) -> HttpResponse:
        run_plan(plan, cohort)
        during.append(DerivedResult.objects.count())
        return HttpResponse("saved")

    response = share_after_answer(view)(object())
    assert response.content == b"saved"
    assert during == [0]
    assert DerivedResult.objects.count() == 0  # the answer is not delivered yet
    request_finished.send(sender=None)
    assert DerivedResult.objects.count() == 1


def test_a_row_that_is_not_an_arrow_stream_is_computed_again(
    shared: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from bvall.store.models import DerivedResult

    cohort = one_patient()
    plan = load_plan("response", plan_features(cohort))
    computed = run_plan(plan, cohort)
    assert DerivedResult.objects.count() == 1
    DerivedResult.objects.update(data=b"not arrow")
    forget()
    with caplog.at_level("WARNING", logger="bvall.web.results"):
        again = run_plan(plan, one_patient())
    assert again.equals(computed)
    assert "is not an Arrow stream" in caplog.text


def test_a_database_that_refuses_the_write_costs_a_computation_only(
    shared: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from django.db import DatabaseError

    from bvall.store.models import DerivedResult

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("database is locked")

    monkeypatch.setattr(DerivedResult.objects, "bulk_create", refuse)
    cohort = one_patient()
    with caplog.at_level("WARNING", logger="bvall.web.results"):
        got = run_plan(load_plan("grades", plan_features(cohort)), cohort)
    assert got.num_rows > 0
    assert "not shared with the other workers: database is locked" in caplog.text


def test_the_key_names_bvalls_and_duckdbs_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    import bvall

    key = ("lineage", ("labs=abc",))
    first = plans._shared_key(key)
    assert plans._shared_key(key) == first
    assert plans._shared_key(("lineage", ("labs=abd",))) != first
    monkeypatch.setattr(bvall, "__version__", "0.0.0-other")
    assert plans._shared_key(key) != first
    monkeypatch.undo()
    monkeypatch.setattr(duckdb, "__version__", "0.0.0-other")
    assert plans._shared_key(key) != first


def test_tables_round_trip_through_the_database(shared: Any) -> None:
    """Every type the plans give (strings, floats, dates, nulls, lists) comes back equal."""
    import datetime as dt

    table = pa.table(
        {
            "patient_id": ["P01", None],
            "grade": pa.array([3, None], pa.int64()),
            "value": [0.25, None],
            "day": [dt.date(2025, 3, 3), None],
            "inputs": [["anc", "wbc"], []],
        }
    )
    shared._write("k" * 64, table)
    got = shared.get("k" * 64)
    assert got is not None
    assert got.equals(table)
    assert shared.get("z" * 64) is None
