"""Plain-text summaries of results for the terminal (shared by evaluate, diagnose and demo)."""
from __future__ import annotations

from typing import Dict


def metric_lines(metrics: Dict[str, object]) -> list:
    """One human-readable line per metric present in a metrics.json dict."""
    lines = []
    m = metrics
    for key, label in (("fid", "FID"), ("mnist_fid", "MNIST-classifier FID")):
        if key in m:
            ci = m[key].get("ci95")
            lines.append(f"{label}: {m[key]['value']:.3f}" + (f"  (95% CI {ci[0]:.3f}..{ci[1]:.3f})" if ci else "")
                         + f"  [{m[key]['extractor']}, lower is better]")
    if "fid_inf" in m:
        lines.append(f"FID-infinity: {m['fid_inf']['fid_inf']:.3f}")
    for key, label in (("inception_score", "Inception Score"), ("mnist_inception_score", "MNIST Inception Score")):
        if key in m:
            lines.append(f"{label}: {m[key]['mean']:.3f} ± {m[key]['std']:.3f}  [higher is better]")
    if "kid" in m:
        lines.append(f"KID: {m['kid']['mean']:.5f} ± {m['kid']['std']:.5f}  [lower is better]")
    if "prdc" in m:
        p = m["prdc"]
        lines.append(f"precision {p['precision']:.3f}  recall {p['recall']:.3f}  density {p['density']:.3f}  "
                     f"coverage {p['coverage']:.3f}")
    if "parzen" in m:
        p = m["parzen"]
        lines.append(f"Parzen log-likelihood: {p['mean']:.1f} ± {p['stderr']:.1f} nats (sigma {p['sigma']:.3f})")
    if "modes" in m:
        mo = m["modes"]
        missing = ", ".join(map(str, mo["missing"])) or "none"
        kl = mo.get("kl_to_reference")
        lines.append(f"modes covered: {mo['covered']}/{mo['num_classes']} (missing: {missing})"
                     + (f"; KL to reference {kl:.3f} nats" if kl is not None else ""))
    if "neighbours" in m:
        n = m["neighbours"]
        flag = "COPYING FLAGGED" if n["copying"] else "no copying"
        lines.append(f"data copying: {n['copy_fraction']:.1%} of samples closer to training data than 95% of "
                     f"held-out images (expected ~{n['expected_fraction']:.0%}) -> {flag}")
    return lines


def print_summary(metrics: Dict[str, object]) -> None:
    for line in metric_lines(metrics):
        print("  " + line)
