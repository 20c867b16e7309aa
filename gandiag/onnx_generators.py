"""ONNX generators: ``gandiag evaluate G.onnx`` on onnxruntime (the ``onnx`` extra).

ONNX is how generators written in TensorFlow/Keras (``tf2onnx``), JAX (``jax2onnx``) or
PyTorch (``torch.onnx.export``) reach gandiag. This module is one registered source kind
(``onnx``, see docs/plugins.md), found through the ``gandiag.sources`` entry point.

Calling convention: the graph's first input is ``z`` float32 ``(B, z_dim)``; a second
input, when present, is the int64 class label ``y`` ``(B,)`` of a conditional generator.
The first output is the image batch, NCHW (or NHWC with ``--layout NHWC``).

What to sample is read from the model's metadata props (``onnx.helper.set_model_props``),
never guessed: either one ``gandiag.json`` prop holding the same JSON object as the
TorchScript/``.pt2`` metadata file (``{"z_dim": 100, "output_range": [-1, 1], ...}``) or
flat props ``z_dim``, ``output_range`` (``"-1,1"``), ``num_classes``, ``prior``. Missing
values come from ``--z-dim`` / ``--output-range``; a flag that contradicts the file is an
error. A static latent size in the graph's input must agree with ``z_dim``.

Safety: the session is created with onnxruntime's own operators only. No custom-op library
is registered (that is the one way an ONNX file can bring native code), and a graph whose
nodes use an operator domain outside the standard ones is refused before onnxruntime
sees it. External-data tensors must lie inside the model's folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import numpy as np

from .errors import GandiagError

#: Operator domains onnxruntime implements itself; anything else would need a custom-op library.
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "com.microsoft")
META_KEY = "gandiag.json"
_INSTALL = "install the ONNX extra: pip install 'gandiag[onnx]' (onnxruntime and onnx)"


def _import(name: str):
    try:
        return __import__(name)
    except ImportError:
        raise GandiagError(f"reading .onnx generators needs the {name} package; {_INSTALL}") from None


def _check_model(path: Path):
    """Parse the graph (no execution): refuse non-standard operator domains and outside external data."""
    onnx = _import("onnx")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise GandiagError(f"cannot read ONNX file {path}: corrupt or not an ONNX model ({exc})") from None
    graphs, domains = [model.graph], set()
    while graphs:  # sub-graphs of If/Loop/Scan nodes too
        graph = graphs.pop()
        for node in graph.node:
            domains.add(node.domain)
            for attr in node.attribute:
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)
        for init in graph.initializer:
            for entry in init.external_data:
                if entry.key == "location":
                    target = (path.parent / entry.value).resolve()
                    if path.parent.resolve() not in target.parents:
                        raise GandiagError(f"{path}: external data {entry.value!r} lies outside the model's folder; "
                                           "refusing to read it")
    foreign = sorted(d for d in domains if d not in STANDARD_DOMAINS)
    if foreign:
        raise GandiagError(f"{path} uses operators from custom domains ({', '.join(foreign)}) that need a native "
                           "custom-op library; gandiag loads none (it would run code from outside the model)")
    return model


def _read_meta(props: Dict[str, str], where: str) -> Dict[str, Any]:
    meta: Dict[str, Any] = {}
    if META_KEY in props:
        try:
            meta = json.loads(props[META_KEY])
        except json.JSONDecodeError as exc:
            raise GandiagError(f"{where}: metadata prop {META_KEY} is not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise GandiagError(f"{where}: metadata prop {META_KEY} must be a JSON object")
    for key, parse in (("z_dim", int), ("num_classes", int), ("prior", str)):
        if key in props and key not in meta:
            try:
                meta[key] = parse(props[key])
            except ValueError:
                raise GandiagError(f"{where}: metadata prop {key}={props[key]!r} is not a valid {parse.__name__}") \
                    from None
    if "output_range" in props and "output_range" not in meta:
        from .images import parse_range

        meta["output_range"] = list(parse_range(props["output_range"]))
    return meta


class OnnxGenerator:
    """``fn(z[, y]) -> images`` over an onnxruntime session (numpy in, numpy out)."""

    def __init__(self, session, input_names, output_name):
        self.session, self.inputs, self.output = session, list(input_names), output_name

    def __call__(self, z, y=None):
        feeds = {self.inputs[0]: np.ascontiguousarray(z.detach().cpu().numpy(), dtype=np.float32)}
        if y is not None:
            if len(self.inputs) < 2:
                raise GandiagError("the ONNX generator takes one input (z) but the metadata declares num_classes")
            feeds[self.inputs[1]] = np.ascontiguousarray(y.detach().cpu().numpy(), dtype=np.int64)
        return self.session.run([self.output], feeds)[0]


def open_onnx(spec: str, options):
    """The ``open`` of the ``onnx`` source kind: a GeneratorSource sampling the ONNX graph."""
    from .sources import generator_from

    path = Path(spec)
    _check_model(path)
    ort = _import("onnxruntime")
    so = ort.SessionOptions()
    so.log_severity_level = 3  # errors only: onnxruntime's warnings are not the user's business
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if str(options.device).startswith("cuda") \
        else ["CPUExecutionProvider"]
    providers = [p for p in providers if p in ort.get_available_providers()] or ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as exc:
        raise GandiagError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0][:300]}") from None
    inputs = session.get_inputs()
    if not inputs or len(inputs) > 2:
        raise GandiagError(f"{path}: expected inputs (z) or (z, y), the graph has {len(inputs)}")
    model_meta = session.get_modelmeta()
    meta = _read_meta(dict(model_meta.custom_metadata_map), str(path))
    meta.update(producer=model_meta.producer_name, onnx_inputs=[i.name for i in inputs])
    gen = generator_from(OnnxGenerator(session, [i.name for i in inputs], session.get_outputs()[0].name), meta,
                         "onnx", str(path), options)
    static = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
    if isinstance(static, int) and static != gen.z_dim:
        raise GandiagError(f"{path}: the graph's input {inputs[0].name!r} takes {static} latents but z_dim is "
                           f"{gen.z_dim}; fix the metadata or --z-dim")
    if gen.num_classes and len(inputs) < 2:
        raise GandiagError(f"{path}: num_classes={gen.num_classes} but the graph has no label input")
    return gen


def register() -> None:
    """Register the ``onnx`` source kind (entry point ``gandiag.sources``; idempotent)."""
    from .data.kinds import SOURCES, register_source

    if "onnx" not in SOURCES:
        register_source("onnx", lambda s: Path(s).suffix.lower() == ".onnx" and Path(s).is_file(), open=open_onnx,
                        description="an ONNX generator (.onnx; onnxruntime, extra 'onnx')", example="generator.onnx")


__all__ = ["open_onnx", "register", "OnnxGenerator", "STANDARD_DOMAINS", "META_KEY"]
