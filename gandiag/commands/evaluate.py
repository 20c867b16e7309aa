"""gandiag evaluate: score a generator or a sample set against real data."""
from __future__ import annotations

import json
from pathlib import Path

from ._common import (add_device, add_force, add_generator_arguments, add_image_format, add_quiet, add_seed,
                      positive_int, resolve_device)

NAME = "evaluate"
ORDER = 10
HELP = "score a generator or samples (any framework) against real data; write metrics.json + report.html"
DESCRIPTION = """Score SOURCE against real data and write metrics.json and a self-contained report.html.

SOURCE is a folder of PNG/JPEG images, an .npz/.npy array file ('images' [+ 'labels'];
uint8 0..255 or float 0..1, NCHW or NHWC), a TorchScript file, a torch.export .pt2
program, a package.module:callable, or a reference-trainer checkpoint / run folder.
Generators are sampled with --num-samples latents from --seed; --z-dim and
--output-range are read from the file when it records them and are never guessed.

examples:
  gandiag evaluate samples.npz --out eval/
  gandiag evaluate generator.ts --num-samples 10000 --out eval/
  gandiag evaluate my_pkg.models:build_generator --z-dim 100 --output-range -1,1 --out eval/
  gandiag evaluate runs/dcgan --metrics modes,mnist-fid,neighbours --out eval/
  gandiag evaluate imgs/ --ref cifar_train/ --metrics fid,kid --weights pt_inception-2015-12-05-6726825d.pth
  gandiag evaluate cgan.ts --num-classes 10 --metrics modes,intra-fid,cas --out eval/
  gandiag evaluate samples_2d.npy --toy ring8 --out eval/     # (N, 2) points of a 2-D toy GAN
"""


def add_arguments(parser, *, with_metrics: bool = True) -> None:
    from ..evaluation import DEFAULT_MNIST, DEFAULT_NATURAL, EvaluateOptions
    from ..metrics import list_metrics
    from ..options import add_dataclass_arguments

    parser.add_argument("source", help="generator or samples (see above)")
    parser.add_argument("--out", default=None, help="folder for metrics.json and report.html (none: print JSON)")
    if with_metrics:
        parser.add_argument("--metrics", default=None,
                            help="comma-separated, from: " + ", ".join(list_metrics())
                            + f" (default: MNIST-like data -> {','.join(DEFAULT_MNIST)}; else {','.join(DEFAULT_NATURAL)})")
    add_generator_arguments(parser)
    if with_metrics:
        parser.add_argument("--num-classes", type=positive_int, default=None,
                            help="conditional generators: number of labels when the file does not record it "
                            "(samples are drawn for balanced labels 0..K-1)")
        parser.add_argument("--toy", choices=["ring8", "grid25"], default=None,
                            help="SOURCE is a (N, 2) .npy/.npz of 2-D points: score modes covered (3 sigma), "
                            "high-quality fraction and KL over the modes of this mixture instead of images")
    add_dataclass_arguments(parser, EvaluateOptions)  # every evaluation/metric option, declared once
    add_image_format(parser)
    add_seed(parser)
    add_device(parser)
    add_force(parser)
    add_quiet(parser)


def options_from_args(args):
    from ..evaluation import EvaluateOptions
    from ..options import dataclass_kwargs_from_args

    metrics = None if getattr(args, "metrics", None) is None else tuple(m.strip() for m in args.metrics.split(","))
    if metrics is not None and not any(metrics):
        from ..errors import GandiagError

        raise GandiagError(f"--metrics {args.metrics!r} names no metric; give a comma-separated list, e.g. "
                           "--metrics fid,kid (or omit it for the defaults)")
    metrics = None if metrics is None else tuple(m for m in metrics if m)
    return EvaluateOptions(metrics=metrics, seed=args.seed, device=resolve_device(args.device), progress=not args.quiet,
                           **dataclass_kwargs_from_args(EvaluateOptions, args))


def _warn_unpublished(metrics) -> None:
    """Numbers from non-published Inception weights: a warning on stderr, not only a provenance row."""
    import sys

    from ..weights_notice import unpublished_notices

    prov = metrics.get("provenance") if isinstance(metrics, dict) else None
    for notice in unpublished_notices((prov or {}).get("extractors", {})):
        print(f"warning: {notice}", file=sys.stderr)


def run(args) -> int:
    from ..evaluation import resolve_metrics
    from ..fileio import atomic_write_json
    from ..sources import load_source
    from ..fileio import check_output_dir
    from ._summary import print_summary

    if getattr(args, "toy", None):
        return _run_toy(args)
    options = options_from_args(args)
    resolve_metrics(options.metrics, True)  # fail on a typo before sampling anything
    if args.out is not None:  # outputs are checked before the computation, not after it
        check_output_dir(args.out, ("metrics.json", "report.html"), inputs=[args.source, args.ref, args.heldout],
                         force=args.force)
    fake = load_source(args.source, num_samples=args.num_samples, seed=args.seed, value_range=args.output_range,
                       layout=args.layout, npz_key=args.npz_key, z_dim=args.z_dim, batch_size=args.batch_size,
                       trust_pickle=args.trust_pickle, device=options.device, progress=not args.quiet,
                       num_classes=getattr(args, "num_classes", None))
    from ..evaluation import evaluate

    result = evaluate(fake, options, source_provenance=fake.provenance)  # spec, kind, role, generator metadata
    _warn_unpublished(result.metrics)
    if args.out is None:
        print(json.dumps(result.metrics, indent=2))
        return 0
    out = Path(args.out)
    atomic_write_json(out / "metrics.json", result.metrics)
    from ..report import render_evaluation_report

    render_evaluation_report(result, out / "report.html", title=f"gandiag evaluation: {args.source}")
    print_summary(result.metrics)
    print(f"wrote {out / 'metrics.json'} and {out / 'report.html'}")
    return 0


def _run_toy(args) -> int:
    """``--toy ring8|grid25``: 2-D points in, toy-mode metrics (and a scatter plot) out."""
    import numpy as np

    from ..errors import GandiagError
    from ..fileio import atomic_write_bytes, atomic_write_json, check_output_dir
    from ..metrics.toy_modes import get_toy_setup, toy_mode_metrics

    path = Path(args.source)
    if path.suffix not in (".npy", ".npz") or not path.is_file():
        raise GandiagError(f"--toy: SOURCE must be an existing .npy or .npz file of (N, 2) points, got {args.source}")
    if path.suffix == ".npy":
        points = np.load(path, allow_pickle=False)
    else:
        with np.load(path, allow_pickle=False) as z:
            key = args.npz_key or ("points" if "points" in z.files else z.files[0] if len(z.files) == 1 else None)
            if key is None or key not in z.files:
                raise GandiagError(f"--toy: {path} holds {z.files}; name the (N, 2) array with --npz-key")
            points = z[key]
    if args.out is not None:
        check_output_dir(args.out, ("metrics.json", "toy_modes.png"), inputs=[args.source], force=args.force)
    result = {"toy-modes": toy_mode_metrics(points, args.toy), "provenance": {"source": str(path), "toy": args.toy}}
    if args.out is None:
        print(json.dumps(result, indent=2))
        return 0
    from ..report.collapse_figures import toy_scatter

    out = Path(args.out)
    setup = get_toy_setup(args.toy)
    atomic_write_json(out / "metrics.json", result)
    atomic_write_bytes(out / "toy_modes.png", toy_scatter(np.asarray(points, dtype=float), setup.centres, setup.std,
                                                          result["toy-modes"], title=args.toy))
    r = result["toy-modes"]
    print(f"{args.toy}: {r['modes_covered']}/{r['num_modes']} modes covered, high quality "
          f"{100 * r['high_quality_fraction']:.1f}%, KL to uniform {r['kl_to_uniform']}")
    print(f"wrote {out / 'metrics.json'} and {out / 'toy_modes.png'}")
    return 0
