"""Argument helpers shared by several commands (one definition of each common flag)."""
from __future__ import annotations

import argparse


#: options whose value may start with "-" (a range such as -1,1): argparse would take the
#: value for an option, so ``--output-range -1,1`` is rewritten to ``--output-range=-1,1``.
VALUE_FLAGS_WITH_NEGATIVE = ("--output-range",)


def normalize_argv(argv):
    """Join ``FLAG VALUE`` into ``FLAG=VALUE`` for the flags above when VALUE starts with '-'."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            out.extend(argv[i:])
            break
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if tok in VALUE_FLAGS_WITH_NEGATIVE and nxt[:1] == "-" and (nxt[1:2].isdigit() or nxt[1:2] == "."):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_seed(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=nonnegative_int, default=default, help="seed for every random choice (>= 0)")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1, ...")


def add_image_format(parser: argparse.ArgumentParser) -> None:
    """Flags that resolve ambiguous array inputs (see gandiag.images)."""
    parser.add_argument("--output-range", default=None, metavar="LO,HI",
                        help="value range of float images/generator output: 0,1 (default for floats), -1,1 or 0,255")
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default=None,
                        help="array layout when the shape alone is ambiguous")
    parser.add_argument("--npz-key", default=None, help="array name inside an .npz (default: images/x/arr_0)")


def add_generator_arguments(parser: argparse.ArgumentParser, *, num_samples_default=None,
                            num_samples_help: str = "generators: images to sample (default {n}); data: random "
                            "subset size") -> None:
    """How generators are sampled (with :func:`add_image_format`'s --output-range for their range).

    The one declaration of ``--num-samples``, ``--z-dim`` and ``--trust-pickle`` (evaluate, fid,
    conformance, diagnose). ``{n}`` in ``num_samples_help`` is replaced by the number sampled when
    the flag is not given (:data:`gandiag.sources.DEFAULT_GENERATOR_SAMPLES`).
    """
    from ..sources import DEFAULT_GENERATOR_SAMPLES  # (imports no torch: --help stays fast)

    parser.add_argument("--num-samples", type=positive_int, default=num_samples_default,
                        help=num_samples_help.format(n=DEFAULT_GENERATOR_SAMPLES))
    parser.add_argument("--z-dim", type=positive_int, default=None, help="latent size when the file does not record it")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow loading pickled generators (runs code from the file: only for files you trust)")


#: InceptionV3 input protocols (the keys of gandiag.features.resize.PROTOCOLS, repeated here so that
#: ``--help`` imports no torch; a test keeps the two equal).
INCEPTION_PROTOCOLS = ("pytorch-fid", "clean", "torch-fidelity")


def add_protocol(parser: argparse.ArgumentParser) -> None:
    """``--protocol``: which published numbers the Inception features reproduce (recorded in every result)."""
    parser.add_argument("--protocol", default=None, choices=INCEPTION_PROTOCOLS,
                        help="InceptionV3 input protocol (resize + normalisation), recorded with every number: "
                        "pytorch-fid (pytorch-fid 0.3), clean (clean-fid mode=clean), torch-fidelity "
                        "(torch-fidelity and the TF FID/IS code); inception-v3-fid only (default pytorch-fid)")


def extractor_options(extractor: str, protocol) -> dict:
    """``get_extractor`` options for ``--protocol``; refuses a protocol for an extractor that has none."""
    from ..errors import GandiagError

    if protocol is None:
        return {}
    if extractor != "inception-v3-fid":
        raise GandiagError(f"--protocol {protocol} applies to the inception-v3-fid extractor only, not {extractor!r}; "
                           "drop --protocol or use --extractor inception-v3-fid")
    return {"protocol": protocol}


def resolve_device(name: str) -> str:
    """``auto`` -> cuda when available, else cpu; anything else is checked before it is used."""
    import torch

    from ..errors import GandiagError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise GandiagError(f"--device {name!r} is not a torch device; valid values are: auto, cpu, cuda, "
                           "cuda:N, mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GandiagError(f"--device {name}: CUDA is not available on this machine; use --device cpu "
                               "(or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GandiagError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise GandiagError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    elif device.type != "cpu":
        raise GandiagError(f"--device {name}: gandiag runs on cpu, cuda or mps, not {device.type}")
    return name
