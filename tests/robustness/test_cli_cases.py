"""Issue 11's adversarial cases, run as the command line, kept so they stay fixed.

Every case is a ``gandiag`` (or ``python -m reference_models.train``) command line. Most run
through ``_runner.py`` in one child process (one torch import for ~50 cases; each case calls the
CLI's ``main`` exactly as the console script does, stdout/stderr captured at the fd level); a few
run as real ``python -m`` subprocesses (signals, start-up, logger output). Each case is classified:

* **clear error**: exit status 2, exactly one line on stderr, no traceback, the expected message;
* **traceback** / **silently wrong** (exit 0 where an error is due, or a wrong number) /
  **data lost** (a file changed that the user did not name as an output: the whole workspace is
  hashed before and after) / **code executed** (the hostile files' marker file appeared).

``test_case_table`` asserts the last four are 0 and prints the counts (``pytest -s`` or ``-rA``).
"""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("_runner.py")
MARKER_NAME = "HOSTILE_CODE_RAN"


# ----------------------------------------------------------------------------- hostile objects
class _Evil:
    """Unpickling this runs ``open(marker, 'w')`` (the stand-in for ``os.system``)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite_member(src: Path, dst: Path, suffix: str, payload: bytes, edit_json=None) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(suffix):
                data = payload
            elif edit_json and info.filename.endswith(edit_json[0]):
                data = edit_json[1](data)
            zout.writestr(info, data)


def _torch_save_bytes(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- the workspace
def build_workspace(root: Path, marker: Path) -> Dict[str, Path]:
    """Every file the cases use (built once, ~10 s): generators (good and hostile), data, stats,
    PNG folders, callable modules, reference-trainer runs."""
    import torch
    from torch import nn

    w = root
    for sub in ("gen", "data", "mods", "runs", "out", "user"):
        (w / sub).mkdir(parents=True, exist_ok=True)

    class Gen(nn.Module):
        def __init__(self, tanh: bool = False):
            super().__init__()
            self.lin = nn.Linear(8, 784)
            self.tanh = tanh

        def forward(self, z):
            x = self.lin(z)
            return (torch.tanh(x) if self.tanh else torch.sigmoid(x)).view(-1, 1, 28, 28)

    torch.manual_seed(0)
    g = Gen().eval()
    z = (torch.randn(4, 8),)
    meta = {"z_dim": 8, "output_range": [0.0, 1.0]}
    program = torch.export.export(g, z, dynamic_shapes=({0: torch.export.Dim("batch", min=2, max=4096)},))
    torch.export.save(program, str(w / "gen/good.pt2"), extra_files={"gandiag.json": json.dumps(meta)})

    def ts(module, name, meta_obj):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, z)
            torch.jit.save(traced, str(w / "gen" / name), _extra_files={"gandiag.json": json.dumps(meta_obj)})

    ts(g, "good.ts", meta)
    ts(Gen(tanh=True).eval(), "tanh.ts", {"z_dim": 8})  # no range recorded: needs --output-range -1,1
    ts(g, "meta_text_z.ts", {"z_dim": "eight"})
    ts(g, "meta_bad_range.ts", {"z_dim": 8, "output_range": "banana"})

    evil = _Evil(str(marker))
    # torch.export.load retries torch.load(weights_only=False) on sample_inputs when the safe load fails
    _rewrite_member(w / "gen/good.pt2", w / "gen/evil_sample.pt2", "data/sample_inputs/model.pt",
                    _torch_save_bytes(((evil,), {})))

    # a weight flagged use_pickle is torch.load(weights_only=False)-ed with no safe attempt first
    def flag_pickle(raw: bytes) -> bytes:
        cfg = json.loads(raw)
        first = sorted(cfg["config"])[0]
        cfg["config"][first]["use_pickle"] = True
        return json.dumps(cfg).encode()

    with zipfile.ZipFile(w / "gen/good.pt2") as zf:
        cfg = json.loads(zf.read(next(n for n in zf.namelist() if n.endswith("model_weights_config.json"))))
    member = cfg["config"][sorted(cfg["config"])[0]]["path_name"]
    _rewrite_member(w / "gen/good.pt2", w / "gen/evil_weight.pt2", f"data/weights/{member}",
                    _torch_save_bytes(evil), edit_json=("model_weights_config.json", flag_pickle))
    (w / "gen/evil.pkl").write_bytes(pickle.dumps(evil))
    (w / "gen/evil_torch.pt").write_bytes(_torch_save_bytes(evil))
    (w / "gen/empty.pt2").write_bytes(b"")
    (w / "gen/garbage.pt2").write_bytes(np.random.default_rng(0).bytes(5000))
    good = (w / "gen/good.pt2").read_bytes()
    (w / "gen/truncated.pt2").write_bytes(good[: len(good) // 2])

    (w / "mods/h11mods.py").write_text(
        "import sys\n"
        "import torch\n"
        "def raising_factory():\n"
        "    raise RuntimeError('no GPU weights here')\n"
        "def exit_on_call(z):\n"
        "    sys.exit(0)\n"
        "def tanh_g(z):\n"
        "    return torch.tanh(z[:, :1].repeat(1, 784)).view(-1, 1, 28, 28)\n"
    )
    (w / "mods/h11exit.py").write_text("import sys\nsys.exit(0)\n")

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 1, 28, 28), dtype=np.uint8)
    np.savez(w / "data/samples.npz", images=images)
    np.savez(w / "data/victim.npz", images=images[:60])
    np.savez(w / "data/neglabels.npz", images=images[:100], labels=np.arange(100) % 10 - 1)
    (w / "afile").write_text("a user's file\n")
    (w / "folder.npz").mkdir()
    (w / "folder.npz" / "inside.txt").write_text("a folder named like a file\n")
    np.savez(w / "out/existing.npz", kept=np.arange(3))

    from gandiag.metrics import FeatureStats

    feats = rng.normal(size=(400, 16))
    FeatureStats.from_features(feats).save(w / "data/stats_good.npz")
    saved = dict(np.load(w / "data/stats_good.npz"))
    np.savez(w / "data/stats_x100.npz", **{**saved, "sigma": saved["sigma"] * 100})
    np.savez(w / "data/stats_nan.npz", **{**saved, "sigma": np.full_like(saved["sigma"], np.nan)})
    np.savez(w / "data/stats_mu.npz", mu=saved["mu"])

    from PIL import Image

    for name in ("png16", "pngla", "pngpal"):
        (w / name).mkdir()
    values16 = rng.integers(0, 65536, (6, 28, 28)).astype(np.uint16)
    for i, v in enumerate(values16):
        Image.fromarray(v).save(w / f"png16/{i}.png")
    np.save(w / "png16_expected.npy", values16)
    for i in range(4):
        la = np.stack([rng.integers(0, 256, (28, 28)), rng.integers(0, 200, (28, 28))], -1).astype(np.uint8)
        Image.fromarray(la, "LA").save(w / f"pngla/{i}.png")
        gray = Image.fromarray(rng.integers(0, 256, (28, 28)).astype(np.uint8), "L").quantize(32)
        gray.save(w / f"pngpal/{i}.png")

    (w / "user/summary.json").write_text('{"mine": true}\n')
    (w / "user/notes.txt").write_text("do not overwrite\n")

    # one real (tiny) reference-trainer run; runB is a second run folder, runF holds a foreign checkpoint
    from reference_models.train import main as train_main

    assert train_main(["--config", "collapse", "--out", str(w / "runs/runA"), "--steps", "4", "--set",
                       "checkpoint_every=2", "--quiet"]) == 0
    for name in ("runB", "runF", "runlog", "runlock", "runtmp", "runkill"):
        shutil.copytree(w / "runs/runA", w / "runs" / name)
    from reference_models import preset
    from reference_models.checkpoint import CHECKPOINT_FORMAT, generator_meta
    from reference_models.nets import build_generator

    foreign = preset("gan2014-mnist")
    torch.save({"format": CHECKPOINT_FORMAT, "config": foreign.to_dict(), "step": 3,
                "generator": build_generator(foreign).state_dict(), "meta": generator_meta(foreign, 3)},
               w / "runs/runF/checkpoints/step_0000003.pt")
    log = (w / "runs/runlog/log.jsonl").read_text().splitlines()
    (w / "runs/runlog/log.jsonl").write_text("\n".join(log[:1] + ["{not json"] + log[1:]) + "\n")
    (w / "runs/runtmp/checkpoints/.last.pt.k1l2m3.tmp").write_bytes(b"\0" * 1000)
    # what a SIGKILL mid-write leaves: a temporary and a step file newer than last.pt
    (w / "runs/runkill/checkpoints/.last.pt.x9y8z7.tmp").write_bytes(b"\0" * 1000)
    shutil.copy(w / "runs/runkill/checkpoints/last.pt", w / "runs/runkill/checkpoints/step_0000099.pt")
    (w / "runs/runlock/.lock").unlink(missing_ok=True)
    for run in (w / "runs").iterdir():  # lock files are the trainer's, not part of what is compared
        (run / ".lock").unlink(missing_ok=True)
    return {"w": w}


# ----------------------------------------------------------------------------- the case table
@dataclass
class Case:
    id: str
    argv: List[str]
    expect: str = "error"                 # "error" (exit 2, one line) or "ok" (exit 0)
    match: Optional[str] = None           # regex the error line (or stdout for "ok") must match
    outputs: Tuple[str, ...] = ()         # workspace paths the user named as outputs (may change)
    entry: str = "gandiag"
    check: Optional[Callable[[Path, dict], Optional[str]]] = None  # "ok" cases: returns a problem or None
    env: Dict[str, str] = field(default_factory=dict)
    hold_lock: Optional[str] = None
    issue: str = ""                       # the issue's class: security, data, wrong, traceback, unclear


def _png16_exact(w: Path, result: dict) -> Optional[str]:
    got = np.load(w / "out/px16.npz")["features"].reshape(6, 28, 28)
    want = np.load(w / "png16_expected.npy") / 65535.0
    worst = float(np.abs(got - want).max())
    return None if worst < 1e-6 else f"16-bit PNG read with error {worst} (clipped to 8 bit?)"


def _palette_gray(w: Path, result: dict) -> Optional[str]:
    got = np.load(w / "out/pal.npz")["features"]
    return None if got.shape == (4, 784) else f"palette of grays read as {got.shape[1]} values per image"


def _two_verdicts(w: Path, result: dict) -> Optional[str]:
    out = result["stdout"]
    if out.count("verdict:") != 2 or "== runA" not in out or "== runB" not in out:
        return f"expected one verdict per run, got:\n{out[-800:]}"
    for run in ("runA", "runB"):
        if not (w / "out/diag2" / run / "diagnosis.json").is_file():
            return f"out/diag2/{run}/diagnosis.json missing"
    return None


def _fid_zero(w: Path, result: dict) -> Optional[str]:
    m = re.search(r"FID: ([-0-9.e]+)", result["stdout"])
    return None if m and abs(float(m.group(1))) < 1e-6 else f"FID of a stats file with itself: {result['stdout']!r}"


def _tmp_cleaned(w: Path, result: dict) -> Optional[str]:
    left = list((w / "runs/runtmp/checkpoints").glob(".*.tmp"))
    return f"stale temporaries left: {left}" if left else None


def _kill_leftovers_cleaned(w: Path, result: dict) -> Optional[str]:
    ckpt = w / "runs/runkill/checkpoints"
    left = [p.name for p in ckpt.glob(".*.tmp")] + [p.name for p in ckpt.glob("step_0000099.pt")]
    return f"left after resume: {left}" if left else None


def _cache_warned(w: Path, result: dict) -> Optional[str]:
    return None if "uncached" in result["stderr"] else "no warning about the unusable cache folder"


def cases(w: Path) -> List[Case]:
    W = str(w)
    g = f"{W}/gen"
    ev = ["evaluate", "--metrics", "modes", "--num-samples", "50", "--quiet"]
    mnist_fid = ["--extractor", "mnist-classifier", "--quiet"]
    pt2_msg = r"--trust-pickle"
    c = [
        # --- security: hostile archives never run code (every command that accepts a generator file)
        Case("evaluate-evil-sample-inputs", ev + [f"{g}/evil_sample.pt2", "--out", f"{W}/out/e1"], match=pt2_msg,
             outputs=("out/e1",), issue="security"),
        Case("evaluate-evil-use-pickle-weight", ev + [f"{g}/evil_weight.pt2"], match=pt2_msg, issue="security"),
        Case("evaluate-evil-plain-pickle", ev + [f"{g}/evil.pkl"], match=pt2_msg, issue="security"),
        Case("evaluate-evil-torch-save", ev + [f"{g}/evil_torch.pt"], match=pt2_msg, issue="security"),
        Case("neighbours-evil", ["neighbours", f"{g}/evil_sample.pt2", "--num-samples", "50", "--quiet"],
             match=pt2_msg, issue="security"),
        Case("fid-evil", ["fid", f"{g}/evil_sample.pt2", "mnist-subset:test"] + mnist_fid, match=pt2_msg,
             issue="security"),
        Case("human-kit-evil-fake", ["human-kit", "--real", "mnist-subset:test", "--fake", f"{g}/evil_sample.pt2",
                                     "--out", f"{W}/out/kit1", "--quiet"], match=pt2_msg, outputs=("out/kit1",),
             issue="security"),
        Case("diagnose-evil", ["diagnose", f"{g}/evil_sample.pt2", "--num-samples", "50", "--quiet"], match=pt2_msg,
             issue="security"),
        Case("extract-evil-extractor", ["extract", "mnist-subset:test", "--extractor", f"{g}/evil_sample.pt2",
                                        "--out", f"{W}/out/x1.npz", "--quiet"], match=pt2_msg,
             outputs=("out/x1.npz",), issue="security"),
        Case("extract-evil-torch-save-as-torchscript", ["extract", "mnist-subset:test", "--extractor",
                                                        f"{g}/evil_torch.pt", "--out", f"{W}/out/x2.npz", "--quiet"],
             match="cannot load .* as TorchScript", outputs=("out/x2.npz",), issue="security"),
        # --- nothing a user made is lost
        Case("fid-save-stats-over-its-input", ["fid", "--save-stats", f"{W}/data/victim.npz", f"{W}/data/victim.npz"]
             + mnist_fid, match="also an input", issue="data"),
        Case("fid-save-stats-existing", ["fid", "--save-stats", f"{W}/data/victim.npz", f"{W}/out/existing.npz"]
             + mnist_fid, match="already exists; pass --force", issue="data"),
        Case("extract-out-existing", ["extract", f"{W}/data/victim.npz", "--extractor", "pixels", "--out",
                                      f"{W}/out/existing.npz", "--quiet"], match="already exists", issue="data"),
        Case("extract-out-is-input", ["extract", f"{W}/data/victim.npz", "--extractor", "pixels", "--out",
                                      f"{W}/data/victim.npz", "--quiet"], match="also an input", issue="data"),
        Case("extract-out-folder", ["extract", f"{W}/data/victim.npz", "--extractor", "pixels", "--out",
                                    f"{W}/folder.npz", "--quiet"], match="is a folder", issue="data"),
        Case("demo-into-user-folder", ["demo", "--fast", "--out", f"{W}/user", "--quiet"], match="non-empty folder",
             issue="data"),
        Case("evaluate-out-is-a-file", ev + [f"{W}/data/samples.npz", "--out", f"{W}/afile"], match="is a file",
             issue="traceback"),
        Case("evaluate-out-under-a-file", ev + [f"{W}/data/samples.npz", "--out", f"{W}/afile/sub"],
             match="is a file", issue="traceback"),
        Case("evaluate-out-unwritable", ev + [f"{W}/data/samples.npz", "--out", "/proc/gandiag-h11/out"],
             match="cannot write there", issue="traceback"),
        Case("diagnose-out-is-a-file", ["diagnose", f"{W}/runs/runA", "--out", f"{W}/afile", "--quiet"],
             match="is a file", issue="traceback"),
        Case("human-kit-out-is-a-file", ["human-kit", "--real", "mnist-subset:test", "--fake",
                                         f"{W}/data/samples.npz", "--out", f"{W}/afile", "--quiet"],
             match=None, issue="traceback"),
        Case("human-score-out-is-a-file", ["human-score", f"{W}/afile", "--design", f"{W}/afile", "--out",
                                           f"{W}/afile", "--quiet"], match="is a file", issue="traceback"),
        Case("cache-dir-is-a-file-warns-runs-uncached",
             ["extract", f"{W}/data/victim.npz", "--extractor", "pixels", "--cache", "--out", f"{W}/out/c1.npz",
              "--quiet"], expect="ok", env={"GANDIAG_CACHE": f"{W}/afile"}, outputs=("out/c1.npz",),
             check=_cache_warned, issue="traceback"),
        # --- silently wrong numbers
        Case("png16-full-depth", ["extract", f"{W}/png16", "--extractor", "pixels", "--out", f"{W}/out/px16.npz",
                                  "--quiet"], expect="ok", outputs=("out/px16.npz",), check=_png16_exact,
             issue="wrong"),
        Case("png-gray-alpha-transparent", ["extract", f"{W}/pngla", "--extractor", "pixels", "--out",
                                            f"{W}/out/la.npz", "--quiet"], match="alpha", outputs=("out/la.npz",),
             issue="unclear"),
        Case("png-gray-palette", ["extract", f"{W}/pngpal", "--extractor", "pixels", "--out", f"{W}/out/pal.npz",
                                  "--quiet"], expect="ok", outputs=("out/pal.npz",), check=_palette_gray,
             issue="unclear"),
        Case("stats-sigma-x100", ["fid", f"{W}/data/stats_x100.npz", f"{W}/data/stats_good.npz"],
             match="sigma disagrees", issue="wrong"),
        Case("stats-sigma-nan", ["fid", f"{W}/data/stats_nan.npz", f"{W}/data/stats_good.npz"], match="NaN",
             issue="wrong"),
        Case("stats-mu-only", ["fid", f"{W}/data/stats_mu.npz", f"{W}/data/stats_good.npz"], match="'sigma'",
             issue="unclear"),
        Case("stats-same-file-fid-0", ["fid", f"{W}/data/stats_good.npz", f"{W}/data/stats_good.npz"], expect="ok",
             check=_fid_zero, issue="wrong"),
        Case("diagnose-two-runs-two-verdicts", ["diagnose", f"{W}/runs/runA", f"{W}/runs/runB", "--num-samples",
                                                "60", "--ref", "mnist-subset:test", "--out", f"{W}/out/diag2",
                                                "--quiet"], expect="ok", outputs=("out/diag2",),
             check=_two_verdicts, issue="wrong"),
        Case("diagnose-foreign-checkpoint", ["diagnose", f"{W}/runs/runF", "--num-samples", "60", "--ref",
                                             "mnist-subset:test", "--quiet"], match="different network",
             issue="wrong"),
        Case("diagnose-npz-input", ["diagnose", f"{W}/data/samples.npz", "--quiet"], match="data file, not a generator",
             issue="unclear"),
        Case("heldout-equals-ref", ["evaluate", f"{W}/data/samples.npz", "--metrics", "neighbours", "--ref",
                                    "mnist-subset:test", "--heldout", "mnist-subset:test", "--quiet"],
             match="disjoint from --ref", issue="wrong"),
        Case("num-samples-0", ev[:3] + ["--num-samples", "0", f"{g}/good.pt2"], match="must be 1 or more",
             issue="wrong"),
        Case("kid-subset-size-0", ["evaluate", f"{W}/data/samples.npz", "--metrics", "kid", "--kid-subset-size", "0",
                                   "--quiet"], match="kid.subset.size", issue="wrong"),
        Case("max-checkpoints-0", ["diagnose", f"{W}/runs/runA", "--max-checkpoints", "0", "--quiet"],
             match="must be 1 or more", issue="wrong"),
        Case("metrics-empty", ["evaluate", f"{W}/data/samples.npz", "--metrics", "", "--quiet"],
             match="names no metric", issue="wrong"),
        Case("negative-labels", ["evaluate", f"{W}/data/neglabels.npz", "--metrics", "modes", "--quiet"],
             match="labels must be class indices", issue="wrong"),
        Case("callable-sys-exit-on-call", ev + ["h11mods:exit_on_call", "--z-dim", "8"], match="sys.exit",
             issue="wrong"),
        Case("module-sys-exit-on-import", ev + ["h11exit:G", "--z-dim", "8"], match="sys.exit", issue="wrong"),
        # --- one clear line, never a traceback
        Case("output-range-space-form", ev + ["h11mods:tanh_g", "--z-dim", "8", "--output-range", "-1,1", "--out",
                                              f"{W}/out/tanh"], expect="ok", outputs=("out/tanh",), issue="unclear"),
        Case("tanh-without-output-range", ev + [f"{g}/tanh.ts"], match="output-range", issue="unclear"),
        Case("device-cuda-without-gpu", ev + [f"{W}/data/samples.npz", "--device", "cuda"], match="CUDA",
             issue="traceback"),
        Case("device-banana", ev + [f"{W}/data/samples.npz", "--device", "banana"], match="not a torch device",
             issue="traceback"),
        Case("seed-negative", ev + [f"{W}/data/samples.npz", "--seed", "-1"], match="seed", issue="traceback"),
        Case("z-dim-negative", ev + [f"{g}/good.ts", "--z-dim", "-4"], match="z-dim", issue="traceback"),
        Case("metadata-text-z-dim", ev + [f"{g}/meta_text_z.ts"], match="z_dim", issue="traceback"),
        Case("metadata-string-range", ev + [f"{g}/meta_bad_range.ts"], match="output_range", issue="traceback"),
        Case("factory-raises", ev + ["h11mods:raising_factory"], match="raised RuntimeError", issue="traceback"),
        Case("pt2-empty", ev + [f"{g}/empty.pt2"], match="empty", issue="traceback"),
        Case("pt2-garbage", ev + [f"{g}/garbage.pt2"], match="not a valid torch.export archive", issue="traceback"),
        Case("pt2-truncated", ev + [f"{g}/truncated.pt2"], match="torch.export", issue="traceback"),
        Case("good-pt2-still-works", ev + [f"{g}/good.pt2", "--out", f"{W}/out/good"], expect="ok",
             outputs=("out/good",), issue="security"),
        # --- the trainer
        Case("train-second-trainer-same-out", ["--out", f"{W}/runs/runlock", "--resume", "--steps", "6", "--quiet"],
             entry="train", hold_lock=f"{W}/runs/runlock", match="in use by another trainer",
             outputs=("runs/runlock/.lock",), issue="data"),
        Case("train-g-lr-inf", ["--config", "collapse", "--out", f"{W}/out/t_inf", "--set", "g_lr=inf", "--quiet"],
             entry="train", match="not a finite number", outputs=("out/t_inf",), issue="traceback"),
        Case("train-device-banana", ["--config", "collapse", "--out", f"{W}/out/t_dev", "--device", "banana",
                                     "--quiet"], entry="train", match="not a torch device", issue="traceback"),
        Case("train-device-cuda-without-gpu", ["--config", "collapse", "--out", f"{W}/out/t_cuda", "--device", "cuda",
                                               "--quiet"], entry="train", match="CUDA", issue="traceback"),
        Case("train-out-is-a-file", ["--config", "collapse", "--out", f"{W}/afile", "--quiet"], entry="train",
             match="is a file", issue="traceback"),
        Case("train-corrupt-log-on-resume", ["--out", f"{W}/runs/runlog", "--resume", "--steps", "6", "--quiet"],
             entry="train", match="not JSON", outputs=("runs/runlog/.lock",), issue="traceback"),
        Case("train-stale-tmp-removed", ["--config", "collapse", "--out", f"{W}/runs/runtmp", "--quiet"],
             entry="train", match="already holds a run", outputs=("runs/runtmp",), issue="data"),
        Case("train-resume-after-sigkill-leftovers", ["--out", f"{W}/runs/runkill", "--resume", "--steps", "4",
                                                      "--quiet"], entry="train", expect="ok",
             outputs=("runs/runkill",), check=_kill_leftovers_cleaned, issue="data"),
        Case("evaluate-cache-dir-is-a-file", ["evaluate", f"{W}/data/samples.npz", "--metrics", "mnist-fid",
                                              "--num-samples", "100", "--cache-dir", f"{W}/afile", "--quiet"],
             expect="ok", check=_cache_warned, issue="traceback"),
    ]
    import torch

    if torch.cuda.is_available():  # "cuda without a GPU" cases only mean something without one
        c = [case for case in c if "cuda" not in case.id]
    return c


def _post_check_tmp(w: Path, result: dict) -> Optional[str]:
    return _tmp_cleaned(w, result)


POST_CHECKS = {"train-stale-tmp-removed": _post_check_tmp}


# ----------------------------------------------------------------------------- classification
TRACEBACK = "Traceback (most recent call last)"


def classify(case: Case, result: dict, w: Path, marker: Path) -> Tuple[str, str]:
    """-> (class, detail); class in clear / traceback / wrong / lost / executed / unclear."""
    if result.get("marker"):
        return "executed", "the hostile file's code ran"
    allowed = tuple(case.outputs)
    lost = [p for p in result["changed"] if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed)]
    if lost:
        return "lost", f"changed files the user did not name as outputs: {lost[:5]}"
    err = result["stderr"]
    if TRACEBACK in err or result.get("traceback"):
        return "traceback", (result.get("traceback") or err)[-1500:]
    if result["rc"] == "timeout":
        return "traceback", "timed out"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if case.expect == "error":
        if result["rc"] == 0:
            return "wrong", f"exit 0 where an error is due; stdout: {result['stdout'][-500:]!r}"
        if result["rc"] != 2 or len(lines) != 1:
            return "unclear", f"exit {result['rc']}, {len(lines)} stderr lines: {err[-1500:]!r}"
        if case.match and not re.search(case.match, lines[0]):
            return "unclear", f"message {lines[0]!r} does not match {case.match!r}"
        post = POST_CHECKS.get(case.id)
        problem = post(w, result) if post else None
        return ("wrong", problem) if problem else ("clear", lines[0])
    if result["rc"] != 0:
        return "unclear", f"exit {result['rc']} where success is due: {err[-1500:]!r}"
    problem = case.check(w, result) if case.check else None
    return ("wrong", problem) if problem else ("clear", "ok")


def _run_in_process(cases_: List[Case], w: Path, marker: Path, tmp: Path) -> Dict[str, dict]:
    payload = [{"id": c.id, "entry": c.entry, "argv": c.argv, "env": c.env, "timeout": 150,
                "hold_lock": c.hold_lock} for c in cases_]
    (tmp / "cases.json").write_text(json.dumps(payload))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(w / "mods"), str(ROOT)]), "H11_MARKER": str(marker)}
    proc = subprocess.run([sys.executable, str(RUNNER), str(tmp / "cases.json"), str(w), str(tmp / "results.json")],
                          cwd=str(w), env=env, capture_output=True, text=True, timeout=600)
    results = json.loads((tmp / "results.json").read_text()) if (tmp / "results.json").exists() else []
    if len(results) != len(cases_):
        pytest.fail(f"runner stopped after {len(results)} of {len(cases_)} cases (exit {proc.returncode}):\n"
                    f"{proc.stderr[-3000:]}")
    return {r["id"]: r for r in results}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("robustness")
    marker = base / MARKER_NAME
    w = base / "w"
    build_workspace(w, marker)
    return w, marker, base


@pytest.mark.slow  # ~75 s of CPU for 62 cases + the workspace (one trained 4-step run); CI runs it
def test_case_table(workspace, capsys):
    w, marker, base = workspace
    table = cases(w)
    assert len({c.id for c in table}) == len(table)
    started = time.perf_counter()
    results = _run_in_process(table, w, marker, base)
    seconds = time.perf_counter() - started
    counts = {"clear": 0, "traceback": 0, "wrong": 0, "lost": 0, "executed": 0, "unclear": 0}
    failures = []
    for case in table:
        kind, detail = classify(case, results[case.id], w, marker)
        counts[kind] += 1
        if kind != "clear":
            failures.append(f"{case.id} [{kind}]: {detail}")
    with capsys.disabled():
        print(f"\nrobustness: {len(table)} in-process cases in {seconds:.0f} s: tried {len(table)} / clear error or "
              f"correct result {counts['clear']} / traceback {counts['traceback']} / silently wrong {counts['wrong']}"
              f" / data lost {counts['lost']} / code executed {counts['executed']} / unclear {counts['unclear']}")
    assert not marker.exists(), "hostile code ran"
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------------- real subprocesses
def _cli(args: List[str], w: Path, marker: Path, *, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(w / "mods"), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", *args], cwd=str(w), env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_real_cli_hostile_and_corrupt_archives(workspace):
    """As a user types it: the console entry point, torch's loggers and all (no traceback printed by
    torch.export's fallback warning, no marker, one line)."""
    w, marker, _ = workspace
    before = {p: p.stat().st_mtime_ns for p in w.rglob("*") if p.is_file()}
    for spec, message in ((f"{w}/gen/evil_sample.pt2", "--trust-pickle"), (f"{w}/gen/truncated.pt2", "torch.export")):
        proc = _cli(["gandiag", "evaluate", spec, "--metrics", "modes", "--num-samples", "50", "--quiet"], w, marker)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
        assert TRACEBACK not in proc.stderr and not marker.exists()
    assert {p: p.stat().st_mtime_ns for p in w.rglob("*") if p.is_file()} == before


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_real_cli_ctrl_c_during_trainer_start_up(workspace):
    w, marker, base = workspace
    out = base / "sigint-run"
    proc = subprocess.Popen([sys.executable, "-m", "reference_models.train", "--config", "dcgan-mnist", "--out",
                             str(out), "--steps", "5", "--quiet"], cwd=str(ROOT), stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert TRACEBACK not in err, err
    assert proc.returncode == 130 and len(err.strip().splitlines()) == 1, (proc.returncode, err)
