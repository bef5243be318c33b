"""Shared fixtures: the real sample shipped in tests/data, and missing shared data as a failure in CI."""
from __future__ import annotations

import pytest

import realdata


@pytest.fixture(scope="session")
def real_samples(tmp_path_factory) -> dict[str, realdata.Sample]:
    """Every shipped sample (realdata.SAMPLES) imported into one fresh cache; treat it as read-only."""
    cache_dir = tmp_path_factory.mktemp("real-samples") / "cache"
    return {name: realdata.import_sample(name, cache_dir) for name in realdata.SAMPLES}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With PASSIVX_REQUIRE_SHARED_DATA=1, a test skipped because ../shared/data (or a file in it) is
    missing fails instead: CI must not pass by silently running fewer tests."""
    report = yield
    if report.skipped and realdata.shared_data_required() and str(realdata.SHARED_DATA) in str(report.longrepr):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{realdata.REQUIRE_SHARED_DATA}=1 but the real data this test needs is missing ({reason})"
    return report
