"""Export a trained generator in self-describing formats; ``.pt2`` and ONNX lead.

``python -m reference_models.export RUN_OR_CKPT --out DIR [--onnx]`` (also run at the end of
training, into ``runs/x/export/``) writes:

* ``generator.pt2`` — ``torch.export`` program with a dynamic batch dimension (the leading
  format: torch's own serialization, loaded without TorchScript). Meta::

      extra = {"gandiag.json": ""}
      g = torch.export.load(path, extra_files=extra).module(); meta = json.loads(extra["gandiag.json"])

* ``generator.onnx`` (with ``--onnx`` / ``onnx=True``; needs the ``onnx`` extra) — the same
  graph for onnxruntime and every non-torch tool; meta in the model prop ``gandiag.json``.
  Exported by ``torch.onnx.export(dynamo=True)``, not the deprecated TorchScript path.
* ``generator_state.pt`` — plain state dict + config + meta, ``weights_only``-loadable::

      obj = torch.load(path, weights_only=True); meta = obj["meta"]
      g, meta = reference_models.load_generator(path)      # rebuilds the module

* ``generator.ts`` — TorchScript (``torch.jit.trace``), kept for tools that only read
  TorchScript; torch 2.14 marks ``torch.jit`` deprecated, and those notices are kept out of
  the user's output.

All compute the same function: ``G(z)`` or ``G(z, y)`` (conditional), see
:mod:`reference_models.nets` for the convention and ``meta`` in :mod:`reference_models.checkpoint`;
each file is reloaded and compared with the module before export returns.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from gandiag.errors import GandiagError
from gandiag.generators import META_FILE  # gandiag's metadata file name: defined once, on gandiag's side
from gandiag.fileio import atomic_write_bytes

from .checkpoint import GENERATOR_FORMAT, config_of, generator_meta, read_checked, save_torch_atomic
from .config import TrainConfig
from .nets import build_generator



def example_inputs(meta: Dict[str, Any], batch: int = 4) -> Tuple[torch.Tensor, ...]:
    """Deterministic example inputs ``(z,)`` or ``(z, y)`` for tracing and checks."""
    gen = torch.Generator().manual_seed(1234)
    z = torch.randn(batch, meta["z_dim"], generator=gen)
    if meta["num_classes"]:
        return z, torch.arange(batch, dtype=torch.int64) % meta["num_classes"]
    return (z,)


def export_generator(generator: nn.Module, config: TrainConfig, step: int, out_dir, *,
                     torch_export: bool = True, onnx: bool = False) -> Dict[str, Path]:
    """Write ``generator.pt2`` (if supported), ``generator_state.pt``, ``generator.ts`` and, with
    ``onnx=True``, ``generator.onnx``.

    The generator is copied to CPU in eval mode; each export is reloaded and compared with the
    module on example inputs before this returns, so a broken export fails here, not later.

    Returns:
        format name -> written path (``pt2`` is missing only when torch.export failed; the
        reason is printed to stderr).
    """
    out = Path(out_dir)
    meta = generator_meta(config, step)
    g = build_generator(config)
    g.load_state_dict({k: v.detach().cpu() for k, v in generator.state_dict().items()})
    g.eval()
    written: Dict[str, Path] = {}
    written["state"] = save_torch_atomic(
        {"format": GENERATOR_FORMAT, "config": config.to_dict(), "step": int(step),
         "generator": g.state_dict(), "meta": meta},
        out / "generator_state.pt")
    inputs = example_inputs(meta)
    with torch.no_grad(), _QuietJit():
        expected = g(*inputs)
        traced = torch.jit.trace(g, inputs, check_trace=True)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={META_FILE: json.dumps(meta)})
    written["ts"] = atomic_write_bytes(out / "generator.ts", buffer.getvalue())
    _check_same(read_torchscript(written["ts"])[0], inputs, expected, written["ts"])
    if torch_export:
        try:
            batch = torch.export.Dim("batch", min=2, max=1 << 16)
            shapes = tuple({0: batch} for _ in inputs)
            program = torch.export.export(g, inputs, dynamic_shapes=shapes)
            buffer = io.BytesIO()
            torch.export.save(program, buffer, extra_files={META_FILE: json.dumps(meta)})
            path = atomic_write_bytes(out / "generator.pt2", buffer.getvalue())
            _check_same(read_exported(path)[0], inputs, expected, path)
            written["pt2"] = path
        except GandiagError:
            raise
        except Exception as exc:  # torch.export coverage varies across torch versions
            print(f"warning: torch.export of the generator failed ({type(exc).__name__}: {exc}); "
                  "generator.ts and generator_state.pt were written", file=sys.stderr)
    if onnx:
        written["onnx"] = export_onnx(g, inputs, meta, out / "generator.onnx", expected)
    return written


def export_onnx(g: nn.Module, inputs, meta: Dict[str, Any], path, expected=None) -> Path:
    """``torch.onnx.export(dynamo=True)`` with a dynamic batch and ``gandiag.json`` as a model prop.

    The file is reloaded with onnxruntime (when installed) and compared with ``expected``.
    """
    from .mixtures import MADPointGenerator, MixtureGenerator

    if isinstance(g, (MADPointGenerator, MixtureGenerator)):
        raise GandiagError("ONNX export of a mixture generator (MAD-GAN / AdaGAN) is not supported: its component "
                           "choice needs erf/erfinv of z, which the ONNX converter does not translate; use "
                           "generator.pt2, generator.ts or generator_state.pt (load_generator) instead")
    import contextlib

    try:
        import onnx as onnx_lib
        import onnxscript  # noqa: F401  (torch.onnx.export(dynamo=True) builds the graph with it)
    except ImportError as exc:
        raise GandiagError(f"ONNX export needs onnx and onnxscript ({exc}): pip install 'gandiag[onnx]' onnxscript"
                           ) from None
    names = ["z", "y"][:len(inputs)]
    batch = torch.export.Dim("batch", min=2, max=1 << 16)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(g, tuple(inputs), input_names=names, output_names=["images"],
                                        dynamic_shapes=tuple({0: batch} for _ in inputs), dynamo=True)
        except Exception as exc:
            raise GandiagError(f"ONNX export of the generator failed: {type(exc).__name__}: {exc}") from None
    model = program.model_proto
    onnx_lib.helper.set_model_props(model, {META_FILE: json.dumps(meta)})
    path = atomic_write_bytes(path, model.SerializeToString())
    if expected is not None:
        try:
            import onnxruntime as ort
        except ImportError:
            return path
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {n: t.numpy() for n, t in zip(names, inputs)}
        got = torch.from_numpy(session.run(None, feeds)[0])
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            diff = (got - expected).abs().max().item()
            raise GandiagError(f"export {path} does not reproduce the generator (max abs difference {diff:.3g})")
    return path


def _check_same(module, inputs, expected, path) -> None:
    with torch.no_grad():
        got = module(*inputs)
    if not torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
        diff = (got - expected).abs().max().item()
        raise GandiagError(f"export {path} does not reproduce the generator (max abs difference {diff:.3g})")


class _QuietJit:
    """Silence TorchScript's deprecation notices inside this block only (TorchScript is still
    the most widely loadable format, which is why it is exported)."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=FutureWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def read_torchscript(path) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Load ``generator.ts`` and its meta."""
    extra = {META_FILE: ""}
    with _QuietJit():
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module.eval(), json.loads(extra[META_FILE])


def read_exported(path) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Load ``generator.pt2`` (torch.export) as a callable module and its meta."""
    extra = {META_FILE: ""}
    program = torch.export.load(str(path), extra_files=extra)
    return program.module(), json.loads(extra[META_FILE])


def export_from_checkpoint(path, out_dir, *, onnx: bool = False) -> Dict[str, Path]:
    """Export the generator of a run folder or checkpoint file (``onnx=True``: also ``generator.onnx``)."""
    obj = read_checked(path, "checkpoint")
    config = config_of(obj, path)
    generator = build_generator(config)
    generator.load_state_dict(obj["generator"])
    return export_generator(generator, config, int(obj.get("step", 0)), out_dir, onnx=onnx)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reference_models.export",
        description="Export a reference generator as a torch.export program (.pt2), ONNX (--onnx), a plain "
                    "state dict and TorchScript.",
        epilog="examples:\n  python -m reference_models.export runs/dcgan --out runs/dcgan/export\n"
               "  python -m reference_models.export runs/dcgan/checkpoints/step_0000500.pt --out exp500",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="run folder (uses checkpoints/last.pt) or a checkpoint .pt")
    parser.add_argument("--out", required=True, help="folder for generator.pt2 / .onnx / _state.pt / .ts")
    parser.add_argument("--onnx", action="store_true", help="also write generator.onnx (needs the onnx extra)")
    args = parser.parse_args(argv)
    try:
        written = export_from_checkpoint(args.source, args.out, onnx=args.onnx)
    except GandiagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
