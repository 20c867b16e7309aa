"""gandiag evaluate: score a generator or a sample set against real data."""
from __future__ import annotations

import json
from pathlib import Path

from ._common import add_device, add_image_format, add_quiet, add_seed, resolve_device

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
    from ..evaluation import EVALUATIONS

    parser.add_argument("source", help="generator or samples (see above)")
    parser.add_argument("--out", default=None, help="folder for metrics.json and report.html (none: print JSON)")
    if with_metrics:
        parser.add_argument("--metrics", default=None,
                            help="comma-separated, from: " + ", ".join(EVALUATIONS.names())
                            + " (default: MNIST-like data -> mnist-fid,mnist-is,modes,kid,prdc,parzen,neighbours; "
                            "else fid,is,kid,prdc)")
    parser.add_argument("--ref", default="mnist-subset",
                        help="real training data: mnist-subset[:train|test|all], fashion-mnist[:DIR][:test], "
                        "torchvision-mnist:ROOT, a folder, .npz/.npy or idx file")
    parser.add_argument("--heldout", default=None,
                        help="held-out real data for Parzen and the copying baseline (default: mnist-subset:test "
                        "for the embedded subset, else 20%% of --ref)")
    parser.add_argument("--extractor", default=None,
                        help="features for fid/kid/prdc/fid-inf (see `gandiag extractors`; default mnist-classifier "
                        "for MNIST-like data, else inception-v3-fid)")
    parser.add_argument("--weights", default=None, help="weights file for the extractor (e.g. Inception)")
    parser.add_argument("--allow-download", action="store_true", help="let the extractor download published weights")
    parser.add_argument("--num-samples", type=int, default=None,
                        help="generators: images to sample (default 10000); data: random subset size")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--z-dim", type=int, default=None, help="latent size when the file does not record it")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow loading pickled generators (runs code from the file: only for files you trust)")
    parser.add_argument("--kid-subset-size", type=int, default=None, help="rows per KID subset (default min(1000, N))")
    parser.add_argument("--mode-threshold", type=float, default=0.2,
                        help="a class is covered with at least this share of its fair share N/K")
    parser.add_argument("--cache-dir", default=None, help="reference feature cache (default $GANDIAG_CACHE or ~/.cache/gandiag)")
    add_image_format(parser)
    add_seed(parser)
    add_device(parser)
    add_quiet(parser)


def options_from_args(args, **overrides):
    from ..evaluation import EvaluateOptions

    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if getattr(args, "metrics", None) else None
    return EvaluateOptions(
        metrics=metrics, ref=args.ref, heldout=args.heldout, extractor=args.extractor,
        batch_size=args.batch_size, seed=args.seed, device=resolve_device(args.device), weights=args.weights,
        allow_download=args.allow_download, cache_dir=args.cache_dir, kid_subset_size=args.kid_subset_size,
        mode_threshold=args.mode_threshold, progress=not args.quiet, **overrides)


def run(args) -> int:
    from ..evaluation import resolve_metrics
    from ..fileio import atomic_write_json
    from ..generators import is_generator_spec
    from ..sources import load_source
    from ._summary import print_summary

    options = options_from_args(args, **getattr(args, "_overrides", {}))
    resolve_metrics(options.metrics, True)  # fail on a typo before sampling anything
    fake = load_source(args.source, num_samples=args.num_samples, seed=args.seed, value_range=args.output_range,
                       layout=args.layout, npz_key=args.npz_key, z_dim=args.z_dim, batch_size=args.batch_size,
                       trust_pickle=args.trust_pickle, device=options.device, progress=not args.quiet)
    provenance = {"spec": args.source, "kind": "generator" if is_generator_spec(args.source) else "data",
                  "description": fake.source}
    from ..evaluation import evaluate

    result = evaluate(fake, options, source_provenance=provenance)
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
