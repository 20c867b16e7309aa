"""gandiag demo: the offline tour on the embedded MNIST subset."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ._common import add_force, add_quiet, add_seed

NAME = "demo"
ORDER = 0
HELP = "offline tour: train a good and a collapsing GAN, evaluate, diagnose, report, build a human-study kit"
DESCRIPTION = """The whole product on the embedded MNIST subset, offline, on CPU:

  1. real vs real: held-out MNIST digits scored against the training digits (what "good" looks like)
  2. train the reference DCGAN (dcgan-mnist) and a collapse preset with the reference trainer
  3. evaluate both generators (MNIST-classifier FID/IS, modes, KID, PRDC, Parzen, copying)
  4. diagnose both runs checkpoint by checkpoint (which digits vanish, and when)
  5. build a rapid-categorization human-study kit (real digits vs DCGAN samples)

Everything lands in --out (default ./gandiag-demo); re-running resumes finished and
interrupted steps instead of redoing them. Full run: about 6 minutes on 2 CPU cores
(measured 6.4 min of CPU in a fresh clone); --fast: fewer steps and samples, numbers are rougher.

examples:
  gandiag demo
  gandiag demo --fast --out /tmp/demo
"""

# checkpoint intervals give diagnose 5-6 checkpoints per run; human-kit trials must be a
# multiple of 2 x 3 exposures.
FULL = {"dcgan_steps": 2000, "dcgan_every": 400, "collapse_steps": 600, "collapse_every": 100,
        "samples": 5000, "diag_samples": 1000, "trials": 72}
FAST = {"dcgan_steps": 300, "dcgan_every": 60, "collapse_steps": 200, "collapse_every": 40,
        "samples": 1000, "diag_samples": 500, "trials": 36}


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="gandiag-demo", help="folder for runs, reports and the kit")
    parser.add_argument("--fast", action="store_true", help="1-minute version (short training, fewer samples)")
    add_seed(parser)
    add_force(parser)
    add_quiet(parser)


DEMO_MARKER = ".gandiag-demo"


def claim_folder(out: Path, force: bool) -> None:
    """Use ``out`` only if it is new, empty, or an earlier demo's folder (it holds DEMO_MARKER).

    A user's non-empty folder is refused unless ``--force``: the demo writes files with common
    names (summary.json, report.html, ...) and must never overwrite a user's same-named file.
    """
    from ..errors import GandiagError
    from ..fileio import atomic_write_text, check_output_dir

    marker = out / DEMO_MARKER
    if out.is_dir() and not marker.is_file() and any(out.iterdir()) and not force:
        raise GandiagError(f"--out {out} is a non-empty folder that gandiag demo did not create; choose a new "
                           "or empty folder, or pass --force to let the demo overwrite same-named files there")
    check_output_dir(out, (), force=True)
    if not marker.is_file():
        atomic_write_text(marker, "gandiag demo folder: re-running `gandiag demo --out` here resumes it\n")


def _train(out: Path, preset: str, steps: int, every: int, seed: int, quiet: bool) -> Path:
    """Run the reference trainer in a child process (gandiag itself never imports it)."""
    run = out / "runs" / preset
    last = run / "checkpoints" / "last.pt"
    export = run / "export" / "generator.ts"
    if export.is_file() and _final_step(run) >= steps:
        print(f"  {preset}: already trained ({run})")
        return run
    cmd = [sys.executable, "-m", "reference_models.train", "--out", str(run), "--steps", str(steps)]
    cmd += ["--resume"] if last.is_file() else ["--config", preset, "--set", f"seed={seed}",
                                                "--set", f"checkpoint_every={every}"]
    if quiet:
        cmd.append("--quiet")
    print(f"  {preset}: training {steps} steps -> {run}")
    code = subprocess.call(cmd)
    if code != 0:
        from ..errors import GandiagError

        raise GandiagError(f"training {preset} failed (exit {code}); re-run `gandiag demo` to resume it")
    return run


def _final_step(run: Path) -> int:
    log = run / "log.jsonl"
    if not log.is_file():
        return -1
    step = -1
    for line in log.read_text().splitlines():
        try:
            step = max(step, int(json.loads(line).get("step", -1)))
        except (ValueError, AttributeError):
            continue
    return step


def run(args) -> int:
    import numpy as np

    from ..data import load_mnist_subset
    from ..diagnostics.run import diagnose
    from ..evaluation import EvaluateOptions, Reference, evaluate
    from ..fileio import atomic_write_json
    from ..report import render_diagnosis_report, render_evaluation_report
    from ..sources import load_source
    from ._summary import print_summary
    from .diagnose import print_diagnosis

    plan = FAST if args.fast else FULL
    out = Path(args.out)
    claim_folder(out, args.force)
    quiet = args.quiet
    options = EvaluateOptions(seed=args.seed, progress=not quiet)
    started = time.perf_counter()
    summary = {}

    print("[1/5] real vs real: 1,000 held-out MNIST digits scored against the 8,000 training digits")
    test = load_mnist_subset("test")
    order = np.random.default_rng(args.seed).permutation(len(test))
    real = test.subset(np.sort(order[:1000]), "mnist-subset:test[1000 scored]")
    others = test.subset(np.sort(order[1000:]), "mnist-subset:test[the other 1000, held out]")
    ev = evaluate(real, options, source_provenance={"spec": "mnist-subset:test", "kind": "data"}, heldout=others)
    atomic_write_json(out / "real-vs-real" / "metrics.json", ev.metrics)
    render_evaluation_report(ev, out / "real-vs-real" / "report.html", title="Real vs real (the best a generator can do)")
    print_summary(ev.metrics)
    summary["real-vs-real"] = ev.metrics

    print("[2/5] training the reference DCGAN and a collapse preset (reference_models.train)")
    runs = {"dcgan-mnist": _train(out, "dcgan-mnist", plan["dcgan_steps"], plan["dcgan_every"], args.seed, quiet),
            "collapse": _train(out, "collapse", plan["collapse_steps"], plan["collapse_every"], args.seed, quiet)}

    print(f"[3/5] evaluating both generators on {plan['samples']} samples each")
    reference = Reference(options)  # shared: real-data features and distances computed once
    for name, run_dir in runs.items():
        spec = str(run_dir / "export" / "generator.ts")
        fake = load_source(spec, num_samples=plan["samples"], seed=args.seed, progress=not quiet)
        ev = evaluate(fake, source_provenance={"spec": spec, "kind": "generator"}, reference=reference)
        atomic_write_json(out / name / "metrics.json", ev.metrics)
        render_evaluation_report(ev, out / name / "report.html", title=f"gandiag evaluation: {name}")
        print(f"  {name}:")
        print_summary(ev.metrics)
        summary[name] = ev.metrics

    print("[4/5] diagnosing both runs checkpoint by checkpoint")
    verdicts = {}
    for name, run_dir in runs.items():
        result, arrays = diagnose([str(run_dir)], num_samples=plan["diag_samples"], options=options)
        atomic_write_json(out / f"diagnose-{name}" / "diagnosis.json", result)
        render_diagnosis_report(result, arrays, out / f"diagnose-{name}" / "report.html", title=f"diagnosis: {name}")
        print(f"  {name}:")
        print_diagnosis(result)
        verdicts[name] = result["verdict"]["verdict"]

    print("[5/5] building a human-study kit: real test digits vs DCGAN samples")
    from ..cli import main as cli_main

    kit = out / "human-kit"
    code = cli_main(["human-kit", "--real", "mnist-subset:test", "--fake", str(runs["dcgan-mnist"] / "export" / "generator.ts"),
                     "--out", str(kit), "--trials", str(plan["trials"]), "--seed", str(args.seed)]
                    + (["--quiet"] if quiet else []))
    if code != 0:
        return code

    minutes = (time.perf_counter() - started) / 60
    good, bad = summary["dcgan-mnist"], summary["collapse"]
    print()
    print(f"done in {minutes:.1f} min. What it shows:")
    print(f"  real vs real:  MNIST-FID {summary['real-vs-real']['mnist-fid']['value']:.2f}, "
          f"{summary['real-vs-real']['modes']['covered']}/10 digits -- what a perfect generator would score "
          f"(at 1,000 samples; FID shrinks as N grows)")
    print(f"  DCGAN:         MNIST-FID {good['mnist-fid']['value']:.2f}, {good['modes']['covered']}/10 digits, "
          f"diagnosis: {verdicts['dcgan-mnist']}")
    print(f"  collapse:      MNIST-FID {bad['mnist-fid']['value']:.2f}, {bad['modes']['covered']}/10 digits "
          f"(missing {', '.join(map(str, bad['modes']['missing'])) or 'none'}), diagnosis: {verdicts['collapse']}")
    print("open in a browser:")
    for rel in ("real-vs-real/report.html", "dcgan-mnist/report.html", "collapse/report.html",
                "diagnose-dcgan-mnist/report.html", "diagnose-collapse/report.html", "human-kit/index.html"):
        print(f"  {out / rel}")
    print(f"  printable human-study sheets: {kit / 'sheets.pdf'} (answer key: {kit / 'answer_key.csv'})")
    atomic_write_json(out / "summary.json", {"minutes": minutes, "verdicts": verdicts,
                                             "fast": bool(args.fast), "plan": plan})
    return 0
