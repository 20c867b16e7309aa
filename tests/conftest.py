"""Suite-wide fixtures: keep every cache a test writes inside pytest's temp folder."""
import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_gandiag_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GANDIAG_CACHE", str(tmp_path_factory.mktemp("gandiag-cache")))
    mp.setenv("MPLBACKEND", "Agg")
    yield
    mp.undo()
