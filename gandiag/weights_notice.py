"""The warning every number computed with non-published Inception weights carries.

FID, IS and KID values are comparable with published tables only when the extractor ran the
published weights. :mod:`gandiag.features.weights` decides whether a file is the published one
(``weights_published`` in the extractor's provenance); this module only turns that fact into the
words the command line prints (stderr, before the number) and the report shows in its first lines,
so a "FID: 1.087" from random or retrained weights is never read as a real FID.
"""
from __future__ import annotations

from typing import List, Mapping


def unpublished_notice(name: str, provenance: Mapping) -> str:
    """One sentence for an extractor whose weights are not the published file, else ``""``."""
    if not isinstance(provenance, Mapping) or provenance.get("weights_published", True) is not False:
        return ""
    weights = provenance.get("weights") if isinstance(provenance.get("weights"), Mapping) else {}
    sha = str(weights.get("sha256") or provenance.get("weights_sha256") or "")[:12]
    note = provenance.get("weights_note")
    return (f"{name} ran with unpublished weights" + (f" (sha256 {sha}...)" if sha else "")
            + ": its numbers cannot be compared with published FID/IS/KID values"
            + (f"; {note}" if note else ""))


def unpublished_notices(extractors: Mapping) -> List[str]:
    """Notices for every extractor in a ``provenance["extractors"]`` mapping."""
    if not isinstance(extractors, Mapping):
        return []
    return [text for name, prov in sorted(extractors.items()) if (text := unpublished_notice(name, prov))]


__all__ = ["unpublished_notice", "unpublished_notices"]
