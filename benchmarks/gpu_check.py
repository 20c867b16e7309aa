"""GPU check (issue 15): extraction speed vs pytorch-fid, execution options, FID on the GPU,
2-process extraction, peak memory -- one JSON file. Run through ``benchmarks/gpu_check.sh``.

``python benchmarks/gpu_check.py --out gpu_check.json`` on a CUDA machine runs in a few
minutes (sizes in ``SIZES``); ``--cpu`` runs the same code paths with tiny sizes on the CPU
(gloo instead of nccl, no ``torch.compile``), which is what CI runs
(``tests/benchmarks/test_gpu_check.py``) so the script cannot rot while no GPU is lent.

Sections of the JSON (every number is measured in this run):

* ``extraction``: images/s of pytorch-fid's ``InceptionV3([3])`` (as its ``get_activations``
  calls it) and of gandiag's ``inception-v3-fid`` in fp32 (BN folded, contiguous), with
  channels-last, with AMP (bf16, and fp16 on CUDA) and with ``torch.compile``; each
  non-fp32 variant with its measured feature deviation from gandiag fp32 and from
  pytorch-fid; peak GPU memory (``torch.cuda.max_memory_allocated``) per variant.
  Both networks hold the same random He-initialised weights (the published file cannot be
  downloaded on these machines; speed does not depend on the values).
* ``fid_gpu``: Fréchet distance from statistics (d = 2048; 256 on the CPU fallback) in float64 on the device
  (``torch.linalg`` Cholesky + ``eigvalsh``, the same algebra as
  :mod:`gandiag.metrics.frechet`) against the CPU ``frechet_distance``, with timings.
* ``distributed``: 2-process extraction (:func:`gandiag.features.distributed.distributed_stats`)
  against one process: max relative difference of mean and covariance. Backend nccl when
  the machine has >= 2 GPUs (one rank per GPU); NCCL refuses two ranks on one device, so
  with one GPU both ranks run on ``cuda:0`` over gloo (recorded as such); gloo on CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

SIZES = {
    # images, batch size, image side (resized to 299 inside both networks), timed repeats
    "cuda": {"images": 2000, "batch": 200, "side": 64, "repeats": 2, "dist_images": 1000, "fid_dim": 2048},
    "cpu": {"images": 4, "batch": 4, "side": 32, "repeats": 1, "dist_images": 4, "fid_dim": 256},
}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_reset(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str):
    import torch

    return int(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None


def _deviation(ref: np.ndarray, other: np.ndarray) -> dict:
    diff = np.abs(other.astype(np.float64) - ref.astype(np.float64))
    scale = float(np.abs(ref).max()) or 1.0
    return {"max_abs": float(diff.max()), "max_rel": float(diff.max() / scale)}


def _pytorch_fid_net(state, device):
    import pytorch_fid.inception as pfi

    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state):
        return pfi.InceptionV3([3]).eval().to(device)


def _peer_extract(net, images: np.ndarray, batch: int, device: str) -> np.ndarray:
    """pytorch-fid's get_activations loop (no file loader): no_grad, one forward per batch."""
    import torch

    out = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(images[s:s + batch]).to(device)
            out.append(net(x)[0].squeeze(3).squeeze(2).cpu().numpy())
    return np.concatenate(out)


def _timed(fn, repeats: int, device: str):
    """(result of the last call, best seconds, peak GPU bytes); on CUDA after one untimed warm-up."""
    if device.startswith("cuda"):
        fn()  # warm-up: cuDNN autotuning, torch.compile, lazy allocations
    _peak_reset(device)
    best = float("inf")
    result = None
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        result = fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return result, best, _peak(device)


def check_extraction(device: str, sizes: dict, weights_path: Path, state: dict, images: np.ndarray) -> dict:
    import torch

    from gandiag.features import get_extractor

    batch, repeats, n = sizes["batch"], sizes["repeats"], len(images)
    out = {"images": n, "batch": batch, "input_side": sizes["side"], "repeats": repeats}
    peer = _pytorch_fid_net(state, device)
    peer_feats, secs, peak = _timed(lambda: _peer_extract(peer, images, batch, device), repeats, device)
    out["pytorch-fid fp32"] = {"images_per_s": n / secs, "seconds": secs, "peak_gpu_bytes": peak}
    del peer
    if device.startswith("cuda"):
        torch.cuda.empty_cache()

    ext = get_extractor("inception-v3-fid", device=device, weights=str(weights_path))
    variants = [("gandiag fp32", dict(channels_last=False, amp=None, compile=False)),
                ("gandiag channels-last", dict(channels_last=True, amp=None, compile=False)),
                ("gandiag amp bf16 + channels-last", dict(channels_last=True, amp="bf16", compile=False))]
    if device.startswith("cuda"):
        variants += [("gandiag amp fp16 + channels-last", dict(channels_last=True, amp="fp16", compile=False)),
                     # One compiled variant: a second autocast mode would recompile (another minute).
                     ("gandiag compile + channels-last", dict(channels_last=True, amp=None, compile=True))]
    else:
        out["compile"] = "skipped on CPU (minutes of compilation on these cores); run on a GPU"
    fp32 = None
    for name, options in variants:
        ext.configure(**options)
        t_start = time.perf_counter()
        feats, secs, peak = _timed(lambda: ext.extract(images, batch_size=batch)["features"], repeats, device)
        row = {"images_per_s": n / secs, "seconds": secs, "peak_gpu_bytes": peak,
               "first_call_and_timing_seconds": time.perf_counter() - t_start,
               "speedup_vs_pytorch_fid": out["pytorch-fid fp32"]["seconds"] / secs,
               "deviation_vs_pytorch_fid": _deviation(peer_feats, feats)}
        if fp32 is None:
            fp32 = feats
        else:
            row["deviation_vs_gandiag_fp32"] = _deviation(fp32, feats)
        out[name] = row
    ext.configure(channels_last=True, amp=None, compile=False)
    return out


def _gpu_frechet(mu1, s1, mu2, s2, device: str) -> float:
    """FID in float64 on ``device``: Cholesky of S1, eigvalsh of L^T S2 L (see gandiag.metrics.frechet)."""
    import torch

    t = [torch.as_tensor(a, dtype=torch.float64, device=device) for a in (mu1, s1, mu2, s2)]
    m1, a, m2, b = t
    low = torch.linalg.cholesky(a)
    w = torch.linalg.eigvalsh(low.T @ b @ low)
    w = torch.where(w > w.numel() * torch.finfo(torch.float64).eps * w.abs().max(), w, torch.zeros_like(w))
    diff = m1 - m2
    return float(diff @ diff + torch.trace(a) + torch.trace(b) - 2.0 * torch.sqrt(w).sum())


def check_fid_gpu(device: str, dim: int = 2048) -> dict:
    from gandiag.metrics import frechet_distance

    rng = np.random.default_rng(0)
    stats = []
    for shift in (0.0, 0.2):
        a = rng.normal(size=(dim, dim)) / np.sqrt(dim)
        stats += [rng.normal(size=dim) * 0.1 + shift, a @ a.T + 1e-3 * np.eye(dim)]
    t0 = time.perf_counter()
    cpu = frechet_distance(*stats)
    cpu_s = time.perf_counter() - t0
    _peak_reset(device)
    value, secs, peak = _timed(lambda: _gpu_frechet(*stats, device), 2, device)
    return {"dim": dim, "dtype": "float64", "device_value": value, "cpu_value": cpu,
            "relative_difference": abs(value - cpu) / abs(cpu), "device_seconds": secs, "cpu_seconds": cpu_s,
            "peak_gpu_bytes": peak}


def _dist_worker(rank: int, world: int, init_file: str, backend: str, device_kind: str, weights: str,
                 images_path: str, out_path: str) -> None:
    import torch
    import torch.distributed as dist

    from gandiag.features import get_extractor
    from gandiag.features.distributed import distributed_stats

    if device_kind == "cuda":
        local = rank if torch.cuda.device_count() >= world else 0
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    else:
        device = "cpu"
        torch.set_num_threads(1)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        images = np.load(images_path)
        ext = get_extractor("inception-v3-fid", device=device, weights=weights)
        t0 = time.perf_counter()
        stats = distributed_stats(images, ext, batch_size=SIZES[device_kind]["batch"])
        seconds = time.perf_counter() - t0
        if rank == 0:
            np.savez(out_path, mean=stats.mean, cov=stats.cov, seconds=seconds,
                     peak=_peak(device) if device_kind == "cuda" else -1)
    finally:
        dist.destroy_process_group()


def check_distributed(device_kind: str, sizes: dict, weights_path: Path, images: np.ndarray, tmp: Path) -> dict:
    import torch
    import torch.multiprocessing as mp

    from gandiag.features import extract_stats, get_extractor

    world = 2
    gpus = torch.cuda.device_count() if device_kind == "cuda" else 0
    backend = "nccl" if gpus >= world else "gloo"
    images = images[:sizes["dist_images"]]
    images_path, out_path, init_file = tmp / "dist_images.npy", tmp / "dist_out.npz", tmp / "dist_init"
    np.save(images_path, images)
    t0 = time.perf_counter()
    mp.spawn(_dist_worker, args=(world, str(init_file), backend, device_kind, str(weights_path), str(images_path),
                                 str(out_path)), nprocs=world, join=True)
    wall = time.perf_counter() - t0
    with np.load(out_path) as d:
        mean2, cov2, seconds2, peak2 = d["mean"], d["cov"], float(d["seconds"]), int(d["peak"])
    device = "cuda:0" if device_kind == "cuda" else "cpu"
    ext = get_extractor("inception-v3-fid", device=device, weights=str(weights_path))
    t1 = time.perf_counter()
    one = extract_stats(ext, images, batch_size=sizes["batch"])
    seconds1 = time.perf_counter() - t1
    scale_m, scale_c = float(np.abs(one.mean).max()), float(np.abs(one.cov).max())
    return {
        "processes": world, "backend": backend, "gpus": gpus, "images": len(images),
        "ranks_on_devices": ("one GPU per rank" if backend == "nccl" else
                             "both ranks on cuda:0 (NCCL refuses two ranks on one GPU)" if device_kind == "cuda"
                             else "CPU, one thread per rank"),
        "mean_max_rel_diff": float(np.abs(mean2 - one.mean).max() / scale_m),
        "cov_max_rel_diff": float(np.abs(cov2 - one.cov).max() / scale_c),
        "two_process_extraction_seconds": seconds2, "one_process_extraction_seconds": seconds1,
        "two_process_wall_seconds_with_start_up": wall,
        "rank0_peak_gpu_bytes": peak2 if peak2 >= 0 else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write (atomically)")
    parser.add_argument("--cpu", action="store_true", help="CPU fallback with tiny sizes (what CI runs)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: extraction,fid_gpu,distributed")
    args = parser.parse_args(argv)

    import torch

    from gandiag.features.inception import random_state_dict

    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; use --cpu for the CPU fallback", file=sys.stderr)
        return 2
    kind = "cpu" if args.cpu else "cuda"
    device = "cpu" if args.cpu else "cuda:0"
    sizes = SIZES[kind]
    skip = {s for s in args.skip.split(",") if s}
    started = time.perf_counter()
    report = {"device": kind, "torch": torch.__version__, "python": platform.python_version(),
              "gpu": torch.cuda.get_device_name(0) if kind == "cuda" else None, "sizes": sizes}
    with tempfile.TemporaryDirectory(prefix="gandiag-gpu-check-") as tmpdir:
        tmp = Path(tmpdir)
        state = random_state_dict(seed=0)
        weights_path = tmp / "random_inception.pth"
        torch.save(state, weights_path)
        images = np.random.default_rng(0).random((sizes["images"], 3, sizes["side"], sizes["side"]), dtype=np.float32)
        for name, fn in (("extraction", lambda: check_extraction(device, sizes, weights_path, state, images)),
                         ("fid_gpu", lambda: check_fid_gpu(device, sizes["fid_dim"])),
                         ("distributed", lambda: check_distributed(kind, sizes, weights_path, images, tmp))):
            if name in skip:
                report[name] = "skipped (--skip)"
                continue
            t0 = time.perf_counter()
            report[name] = fn()
            report[name]["section_seconds"] = time.perf_counter() - t0
            print(f"gpu_check: {name} done in {report[name]['section_seconds']:.1f} s", file=sys.stderr)
    report["total_seconds"] = time.perf_counter() - started
    out = Path(args.out)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text(json.dumps(report, indent=2, sort_keys=True))
    os.replace(tmp_out, out)
    print(f"gpu_check: wrote {out} ({report['total_seconds']:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
