"""Fixtures shared by the whole suite live in ``fixtures/``, one module per outside system."""

pytest_plugins = [
    "freshcleo_pipeline_tests.fixtures.ledger",
    "freshcleo_pipeline_tests.fixtures.freshbooks",
    "freshcleo_pipeline_tests.fixtures.cleo",
    "freshcleo_pipeline_tests.fixtures.pipeline",
]
