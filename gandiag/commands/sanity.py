"""gandiag sanity: metric-vs-disturbance curves on real data (Heusel et al. 2017's FID checks)."""
from __future__ import annotations

from ._common import (add_device, add_force, add_protocol, add_quiet, add_seed, extractor_options, positive_int,
                      resolve_device)

NAME = "sanity"
ORDER = 45
HELP = "check a metric/extractor on your data: disturb real images at increasing levels, plot each metric"
DESCRIPTION = """The disturbance experiments of Heusel et al. 2017 (the FID paper): Gaussian noise,
Gaussian blur, black rectangles, swirl, salt-and-pepper and contamination with another data set,
each at increasing levels, applied to half of the real data and compared with the other half.
A metric you can trust on this domain gets monotonically worse with every level; non-monotone
curves are flagged (and drawn in red). Writes sanity.json and sanity.png into --out.

Extractor: mnist-classifier for 1x28x28 data, inception-v3-fid otherwise (--extractor to choose).

examples:
  gandiag sanity --ref mnist-subset --contaminate fashion-mnist:test --out sanity/
  gandiag sanity --ref images/ --metrics fid,kid,precision,recall --protocol clean --out sanity/
"""


def add_arguments(parser) -> None:
    parser.add_argument("--ref", required=True, help="real images (data spec: folder, .npz, mnist-subset, ...)")
    parser.add_argument("--metrics", default="fid,kid",
                        help="comma-separated: fid, kid, is, precision, recall, density, coverage")
    parser.add_argument("--disturbances", default=None,
                        help="comma-separated: noise, blur, rectangles, swirl, salt-pepper, contamination "
                        "(default: all; contamination only with --contaminate)")
    parser.add_argument("--contaminate", default=None, metavar="DATA",
                        help="another data set (same image shape) for the contamination disturbance")
    parser.add_argument("--num-images", type=positive_int, default=1000,
                        help="images per half (the reference needs twice as many)")
    parser.add_argument("--extractor", default=None, help="feature extractor (see `gandiag extractors`)")
    parser.add_argument("--weights", default=None, help="extractor weights file")
    parser.add_argument("--allow-download", action="store_true")
    add_protocol(parser)
    parser.add_argument("--batch-size", type=positive_int, default=250)
    parser.add_argument("--out", default="sanity", help="output folder for sanity.json and sanity.png")
    add_seed(parser)
    add_device(parser)
    add_force(parser)
    add_quiet(parser)


def _names(text):
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def run(args) -> int:
    import platform

    import numpy as np

    from .. import __version__
    from ..data import load_images
    from ..diagnostics.sanity import run_sanity, sanity_figure
    from ..evaluation import MNIST_SHAPE
    from ..features import get_extractor
    from ..fileio import atomic_write_bytes, atomic_write_json, check_output_dir

    out = check_output_dir(args.out, ("sanity.json", "sanity.png"), inputs=[args.ref, args.contaminate],
                           force=args.force)
    ref = load_images(args.ref)
    other = load_images(args.contaminate) if args.contaminate else None
    name = args.extractor or ("mnist-classifier" if tuple(ref.shape) == MNIST_SHAPE else "inception-v3-fid")
    ext = get_extractor(name, device=resolve_device(args.device), weights=args.weights,
                        allow_download=args.allow_download, **extractor_options(name, args.protocol))
    result = run_sanity(ref.images, ext, metrics=_names(args.metrics), disturbances=_names(args.disturbances) or None,
                        other=None if other is None else other.images, num=args.num_images, seed=args.seed,
                        batch_size=args.batch_size, progress=not args.quiet)
    prov = ext.provenance()
    marker = prov.get("weights_marker", "")
    result["provenance"] = {
        "gandiag_version": __version__, "numpy_version": np.__version__, "python": platform.python_version(),
        "ref": {"spec": args.ref, "description": ref.source, "num_images": len(ref)},
        "contaminate": None if other is None else {"spec": args.contaminate, "description": other.source},
        "extractor": prov, "protocol": getattr(ext, "protocol", "none"), "seed": args.seed,
    }
    title = f"gandiag sanity: {ref.source} ({name}" + (f", {ext.protocol}" if name == "inception-v3-fid" else "") + \
        (f", {marker}" if marker else "") + f"; {args.num_images} vs {args.num_images} images)"
    atomic_write_json(out / "sanity.json", result)
    atomic_write_bytes(out / "sanity.png", sanity_figure(result, title))
    tag = f"  [{marker}]" if marker else ""
    print(f"sanity on {ref.source} with {name}" + (f" (protocol {ext.protocol})" if name == "inception-v3-fid" else "")
          + f", {args.num_images} vs {args.num_images} images, seed {args.seed}{tag}")
    for d, curves in result["curves"].items():
        for m, curve in curves.items():
            values = " ".join(f"{v:.4g}" for v in curve["values"])
            state = "monotone" if curve["monotone"] else "NOT MONOTONE"
            print(f"  {d:<13} {m:<9} levels {','.join(f'{v:g}' for v in curve['levels'])}: {values}  {state}{tag}")
    if result["flags"]:
        print(f"{len(result['flags'])} non-monotone step(s): these metrics do not rank those disturbances here")
        for flag in result["flags"]:
            print("  " + flag)
    else:
        print("every curve is monotone")
    print(f"wrote {out / 'sanity.json'} and {out / 'sanity.png'}")
    return 0
