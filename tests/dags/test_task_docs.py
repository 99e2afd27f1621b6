"""Every task explains itself in the UI, and every Personalize task links to the console."""

from __future__ import annotations

import pytest

from personalize_pipeline.config import DEFAULT_DIR

PROJECT_DAGS = DEFAULT_DIR.parents[1] / "dags"


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_DAGS))
    assert bag.import_errors == {}
    return bag.dags


def test_every_task_has_a_doc(dags):
    missing = [f"{d.dag_id}.{t.task_id}" for d in dags.values() for t in d.tasks if not t.doc_md]
    assert missing == []


def test_every_task_that_creates_a_resource_links_to_the_console(dags):
    from personalize_provider.operators.personalize import PersonalizeBaseOperator

    creators = [t for d in dags.values() for t in d.tasks if isinstance(t, PersonalizeBaseOperator)]
    assert len(creators) >= 20
    assert [t.task_id for t in creators if not t.operator_extra_links] == []
