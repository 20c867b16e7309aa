"""Suite-wide fixtures: caches kept inside pytest's temp folder; one headless Chromium for all browser tests."""
import os

import pytest

# GANDIAG_TEST_CHROMIUM only exists to check the skip/fail logic below; CI uses the Debian path.
CHROMIUM = os.environ.get("GANDIAG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_gandiag_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GANDIAG_CACHE", str(tmp_path_factory.mktemp("gandiag-cache")))
    mp.setenv("MPLBACKEND", "Agg")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium via playwright's sync API; never downloads a browser.

    One session-wide instance: playwright's sync API cannot start a second driver while the
    first one's event loop is running. Missing /usr/bin/chromium skips the browser tests locally
    but fails under CI (env CI set), so CI can never pass by silently skipping them.
    """
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} not found (apt-get install chromium); browser tests cannot run"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a test dependency
        if os.environ.get("CI"):
            pytest.fail(f"playwright is not installed: {exc}")
        pytest.skip(f"playwright is not installed: {exc}")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def fashion():
    """Fashion-MNIST from the Debian package ``dataset-fashion-mnist``: {"train"|"test": (images, labels)}.

    Missing data skips locally but fails under CI (which installs the package), like Chromium above.
    """
    from gandiag.data import FASHION_MNIST_DEFAULT_ROOT, load_fashion_mnist

    if not os.path.isdir(FASHION_MNIST_DEFAULT_ROOT):
        message = f"{FASHION_MNIST_DEFAULT_ROOT} not found (apt-get install dataset-fashion-mnist)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = {}
    for split in ("train", "test"):
        data = load_fashion_mnist(split=split)
        out[split] = (data.images, data.labels)
    return out
