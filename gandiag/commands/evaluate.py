"""gandiag evaluate: score a generator or a sample set against real data."""
from __future__ import annotations

import json
from pathlib import Path

from ._common import (add_device, add_force, add_generator_arguments, add_image_format, add_quiet, add_seed,
                      resolve_device)

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


def run(args) -> int:
    from ..evaluation import resolve_metrics
    from ..fileio import atomic_write_json
    from ..sources import load_source
    from ..fileio import check_output_dir
    from ._summary import print_summary

    options = options_from_args(args)
    resolve_metrics(options.metrics, True)  # fail on a typo before sampling anything
    if args.out is not None:  # outputs are checked before the computation, not after it
        check_output_dir(args.out, ("metrics.json", "report.html"), inputs=[args.source, args.ref, args.heldout],
                         force=args.force)
    fake = load_source(args.source, num_samples=args.num_samples, seed=args.seed, value_range=args.output_range,
                       layout=args.layout, npz_key=args.npz_key, z_dim=args.z_dim, batch_size=args.batch_size,
                       trust_pickle=args.trust_pickle, device=options.device, progress=not args.quiet)
    from ..evaluation import evaluate

    result = evaluate(fake, options, source_provenance=fake.provenance)  # spec, kind, role, generator metadata
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
