"""Every test runs in a fresh working folder (the tutorial writes ./stream_demo/)."""

import pytest


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield
