"""Trial design of a rapid-categorization "real or fake?" study (pure, seeded).

The procedure follows Denton et al. 2015 (LAPGAN, sec. 5: an image is flashed
for a fixed time, then the observer says "real" or "generated") and HYPE
(Zhou et al. 2019, "HYPE: A Benchmark for Human eYe Perceptual Evaluation of
Generative Models": fixation, timed exposure, backward mask, answer; HYPE_time
adapts the exposure with a staircase, HYPE_inf has no time limit).

Everything here is a pure function of a :class:`StudyConfig` (which holds the
seed): no files, no images. :func:`build_design` returns the plain-dict design
that the kit writer stores in ``design.json`` and embeds in the page.

Design rules:

* **Balance.** The main block holds ``trials/2`` real and ``trials/2`` fake
  images; with several ``models`` (generators) the fakes are split evenly
  between them, so every participant judges every model equally often (a
  within-participant comparison, as in HYPE). With fixed exposures each class
  (and each model) is split evenly across exposures, so ``trials`` must be a
  multiple of ``2 * len(models) * len(exposures)``.
* **Growing a study.** Nothing but the participant's index decides their
  trials, so building the same kit with more ``participants`` keeps P01..PN
  unchanged and only adds orders: the kit id changes, the *study id* (a hash of
  everything except the participant count) does not, and answers pool.
* **Counterbalancing.** Each image has a base exposure slot; participant ``p``
  sees it at slot ``(base + p) mod E`` (a Latin-square rotation), so across
  ``E`` participants every image is seen at every exposure.
* **Order.** Each participant's order is an independent seeded shuffle
  (``numpy.random.default_rng([seed, p])``), so orders differ between
  participants and are reproducible from ``seed``.
* **Practice.** ``practice`` extra images (half real, half fake, never reused in
  the main block) come first, shown at the longest exposures, with feedback.
* **Attention checks** are catch trials with a *known* answer, ``attention``
  of them spread over the main block (one in each of ``attention`` equal
  segments), at the longest exposure, never part of the accuracy: ``noise``
  checks show a uniform-noise image (obviously broken; pass = "fake"),
  ``probe`` checks show the words "answer REAL" / "answer FAKE" instead of an
  image (pass = that answer; real and fake probes alternate), ``mixed``
  (default) alternates noise checks and "answer REAL" probes, so a participant
  who always gives the same answer fails half of them. (Same-image repeats
  were dropped: they pass an always-"real" participant and exclude honest
  observers at chance, biasing the fool rate down exactly when a generator is
  good; on paper the repeated items were also visible on the same page.)
* **Staircase (HYPE_time).** With ``staircase=True`` the main trials have no
  fixed exposure: the page starts at ``staircase_start_ms`` and moves one level
  shorter after ``staircase_down`` correct answers in a row, one level longer
  after ``staircase_up`` errors in a row (3-down/1-up converges near 79% correct,
  Levitt 1971). The participant's threshold is the modal exposure (HYPE).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import GandiagError

ATTENTION_KINDS = ("mixed", "noise", "probe")
FEEDBACK_KINDS = ("practice", "all")
TRUTHS = ("real", "fake")
# The slowest refresh the page is built for: exposures shorter than one frame at 60 Hz cannot be shown.
MIN_FRAME_MS = 1000.0 / 60.0


#: The HYPE_time exposure ladder (ms): `human-kit --staircase` without --exposures.
HYPE_LADDER_MS = tuple(range(100, 1001, 100))


def _cli(default, help: str, **flag):
    """A field with its ``human-kit`` flag's help (and ``flag``/``metavar``/``choices`` overrides)."""
    return dataclasses.field(default=default, metadata={"help": help, "cli": True, **flag})


@dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a kit's trials (not its images).

    Attributes:
        trials: main-block trials per participant (real + fake, attention excluded).
        exposures_ms: exposure times; fixed conditions, or the staircase ladder.
        practice: practice trials with feedback (even number; 0 for none).
        attention: attention-check trials inserted in the main block.
        attention_kind: ``"mixed"``, ``"noise"`` or ``"probe"`` (see module doc).
        participants: number of participant orders (ids ``P01``, ``P02``, ...).
        staircase: adapt the exposure per participant (HYPE_time) instead of
            fixed, counterbalanced exposures.
        staircase_start_ms: first staircase exposure (must be on the ladder;
            default: the ladder value closest to 500 ms, HYPE's start).
        staircase_down: consecutive correct answers before a shorter exposure.
        staircase_up: consecutive errors before a longer exposure.
        fixation_ms: fixation cross before each image.
        mask_ms: backward mask after each image.
        display_px: largest on-screen image size (CSS pixels, square). The page shows
            images at the largest *whole multiple* of their pixel size that is at most
            this and fits the window (so every image pixel is the same number of screen
            pixels: 28-px digits at the default 256 -> 252 = 9 x 28).
        untimed: HYPE_inf on screen: the image stays until the answer (no exposure
            limit, no mask); ``exposures_ms`` is then unused.
        feedback: ``"practice"`` (feedback on practice trials only) or ``"all"``
            (after every trial, as in Salimans et al. 2016; the page then carries the truth).
        counterbalance_keys: odd-numbered participants (P02, P04, ...) answer "real" with J
            and "fake" with F, so a side or hand preference cannot bias the fool rate.
        demographics: ask optional age range / gender / corrected vision at the end.
        seed: seed of every random choice (image subsets, orders, noise, masks).
        models: names of the generators whose images are the fakes (one source each).
    """

    # metadata: the `gandiag human-kit` flags (gandiag.options.add_dataclass_arguments), so each
    # default is written here only
    trials: int = _cli(60, "main trials per participant, half real / half fake (a multiple of 2 x number of "
                       "exposures; attention checks and practice come on top)")
    exposures_ms: Tuple[int, ...] = _cli((250, 500, 1000), "exposure times in ms (default 250,500,1000; with "
                                         "--staircase the ladder, default " + ",".join(map(str, HYPE_LADDER_MS))
                                         + ")", flag="--exposures", metavar="MS,MS,...")
    practice: int = _cli(4, "practice trials with feedback (even; 0 = none)")
    attention: int = _cli(4, "attention-check trials in the main block")
    attention_kind: str = _cli("mixed", "catch trials with a known answer: noise = a noise image (answer fake); "
                               "probe = 'answer REAL/FAKE' written on screen; mixed = noise and 'answer REAL' "
                               "alternating", choices=ATTENTION_KINDS)
    participants: int = _cli(10, "participant ids / trial orders P01..PNN")
    staircase: bool = _cli(False, "HYPE_time: adapt the exposure per participant (3 correct -> shorter, 1 error "
                           "-> longer) instead of fixed, counterbalanced exposures")
    staircase_start_ms: Optional[int] = _cli(None, "first staircase exposure (default: the ladder value closest "
                                             "to 500 ms)", flag="--staircase-start", metavar="MS")
    staircase_down: int = _cli(3, "correct answers in a row before a shorter exposure")
    staircase_up: int = _cli(1, "errors in a row before a longer exposure")
    fixation_ms: int = _cli(500, "fixation cross before each image")
    mask_ms: int = _cli(300, "backward mask after each image")
    display_px: int = _cli(256, "largest on-screen image size in CSS pixels; the page uses the largest whole "
                           "multiple of the image size that fits both this and the window")
    untimed: bool = _cli(False, "HYPE_inf on screen: each image stays until the answer (no exposure limit, "
                         "no mask)")
    feedback: str = _cli("practice", "tell participants whether they were right after practice trials only, or "
                         "after every trial (Salimans et al. 2016; the page then holds the truth)",
                         choices=FEEDBACK_KINDS)
    counterbalance_keys: bool = _cli(True, "counterbalance the response keys: P02, P04, ... answer real with J, "
                                     "P01, P03, ... with F (off: F = real for everyone)")
    demographics: bool = _cli(False, "ask optional age range, gender and corrected vision at the end")
    seed: int = 0  # the shared --seed flag (gandiag.commands._common.add_seed)
    models: Tuple[str, ...] = ("fake",)  # from --fake NAME=SRC

    def __post_init__(self):
        object.__setattr__(self, "exposures_ms", tuple(int(e) for e in self.exposures_ms))
        object.__setattr__(self, "models", tuple(str(m) for m in self.models))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`GandiagError` naming the option when a value is unusable."""
        ex = self.exposures_ms
        if not ex:
            raise GandiagError("--exposures: give at least one exposure time in ms, e.g. 250,500,1000")
        if any(e <= 0 for e in ex) or len(set(ex)) != len(ex):
            raise GandiagError(f"--exposures: need distinct positive times in ms, got {list(ex)}")
        short = [e for e in ex if e < MIN_FRAME_MS]
        if short:
            raise GandiagError(
                f"--exposures {short} ms: shorter than one screen frame at 60 Hz ({MIN_FRAME_MS:.1f} ms), so no "
                "display can show it; use 17 ms (1 frame) or longer"
            )
        models = self.models
        if not 1 <= len(models) <= 8 or len(set(models)) != len(models):
            raise GandiagError(f"--fake: give 1 to 8 generators with distinct names, got {list(models)}")
        bad = [m for m in models if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", m)]
        if bad:
            raise GandiagError(f"--fake NAME=SRC: model names {bad} must be 1-40 letters, digits, _ . - "
                               "(starting with a letter or digit)")
        for name in ("participants", "trials"):
            if getattr(self, name) < 1:
                raise GandiagError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.practice < 0 or self.practice % 2:
            raise GandiagError(
                f"--practice must be an even number >= 0 (half real, half fake), got {self.practice}"
            )
        if self.attention < 0:
            raise GandiagError(f"--attention must be >= 0, got {self.attention}")
        if self.attention_kind == "repeat":
            raise GandiagError(
                "--attention-kind repeat is no longer offered: repeat checks pass an always-'real' participant "
                "and exclude honest observers at chance (biasing the fool rate); use mixed (default), noise "
                "or probe"
            )
        if self.attention_kind not in ATTENTION_KINDS:
            raise GandiagError(
                f"--attention-kind must be one of {', '.join(ATTENTION_KINDS)}, got {self.attention_kind!r}"
            )
        if self.participants > 999:
            raise GandiagError(f"--participants must be at most 999, got {self.participants}")
        for name in ("fixation_ms", "mask_ms"):
            if getattr(self, name) < 0:
                raise GandiagError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if not 16 <= self.display_px <= 2048:
            raise GandiagError(f"--display-px must be between 16 and 2048, got {self.display_px}")
        if self.feedback not in FEEDBACK_KINDS:
            raise GandiagError(f"--feedback must be practice or all, got {self.feedback!r}")
        if self.untimed and self.staircase:
            raise GandiagError("--untimed (HYPE_inf) and --staircase (HYPE_time) exclude each other; choose one")
        if self.untimed:
            unit = 2 * len(models)
            if self.trials % unit:
                lo = max(unit, self.trials - self.trials % unit)
                raise GandiagError(f"--trials {self.trials} cannot be split evenly into real/fake x {len(models)} "
                                   f"model(s); use a multiple of {unit} (e.g. {lo} or {lo + unit})")
        elif self.staircase:
            if len(ex) < 2:
                raise GandiagError("--staircase needs at least two --exposures to move between")
            if self.staircase_start_ms is not None and self.staircase_start_ms not in ex:
                raise GandiagError(
                    f"--staircase-start {self.staircase_start_ms} ms is not one of --exposures {sorted(ex)}"
                )
            if self.staircase_down < 1 or self.staircase_up < 1:
                raise GandiagError("--staircase-down and --staircase-up must be at least 1")
            unit = 2 * len(models)
            if self.trials % unit:
                lo = max(unit, self.trials - self.trials % unit)
                raise GandiagError(f"--trials {self.trials} cannot be split evenly into real/fake x {len(models)} "
                                   f"model(s); use a multiple of {unit} (e.g. {lo} or {lo + unit})")
        else:
            unit = 2 * len(ex) * len(models)
            if self.trials % unit:
                lo = max(unit, self.trials - self.trials % unit)
                split = f"real/fake x {len(ex)} exposures" + (f" x {len(models)} models" if len(models) > 1 else "")
                raise GandiagError(
                    f"--trials {self.trials} cannot be split evenly into {split}; "
                    f"use a multiple of {unit} (e.g. {lo} or {lo + unit})"
                )
        if self.attention > self.trials:
            raise GandiagError(f"--attention {self.attention} is more than --trials {self.trials}: at most one "
                               "check per main trial")

    @property
    def ladder_ms(self) -> Tuple[int, ...]:
        """Exposures sorted from shortest to longest."""
        return tuple(sorted(self.exposures_ms))

    @property
    def start_ms(self) -> int:
        """Staircase start: the given value, else the ladder value closest to 500 ms (HYPE)."""
        if self.staircase_start_ms is not None:
            return int(self.staircase_start_ms)
        return min(self.ladder_ms, key=lambda e: (abs(e - 500), e))

    def to_dict(self) -> Dict:
        d = dataclasses.asdict(self)
        d["exposures_ms"] = list(self.exposures_ms)
        d["models"] = list(self.models)
        return d

    @classmethod
    def from_dict(cls, d: Dict) -> "StudyConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GandiagError(f"design config has unknown keys {sorted(unknown)}")
        return cls(**d)


def check_kinds(config: StudyConfig) -> List[Tuple[str, str]]:
    """``(kind, truth)`` of each attention check, in the order they appear in the block.

    ``mixed`` alternates a noise image (answer "fake") with an "answer REAL" probe;
    ``probe`` alternates "answer REAL" and "answer FAKE" probes; ``noise`` is noise only.
    """
    out = []
    for k in range(config.attention):
        if config.attention_kind == "noise" or (config.attention_kind == "mixed" and k % 2 == 0):
            out.append(("noise", "fake"))
        elif config.attention_kind == "mixed":
            out.append(("probe", "real"))
        else:
            out.append(("probe", TRUTHS[k % 2]))
    return out


def image_counts(config: StudyConfig) -> Dict[str, int]:
    """How many images of each kind a kit needs.

    Returns:
        ``real``: real images (main + practice); ``fake``: all fakes; ``models``:
        fakes per model (main fakes split evenly; practice fakes dealt round-robin);
        ``noise``: synthetic attention-check images (probes are text, not images).
    """
    half = config.trials // 2 + config.practice // 2
    noise = sum(kind == "noise" for kind, _ in check_kinds(config))
    per_model = {m: config.trials // (2 * len(config.models)) for m in config.models}
    for k in range(config.practice // 2):
        per_model[config.models[k % len(config.models)]] += 1
    return {"real": half, "fake": half, "noise": noise, "models": per_model}


def participant_ids(n: int) -> List[str]:
    """``P01``, ``P02``, ... (three digits from 100 participants on)."""
    width = 2 if n < 100 else 3
    return [f"P{i + 1:0{width}d}" for i in range(n)]


PROBE_IDS = {"real": "probe-real", "fake": "probe-fake"}


def plan_images(config: StudyConfig) -> List[Dict]:
    """List every stimulus with an opaque id, its truth, role and source row.

    Ids (``img-001`` ...) are assigned after a seeded shuffle, so neither the id
    nor the file name reveals whether an image is real or fake. Probes (text
    instead of an image, see module doc) are the entries ``probe-real`` /
    ``probe-fake`` with ``source`` ``"probe"``: their answer is on screen anyway.

    Returns:
        dicts with ``id``, ``truth`` (``real``/``fake``), ``role``
        (``main``/``practice``/``attention``), ``source`` (``real``/``fake``/``noise``/``probe``),
        ``model`` (the generator of a fake image, else ``None``),
        ``source_index`` (row in that source's loaded set) and ``base_slot``
        (the image's exposure slot before the per-participant rotation; main images only).
    """
    rng = np.random.default_rng([config.seed, 1])
    n_main, n_prac = config.trials // 2, config.practice // 2
    models = config.models
    n_model_main = n_main // len(models)
    entries = []
    for k in range(n_main + n_prac):
        role = "main" if k < n_main else "practice"
        entries.append({"truth": "real", "role": role, "source": "real", "source_index": k})
    taken = {m: 0 for m in models}
    for k in range(n_main + n_prac):
        # Main fakes: model by model, n_main/M each; practice fakes: round-robin over models.
        model = models[k // n_model_main] if k < n_main else models[(k - n_main) % len(models)]
        role = "main" if k < n_main else "practice"
        entries.append({"truth": "fake", "role": role, "source": "fake", "model": model,
                        "source_index": taken[model]})
        taken[model] += 1
    for k in range(image_counts(config)["noise"]):
        entries.append({"truth": "fake", "role": "attention", "source": "noise", "source_index": k})
    # Balanced base exposure slots within each class (and model): a shuffled 0,1,..,E-1,0,1,...
    n_slots = len(config.exposures_ms)
    for group in [("real", None)] + [("fake", m) for m in models]:
        mains = [e for e in entries if e["truth"] == group[0] and e.get("model") == group[1] and e["role"] == "main"]
        slots = np.arange(len(mains)) % n_slots
        rng.shuffle(slots)
        for e, s in zip(mains, slots):
            e["base_slot"] = int(s)
    order = rng.permutation(len(entries))
    width = max(3, len(str(len(entries))))
    for rank, idx in enumerate(order):
        entries[idx]["id"] = f"img-{rank + 1:0{width}d}"
    for truth in sorted({t for kind, t in check_kinds(config) if kind == "probe"}):
        entries.append({"id": PROBE_IDS[truth], "truth": truth, "role": "attention", "source": "probe",
                        "source_index": None})
    keys = ("id", "truth", "role", "source", "model", "source_index", "base_slot")
    return [{k: e.get(k) for k in keys} for e in entries]


def _attention_positions(n_main: int, n_checks: int, rng: np.random.Generator) -> List[int]:
    """Insertion points (before main item ``pos``), one per equal segment of the block, never first."""
    bounds = np.linspace(0, n_main, n_checks + 1)
    positions = []
    for k in range(n_checks):
        lo = int(np.ceil(bounds[k])) + (1 if k == 0 else 0)
        hi = max(int(np.floor(bounds[k + 1])), lo)
        positions.append(int(rng.integers(lo, hi + 1)))
    return positions


def _checks(config: StudyConfig, images: List[Dict]) -> List[Dict]:
    """One image entry per attention check (noise images in order, probes by truth)."""
    noise = iter([e for e in images if e["source"] == "noise"])
    by_id = {e["id"]: e for e in images}
    return [next(noise) if kind == "noise" else by_id[PROBE_IDS[truth]] for kind, truth in check_kinds(config)]


def participant_trials(config: StudyConfig, images: List[Dict], index: int) -> List[Dict]:
    """The ordered trials of participant number ``index`` (0-based).

    Returns:
        dicts with ``trial`` (1-based, practice included), ``phase``
        (``practice``/``main``), ``image``, ``truth``, ``model``, ``exposure_ms`` (``None``
        for staircase-controlled and untimed trials) and ``attention`` (``None``/``noise``/``probe``).
    """
    rng = np.random.default_rng([config.seed, 2, index])
    ladder = config.ladder_ms
    longest = ladder[-1]
    slots = list(config.exposures_ms)
    practice = [e for e in images if e["role"] == "practice"]
    practice = [practice[i] for i in rng.permutation(len(practice))]
    trials: List[Dict] = []
    for k, e in enumerate(practice):
        # Longest exposures first: practice should teach the task, not frustrate.
        exposure = None if config.untimed else ladder[::-1][k % len(ladder)]
        trials.append(_trial(e, "practice", exposure))
    main = [e for e in images if e["role"] == "main"]
    main = [main[i] for i in rng.permutation(len(main))]
    sequence = []
    for e in main:
        exposure = None if config.staircase or config.untimed else slots[(e["base_slot"] + index) % len(slots)]
        sequence.append(_trial(e, "main", exposure))
    checks = _checks(config, images)
    # Which kind comes first alternates between participants (mixed/probe), so position does not predict it.
    shift = index % 2 if config.attention_kind != "noise" and len(checks) > 1 else 0
    checks = checks[shift:] + checks[:shift]
    positions = _attention_positions(len(sequence), len(checks), rng)
    # Insert from the back so earlier positions stay valid.
    for pos, e in sorted(zip(positions, checks), key=lambda pe: pe[0], reverse=True):
        check = _trial(e, "main", None if config.untimed else longest)
        check["attention"] = "noise" if e["source"] == "noise" else "probe"
        sequence.insert(pos, check)
    trials.extend(sequence)
    for number, t in enumerate(trials, start=1):
        t["trial"] = number
    keys = ("trial", "phase", "image", "truth", "model", "exposure_ms", "attention")
    return [{k: t.get(k) for k in keys} for t in trials]


def _trial(entry: Dict, phase: str, exposure: Optional[int]) -> Dict:
    return {"phase": phase, "image": entry["id"], "truth": entry["truth"], "model": entry.get("model"),
            "exposure_ms": exposure, "attention": None}


def paper_items(config: StudyConfig, images: List[Dict]) -> List[Dict]:
    """Item order of the printable sheets (untimed: HYPE_inf-style).

    Main images and attention checks are shuffled with their own seed; probes
    print as the words "tick REAL" / "tick FAKE" in place of an image.

    Returns:
        dicts with ``item`` (1-based), ``image``, ``truth`` and ``attention``.
    """
    rng = np.random.default_rng([config.seed, 3])
    main = [e for e in images if e["role"] == "main"]
    order = [main[i] for i in rng.permutation(len(main))]
    items = [{"image": e["id"], "truth": e["truth"], "model": e.get("model"), "attention": None} for e in order]
    checks = _checks(config, images)
    positions = _attention_positions(len(items), len(checks), rng)
    for pos, e in sorted(zip(positions, checks), key=lambda pe: pe[0], reverse=True):
        items.insert(pos, {"image": e["id"], "truth": e["truth"], "model": None,
                           "attention": "noise" if e["source"] == "noise" else "probe"})
    for number, it in enumerate(items, start=1):
        it["item"] = number
    keys = ("item", "image", "truth", "model", "attention")
    return [{k: it[k] for k in keys} for it in items]


def response_keys(config: StudyConfig, index: int) -> Dict[str, str]:
    """Which answer the left key (F, left arrow, left button) and the right key (J, right arrow) give."""
    swap = config.counterbalance_keys and index % 2 == 1
    return {"left": "fake" if swap else "real", "right": "real" if swap else "fake"}


def build_design(config: StudyConfig) -> Dict:
    """The complete trial design (no image pixels, no sources, no version).

    Returns:
        ``{"config", "images", "participants": [{"id", "trials"}], "paper": {"items"},
        "staircase"}``; the kit writer adds sources, hashes, version and kit id.
    """
    images = plan_images(config)
    participants = [
        {"id": pid, "keys": response_keys(config, k), "trials": participant_trials(config, images, k)}
        for k, pid in enumerate(participant_ids(config.participants))
    ]
    staircase = None
    if config.staircase:
        staircase = {
            "ladder_ms": list(config.ladder_ms),
            "start_ms": config.start_ms,
            "down_after_correct": config.staircase_down,
            "up_after_errors": config.staircase_up,
            "threshold": "modal exposure of the participant's staircase trials (HYPE_time)",
        }
    return {
        "config": config.to_dict(),
        "images": images,
        "participants": participants,
        "paper": {"items": paper_items(config, images)},
        "staircase": staircase,
    }
