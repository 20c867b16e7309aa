"""gandiag conformance: one pair's FID, IS and KID under all three Inception protocols, side by side."""
from __future__ import annotations

from typing import Dict, Optional

from ._common import (INCEPTION_PROTOCOLS, add_device, add_force, add_generator_arguments, add_image_format,
                      add_quiet, add_seed, positive_int, resolve_device)

NAME = "conformance"
ORDER = 32
HELP = "FID/IS/KID of one pair under the pytorch-fid, clean and torch-fidelity protocols, with deltas"
DESCRIPTION = """The same InceptionV3 weights give different numbers under different input protocols
(resize + normalisation; Parmar et al. 2022). This command computes FID(A, B), KID(A, B) and the
Inception Score of B under each of the three protocols gandiag implements, prints them side by
side with the differences from the pytorch-fid protocol, and says which published tables each
protocol's numbers can be put next to. Use it before quoting a number next to a paper's table.

IS conventions: torch-fidelity shuffles rows with seed 2020 before its 10 splits (its isc); the
pytorch-fid and clean protocols have no peer IS (pytorch-fid and clean-fid compute none), so they
use the original TF code's in-order splits on their own logits. KID: torch-fidelity's estimator
(100 subsets of min(1000, N) rows, cubic kernel) on each protocol's features, seeded by --seed.

examples:
  gandiag conformance real_images/ samples/ --weights pt_inception-2015-12-05-6726825d.pth
  gandiag conformance real.npz generator.pt --num-samples 10000 --out conformance.json
"""


def add_arguments(parser) -> None:
    parser.add_argument("a", help="real images (data spec: folder, .npz, mnist-subset, ...)")
    parser.add_argument("b", help="generated images or a generator")
    parser.add_argument("--weights", default=None, help="InceptionV3 weights file (see docs/extractors.md)")
    parser.add_argument("--allow-download", action="store_true")
    parser.add_argument("--batch-size", type=positive_int, default=50)
    parser.add_argument("--is-splits", type=positive_int, default=10)
    parser.add_argument("--kid-subsets", type=positive_int, default=100)
    parser.add_argument("--out", default=None, help="also write the table as JSON to this file")
    add_generator_arguments(parser, num_samples_help="B as a generator: images to sample (default {n}); data: a "
                            "seeded random subset")
    add_image_format(parser)
    add_seed(parser)
    add_device(parser)
    add_force(parser)
    add_quiet(parser)


def conformance(a, b, *, weights=None, allow_download: bool = False, device: str = "cpu", batch_size: int = 50,
                is_splits: int = 10, kid_subsets: int = 100, seed: int = 0, progress: bool = False) -> Dict[str, object]:
    """FID(a, b), KID(a, b) and IS(b) per protocol for canonical image arrays ``a`` and ``b``.

    Returns:
        ``{"protocols": {name: {"fid", "kid", "kid_std", "is", "is_std", "is_convention", "matches",
        "description"}}, "deltas_vs_pytorch_fid": {...}, "weights": {...}, ...}``.
    """
    from ..features.inception import InceptionExtractor
    from ..features.resize import PROTOCOL_DESCRIPTIONS, PROTOCOL_TABLES
    from ..metrics.inception_score import INCEPTION_SCORE_CONVENTIONS
    from ..metrics import fid_from_features, inception_score_from_logits, kid

    rows: Dict[str, Dict[str, object]] = {}
    weights_prov: Optional[Dict[str, object]] = None
    for protocol in INCEPTION_PROTOCOLS:
        ext = InceptionExtractor(device=device, weights=weights, allow_download=allow_download, protocol=protocol)
        if weights_prov is None:
            prov = ext.provenance()
            weights_prov = {k: v for k, v in prov.items() if k.startswith("weights")}
        fa = ext.extract(a, batch_size=batch_size, outputs=("features",), progress=progress)["features"]
        fb = ext.extract(b, batch_size=batch_size, outputs=("features", "logits"), progress=progress)
        convention = INCEPTION_SCORE_CONVENTIONS[protocol]
        is_mean, is_std = inception_score_from_logits(fb["logits"], splits=is_splits, shuffle=convention["shuffle"],
                                                      seed=convention.get("seed", 0))
        size = min(1000, len(fa), len(fb["features"]))
        kid_mean, kid_std = kid(fa, fb["features"], subsets=kid_subsets, subset_size=size, seed=seed)
        rows[protocol] = {
            "fid": fid_from_features(fa, fb["features"]), "kid": kid_mean, "kid_std": kid_std,
            "kid_subset_size": size, "is": is_mean, "is_std": is_std, "is_splits": is_splits,
            "is_convention": convention["note"], "is_peer": convention["peer"],
            "matches": PROTOCOL_TABLES[protocol], "description": PROTOCOL_DESCRIPTIONS[protocol],
        }
    base = rows["pytorch-fid"]
    deltas = {p: {k: float(r[k] - base[k]) for k in ("fid", "kid", "is")} for p, r in rows.items()}
    return {"protocols": rows, "deltas_vs_pytorch_fid": deltas, "weights": weights_prov,
            "num_a": int(len(a)), "num_b": int(len(b)), "seed": seed}


def run(args) -> int:
    from ..data import load_images
    from ..fileio import atomic_write_json, check_output_file
    from ..sources import load_source

    if args.out:
        check_output_file(args.out, inputs=[args.a, args.b], force=args.force)
    device = resolve_device(args.device)
    a = load_images(args.a, value_range=args.output_range, layout=args.layout, npz_key=args.npz_key)
    b = load_source(args.b, num_samples=args.num_samples, seed=args.seed, value_range=args.output_range,
                    layout=args.layout, npz_key=args.npz_key, z_dim=args.z_dim, batch_size=args.batch_size,
                    trust_pickle=args.trust_pickle, device=device, progress=not args.quiet)
    result = conformance(a.images, b.images, weights=args.weights, allow_download=args.allow_download, device=device,
                         batch_size=args.batch_size, is_splits=args.is_splits, kid_subsets=args.kid_subsets,
                         seed=args.seed, progress=not args.quiet)
    result["a"], result["b"] = {"spec": args.a, "description": a.source}, {"spec": args.b, "description": b.source}
    marker = (result["weights"] or {}).get("weights_marker", "")
    tag = f"  [{marker}]" if marker else ""
    print(f"A = {a.source} ({len(a)} images), B = {b.source} ({len(b)} images), seed {args.seed}{tag}")
    print(f"  {'protocol':<15} {'FID':>10} {'dFID':>9} {'KID':>10} {'dKID':>10} {'IS(B)':>8} {'dIS':>8}")
    for protocol, r in result["protocols"].items():
        d = result["deltas_vs_pytorch_fid"][protocol]
        print(f"  {protocol:<15} {r['fid']:10.4f} {d['fid']:+9.4f} {r['kid']:10.5f} {d['kid']:+10.5f} "
              f"{r['is']:8.4f} {d['is']:+8.4f}{tag}")
    print("matches:")
    for protocol, r in result["protocols"].items():
        print(f"  {protocol:<15} {r['matches']}")
        print(f"  {'':<15} IS: {r['is_convention']}")
    if marker:
        print(f"these numbers use {marker} ({(result['weights'] or {}).get('weights_path', '')}): they cannot be put "
              "next to any published table")
    if args.out:
        atomic_write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0
