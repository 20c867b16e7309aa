"""``gandiag extract``: features, logits or FID statistics of any image source."""
from __future__ import annotations

import argparse

from ._common import add_device, add_force, add_image_format, add_quiet, add_seed, positive_int

NAME = "extract"
HELP = "extract features/logits (or pytorch-fid mu/sigma stats) of a source with a registered extractor"
ORDER = 40
DESCRIPTION = """Run a feature extractor over SOURCE and write an .npz.

SOURCE is anything gandiag.sources.load_source understands: mnist-subset[:test|all],
fashion-mnist[:test], torchvision-mnist:ROOT, a folder of PNG/JPEG, an .npz/.npy array, idx files.
Without --stats the file holds 'features' (N, D) float32, 'logits' (N, K) when the extractor has
them, 'labels' when the source has them, and 'provenance' (JSON: extractor, weights sha256,
protocol, dtype). With --stats it holds float64 'mu' and 'sigma' (N-1 covariance) that pytorch-fid
reads as is, plus 'count'/'m2' (mergeable FeatureStats) and 'provenance'.

Extractors: see `gandiag extractors`. inception-v3-fid needs the published weights
pt_inception-2015-12-05-6726825d.pth: --weights PATH, $GANDIAG_INCEPTION_WEIGHTS, the torch hub
cache ($TORCH_HOME/hub/checkpoints), or --allow-download (sha256-checked). --protocol picks the
resize: pytorch-fid (default), clean (clean-fid) or torch-fidelity.

--timed reports images/s, batch latency p50/p90/p99 and peak memory; with --amp, --channels-last
or --compile it also reports how far the features move from float32 (inception-v3-fid runs
channels-last by default; --no-channels-last turns it off).

Under torchrun the work is sharded across processes (gloo on CPU, nccl on GPU); rank 0 writes.

examples:
  gandiag extract mnist-subset:test --extractor mnist-classifier --out mnist_test_feats.npz
  gandiag extract samples.npz --extractor inception-v3-fid --allow-download --stats --out fake_stats.npz
  gandiag extract real_images/ --extractor inception-v3-fid --protocol clean --weights pt_inception-2015-12-05-6726825d.pth --stats --out ref.npz
  gandiag extract mnist-subset --extractor pixels --timed --batch-size 256 --out pixels.npz
  gandiag extract data.npz --extractor inception-v3-fid --device cuda --amp bf16 --channels-last --timed --out f.npz
  torchrun --nproc_per_node=2 -m gandiag extract mnist-subset --extractor mnist-classifier --stats --out ref.npz
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="data spec, folder, .npz/.npy or idx file")
    parser.add_argument("--extractor", default="inception-v3-fid",
                        help="registered name (see `gandiag extractors`), TorchScript file or module:callable")
    parser.add_argument("--out", required=True, metavar="FILE.npz", help="output file (written atomically)")
    parser.add_argument("--stats", action="store_true", help="write float64 mu/sigma (+count, m2) instead of features")
    parser.add_argument("--timed", action="store_true", help="report images/s, latency percentiles, peak memory")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="images per batch (default: the extractor's)")
    add_device(parser)
    parser.add_argument("--weights", default=None, metavar="PATH", help="weights file for the extractor")
    parser.add_argument("--allow-download", action="store_true",
                        help="download published weights if not found locally (sha256-checked)")
    parser.add_argument("--protocol", default=None, choices=["pytorch-fid", "clean", "torch-fidelity"],
                        help="InceptionV3 input resize protocol (inception-v3-fid only; default pytorch-fid)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="NHWC memory layout for the network (default: the extractor's choice, "
                             "on for inception-v3-fid)")
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None, help="autocast dtype (default float32)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--num-samples", type=positive_int, default=None, help="seeded random subset of SOURCE")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow an extractor .pt2 whose archive pickles Python objects (runs code from the file)")
    parser.add_argument("--cache", action="store_true",
                        help="use the reference cache ($GANDIAG_CACHE, default ~/.cache/gandiag)")
    add_image_format(parser)
    add_seed(parser)
    add_force(parser)
    add_quiet(parser)


def _build(args, device: str):
    from ..features import get_extractor

    from ..features.registry import EXTRACTORS

    opts = {} if args.protocol is None else {"protocol": args.protocol}
    if args.trust_pickle and args.extractor not in EXTRACTORS:
        opts["trust_pickle"] = True  # a user's .pt2 extractor file (see gandiag.safe_load)
    return get_extractor(args.extractor, device=device, weights=args.weights, allow_download=args.allow_download,
                         channels_last=args.channels_last, amp=args.amp, compile=args.compile, **opts)


def _write(args, extractor, data, features=None, stats=None, timing=None) -> None:
    import json
    import os
    import tempfile
    from pathlib import Path

    import numpy as np

    from ..fileio import atomic_save_npz

    meta = {"provenance": extractor.provenance(), "source": data.source, "num_images": len(data),
            "seed": args.seed}
    if timing is not None:
        meta["timing"] = timing.as_dict()
    extra = {"provenance": np.asarray(json.dumps(meta, sort_keys=True))}
    out = Path(args.out)
    if stats is not None:
        # FeatureStats.save owns the stats format (mu, sigma, count, m2, version); re-pack it
        # with the provenance so one file says what produced it.
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out.parent)
        os.close(fd)
        try:
            stats.save(tmp)
            with np.load(tmp, allow_pickle=False) as saved:
                arrays = {k: saved[k] for k in saved.files}
        finally:
            os.unlink(tmp)
        atomic_save_npz(out, {**arrays, **extra})
    else:
        arrays = dict(features)
        if data.labels is not None:
            arrays["labels"] = np.asarray(data.labels)
        atomic_save_npz(out, {**arrays, **extra})


def run(args: argparse.Namespace) -> int:
    from ..errors import GandiagError
    from ..features import cached_features, cached_stats, extract_stats, time_extraction
    from ..features.distributed import distributed_features, distributed_stats, in_torchrun, init_from_env
    from ..metrics import FeatureStats
    from ..sources import load_source
    from ._common import resolve_device

    if not str(args.out).endswith(".npz"):
        raise GandiagError(f"--out must end in .npz, got {args.out!r}")
    from ..fileio import check_output_file

    check_output_file(args.out, inputs=[args.source, args.extractor, args.weights], force=args.force)
    device = resolve_device(args.device)
    data = load_source(args.source, num_samples=args.num_samples, seed=args.seed, value_range=args.output_range,
                       layout=args.layout, npz_key=args.npz_key)
    progress = not args.quiet
    if in_torchrun():
        if args.timed or args.cache:
            raise GandiagError("--timed and --cache are single-process options; run without torchrun")
        import torch.distributed as dist

        device = init_from_env(device)
        extractor = _build(args, device)
        try:
            if args.stats:
                stats = distributed_stats(data, extractor, batch_size=args.batch_size, progress=progress)
                features = None
            else:
                outputs = ("features", "logits") if extractor.num_classes is not None else ("features",)
                features = distributed_features(data, extractor, outputs, batch_size=args.batch_size,
                                                progress=progress)
                stats = None
            if dist.get_rank() == 0:
                _write(args, extractor, data, features=features, stats=stats)
                if not args.quiet:
                    print(f"wrote {args.out} ({len(data)} images, {dist.get_world_size()} processes)")
            dist.barrier()
        finally:
            dist.destroy_process_group()
        return 0

    extractor = _build(args, device)
    outputs = ("features", "logits") if extractor.num_classes is not None else ("features",)
    timing = features = stats = None
    if args.timed:
        timing = time_extraction(extractor, data.images, batch_size=args.batch_size, outputs=outputs,
                                 keep_outputs=True)
        features = timing.outputs
        if args.stats:
            stats = FeatureStats.from_features(features["features"])
    elif args.cache:
        if args.stats:
            stats = cached_stats(data, extractor, batch_size=args.batch_size, progress=progress)
        else:
            features = cached_features(data, extractor, outputs, batch_size=args.batch_size, progress=progress)
    elif args.stats:
        stats = extract_stats(extractor, data.images, batch_size=args.batch_size, progress=progress)
    else:
        features = extractor.extract(data.images, batch_size=args.batch_size, outputs=outputs, progress=progress)
    _write(args, extractor, data, features=None if args.stats else features, stats=stats, timing=timing)
    if timing is not None:  # the report is what --timed asks for: printed even with --quiet
        print(timing.summary())
    if not args.quiet:
        what = "mu/sigma stats" if args.stats else ", ".join(f"{k} {v.shape}" for k, v in features.items())
        print(f"wrote {args.out}: {what} of {len(data)} images from {data.source} ({extractor.name}, "
              f"protocol {extractor.protocol})")
    return 0
