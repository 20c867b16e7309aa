"""Import arrows run one way: every gandiag module imports only layers below its own (parsed with ast).

Layers, bottom to top (a module may import its own package and any lower layer, never a
sibling on its own layer nor anything above):

0. ``errors``; then the package root (``__version__``; its public API is lazy strings)
1. foundations: ``registry``, ``options``, ``progress``, ``fileio``, ``images``, ``safe_load``,
   ``weights_notice``
2. ``data``        - canonical images, readers, the source-kind registry
3. ``metrics``     - pure math over arrays plus each metric's record
4. ``features``    - extractors (use metrics' FeatureStats)
5. ``generators``  - sampling generator files / callables
6. ``sources``     - the front door: built-in generator kinds, ``load_source``
7. ``evaluation``, ``report``, ``human``, ``onnx_generators`` - siblings: the report reads
   metrics.json and the metric records, never ``evaluation`` or ``diagnostics``
8. ``diagnostics`` - collapse verdicts across checkpoints (uses evaluation and report)
9. ``cli`` with ``commands`` and ``__main__`` - one unit: the CLI discovers its commands

Discovery by name (``importlib.import_module`` of commands, metric modules, the built-in
generator kinds, entry points) is not an arrow and is not seen here. ``reference_models``
uses gandiag; gandiag never imports ``reference_models`` (its checkpoint kind is a
``gandiag.sources`` entry point).
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    {"errors"},
    {"gandiag"},
    {"registry", "options", "progress", "fileio", "images", "safe_load", "weights_notice"},
    {"data"},
    {"metrics"},
    {"features"},
    {"generators"},
    {"sources"},
    {"evaluation", "report", "human", "onnx_generators"},
    {"diagnostics"},
    {"cli"},
]
UNIT = {"commands": "cli", "__main__": "cli"}  # modules of one unit import each other freely
LAYER_OF = {group: i for i, groups in enumerate(LAYERS) for group in groups}

# Known arrows back up, each with its reason; remove an entry when its import is gone. Never add
# one to make a new import pass: move the code to the right layer instead.
KNOWN_EXCEPTIONS = {
    # metric steps that need a classifier's class names or training code (issue 13); the pure
    # math of these modules does not import features
    ("gandiag.metrics.conditional", "gandiag.features.train_mnist_classifier"),
    ("gandiag.metrics.modes", "gandiag.features.fashion_classifier"),
    ("gandiag.metrics.stacked_modes", "gandiag.features.mnist_classifier"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """Absolute names of every gandiag/reference_models module ``path`` imports (any depth)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
                targets = [prefix] if node.module else [f"{prefix}.{a.name}" for a in node.names]
            else:
                targets = [node.module or ""]
        else:
            continue
        yield from (t for t in targets if t.split(".")[0] in ("gandiag", "reference_models"))


def _group(module: str) -> str:
    parts = module.split(".")
    group = parts[1] if len(parts) > 1 else "gandiag"
    return UNIT.get(group, group)


def _arrows():
    for path in sorted((ROOT / "gandiag").rglob("*.py")):
        source = _module_name(path)
        for target in _imports(path):
            yield source, target


def test_every_package_module_has_a_layer():
    groups = {_group(_module_name(p)) for p in (ROOT / "gandiag").rglob("*.py")}
    assert groups <= set(LAYER_OF), f"add these to a layer in tests/test_architecture.py: {groups - set(LAYER_OF)}"


def test_gandiag_never_imports_reference_models():
    offenders = sorted({s for s, t in _arrows() if t.split(".")[0] == "reference_models"})
    assert not offenders, f"gandiag modules importing reference_models: {offenders}"


def test_arrows_run_one_way():
    bad, seen_exceptions = [], set()
    for source, target in _arrows():
        if target.split(".")[0] != "gandiag" or _group(source) == _group(target):
            continue
        top_target = ".".join(target.split(".")[:2]) if target.count(".") >= 1 else target
        if top_target == "gandiag.__version__" or target == "gandiag":
            continue  # the package root's version string
        if LAYER_OF[_group(target)] < LAYER_OF[_group(source)]:
            continue
        key = next(((s, t) for s, t in KNOWN_EXCEPTIONS if s == source and target.startswith(t)), None)
        if key:
            seen_exceptions.add(key)
            continue
        bad.append(f"{source} -> {target} (layer {LAYER_OF[_group(source)]} imports layer {LAYER_OF[_group(target)]})")
    assert not bad, "imports that run up or sideways:\n" + "\n".join(sorted(set(bad)))


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    """The parser resolves `from ..x import y` and imports inside functions (so the test can fail)."""
    probe = ROOT / "gandiag" / "report" / "html.py"
    targets = set(_imports(probe))
    assert "gandiag.metrics" in targets  # a lazy, relative import inside a function
    assert any(t.startswith("gandiag.fileio") for t in targets)
