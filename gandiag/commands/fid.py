"""gandiag fid: FID between two sources or two statistics files (pytorch-fid style)."""
from __future__ import annotations

from pathlib import Path

from ._common import (add_device, add_force, add_generator_arguments, add_image_format, add_protocol, add_quiet,
                      add_seed, extractor_options, positive_int, resolve_device)

NAME = "fid"
ORDER = 30
HELP = "FID between two sources or two mu/sigma .npz files (pytorch-fid compatible)"
DESCRIPTION = """Fréchet distance between A and B, each a source (image folder, arrays, generator,
mnist-subset, ...) or a statistics .npz with 'mu' and 'sigma' (pytorch-fid's format,
also written by `gandiag extract --stats` and by --save-stats here).

Default extractor: inception-v3-fid (pytorch-fid's network; needs its weights: --weights
PATH, $GANDIAG_INCEPTION_WEIGHTS, the TORCH_HOME cache, or --allow-download).

examples:
  gandiag fid real_stats.npz fake_stats.npz
  gandiag fid samples/ mnist-subset --extractor mnist-classifier
  gandiag fid --save-stats mnist-subset mnist_stats.npz --extractor mnist-classifier
"""


def add_arguments(parser) -> None:
    parser.add_argument("a", help="source or stats .npz")
    parser.add_argument("b", help="source or stats .npz (with --save-stats: the output file)")
    parser.add_argument("--save-stats", action="store_true", help="compute statistics of A and write them to B")
    parser.add_argument("--extractor", default="inception-v3-fid", help="feature extractor (see `gandiag extractors`)")
    parser.add_argument("--weights", default=None, help="extractor weights file")
    parser.add_argument("--allow-download", action="store_true")
    add_generator_arguments(parser, num_samples_help="generators: samples to draw (default {n}); data: a seeded "
                            "random subset")
    parser.add_argument("--batch-size", type=positive_int, default=100)
    add_image_format(parser)
    add_seed(parser)
    add_device(parser)
    add_force(parser)
    add_quiet(parser)
    add_protocol(parser)


def _is_stats_file(spec: str) -> bool:
    import numpy as np

    path = Path(spec)
    if path.suffix != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            # 'mu' or 'sigma' alone is a broken statistics file, not images: FeatureStats.load says so
            return "mu" in data.files or "sigma" in data.files
    except Exception:
        return False


def _stats(spec: str, args, extractor_cache: dict):
    if _is_stats_file(spec):
        # Only numpy for statistics files: extractors and sources import torch (seconds of start-up).
        from ..metrics.stats import FeatureStats

        return FeatureStats.load(spec), {"stats_file": spec}
    from ..features import cached_stats, extract_stats, get_extractor
    from ..generators import is_generator_spec
    from ..sources import load_source

    if "ext" not in extractor_cache:
        extractor_cache["ext"] = get_extractor(args.extractor, device=resolve_device(args.device),
                                               weights=args.weights, allow_download=args.allow_download,
                                               **extractor_options(args.extractor, args.protocol))
    ext = extractor_cache["ext"]
    images = load_source(spec, num_samples=args.num_samples, seed=args.seed, value_range=args.output_range,
                         layout=args.layout, npz_key=args.npz_key, z_dim=args.z_dim, batch_size=args.batch_size,
                         trust_pickle=args.trust_pickle, device=resolve_device(args.device), progress=not args.quiet)
    if is_generator_spec(spec):
        stats = extract_stats(ext, images.images, batch_size=args.batch_size, progress=not args.quiet)
    else:
        stats = cached_stats(images, ext, batch_size=args.batch_size, progress=not args.quiet)
    return stats, {"source": spec, "num_images": len(images)}


def run(args) -> int:
    from ..metrics.frechet import frechet_distance

    cache: dict = {}
    if args.save_stats:  # before any computation: never over an input or an existing file
        from ..fileio import check_output_file

        check_output_file(args.b, inputs=[args.a], force=args.force, flag="--save-stats output")
    a, _ = _stats(args.a, args, cache)
    if args.save_stats:
        a.save(args.b)
        print(f"wrote statistics of {args.a} ({a.count if a.count is not None else '?'} images) to {args.b}")
        return 0
    b, _ = _stats(args.b, args, cache)
    value = frechet_distance(a.mean, a.cov, b.mean, b.cov)
    tag = ""
    if "ext" in cache:
        import sys

        from ..weights_notice import unpublished_notice

        notice = unpublished_notice(cache["ext"].name, cache["ext"].provenance())
        if notice:  # said before the number, and the number carries the label too
            print(f"warning: {notice}", file=sys.stderr)
        tag = f"  [{cache['ext'].name}{', unpublished weights' if notice else ''}]"
        if cache["ext"].name == "inception-v3-fid":  # which published tables the number may stand next to
            tag += f"  [protocol {cache['ext'].protocol}]"
    print(f"FID: {value:.6f}{tag}")
    return 0
