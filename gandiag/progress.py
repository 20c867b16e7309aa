"""Progress bars (tqdm) that ``--quiet`` switches off in one place."""
from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(*, total=None, desc: str = "", unit: str = "it", disable: bool = False):
    """A tqdm bar on stderr; ``disable=True`` (``--quiet``) makes it a no-op."""
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=False, dynamic_ncols=True)
