"""gandiag diagnose: mode collapse over the checkpoints of a run."""
from __future__ import annotations

from pathlib import Path

from ._common import (add_device, add_force, add_generator_arguments, add_image_format, add_quiet, add_seed,
                      positive_int, resolve_device)

NAME = "diagnose"
ORDER = 20
HELP = "evaluate every checkpoint of a run: which digits vanish and when; verdict with evidence"
DESCRIPTION = """Diagnose mode collapse across checkpoints.

Each INPUT is a reference-trainer run folder (all checkpoints/step_*.pt, in step order)
or a generator file/spec (TorchScript, .pt2, module:callable, checkpoint), taken in the
order given. Each run folder is its own timeline with its own verdict (written to
OUT/<run>/ when several runs are given); generator files form one timeline. Every
checkpoint is sampled with the same seed; the shipped MNIST classifier counts digits,
classifier-feature FID tracks quality and a nearest-neighbour test flags copying. Verdict: healthy / partial collapse / collapse / memorization.

Where no shipped classifier fits the reference (anything but MNIST-like digits and
Fashion-MNIST), or with --label-free, the verdict and plots come from label-free evidence
instead: NDB/K, PRDC recall/coverage and the birthday-paradox support estimate, each
compared with held-out real images scored the same way (--extractor picks the space).

examples:
  gandiag diagnose runs/dcgan --out diag/
  gandiag diagnose runs/collapse runs/dcgan --num-samples 1000 --out diag/   # one verdict per run
  gandiag diagnose g_epoch1.ts g_epoch5.ts g_epoch9.ts --out diag/
  gandiag diagnose runs/dcgan --label-free --extractor mnist-classifier --out diag/
"""


DIAGNOSE_OPTIONS = ("ref", "heldout", "batch_size", "mode_threshold", "cache_dir", "protocol")


def add_arguments(parser) -> None:
    from ..evaluation import EvaluateOptions
    from ..options import add_dataclass_arguments

    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="run folders and/or generator files")
    parser.add_argument("--out", default=None, help="folder for diagnosis.json and report.html")
    add_generator_arguments(parser, num_samples_default=2000, num_samples_help="samples per checkpoint")
    parser.add_argument("--max-checkpoints", type=positive_int, default=None,
                        help="evaluate at most this many checkpoints, evenly spaced (last always included)")
    # the evaluation options diagnose uses, with EvaluateOptions' defaults and help (declared once)
    add_dataclass_arguments(parser, EvaluateOptions, only=DIAGNOSE_OPTIONS)
    parser.add_argument("--label-free", action="store_true",
                        help="judge with NDB, PRDC recall/coverage and the birthday test instead of a classifier "
                        "(automatic when no shipped classifier fits the reference)")
    parser.add_argument("--extractor", default=None,
                        help="feature space of the label-free evidence (default: inception-v3-fid; "
                        "mnist-classifier/fashion-classifier for 28x28 data; pixels)")
    add_image_format(parser)
    add_seed(parser)
    add_device(parser)
    add_force(parser)
    add_quiet(parser)


def run(args) -> int:
    from ..diagnostics.run import diagnose_runs, group_inputs
    from ..evaluation import EvaluateOptions
    from ..options import dataclass_kwargs_from_args
    from ..fileio import atomic_write_json, check_output_dir

    groups = group_inputs(args.inputs)  # one timeline (and verdict) per run folder
    several = len(groups) > 1
    names = [f"{name}/{f}" if several else f for name, _ in groups for f in ("diagnosis.json", "report.html")]
    if args.out:  # before the computation
        check_output_dir(args.out, names, inputs=[*args.inputs, args.ref, args.heldout], force=args.force)
    options = EvaluateOptions(seed=args.seed, device=resolve_device(args.device), progress=not args.quiet,
                              extractor=args.extractor,
                              **dataclass_kwargs_from_args(EvaluateOptions, args, only=DIAGNOSE_OPTIONS))
    results = diagnose_runs(args.inputs, num_samples=args.num_samples, options=options, z_dim=args.z_dim,
                            output_range=args.output_range, trust_pickle=args.trust_pickle,
                            max_checkpoints=args.max_checkpoints, label_free=True if args.label_free else None)
    for name, result, arrays in results:
        if several:
            print(f"== {name}")
        print_diagnosis(result)
        if args.out:
            out = Path(args.out) / name if several else Path(args.out)
            atomic_write_json(out / "diagnosis.json", result)
            from ..report import render_diagnosis_report
            from ..report.label_free import render_label_free_report

            inputs = dict(groups)[name]
            render = render_label_free_report if result.get("mode") == "label-free" else render_diagnosis_report
            render(result, arrays, out / "report.html", title="gandiag diagnosis: " + " ".join(inputs))
            print(f"wrote {out / 'diagnosis.json'} and {out / 'report.html'}")
    return 0


def print_diagnosis(result) -> None:
    if result.get("mode") == "label-free":
        return _print_label_free(result)
    print(f"{'checkpoint':>16}  covered  missing          FID     copy")
    for row in result["checkpoints"]:
        missing = ",".join(map(str, row["missing"])) or "-"
        print(f"{row['label']:>16}  {row['covered']:>3}/{row['num_classes']:<3}  {missing:<12} {row['fid']:>8.2f}  "
              f"{row['copy_fraction']:>6.1%}")
    _print_verdict(result["verdict"])


def _print_verdict(v, qualifier: str = "") -> None:
    print(f"verdict: {v['verdict'].upper()}{qualifier}")
    for line in v["evidence"]:
        print(f"  - {line}")


def _print_label_free(result) -> None:
    sign = {"estimate": "~", "at_least": ">", "at_most": "<="}
    print(f"{'checkpoint':>16}  NDB/K  recall  coverage  birthday support")
    for row in [result["baseline"]] + list(result["checkpoints"]):
        print(f"{row['label']:>16}  {row['ndb_k']:5.2f}  {row['recall']:6.2f}  {row['coverage']:8.2f}  "
              f"{sign[row['support_status']]} {row['support_estimate']:,.0f}")
    _print_verdict(result["verdict"], " (label-free evidence)")
