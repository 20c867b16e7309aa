"""Shared benchmark helpers: record gandiag/peer timings and print speed-ups at the end.

Tests call ``speedups.record(group, side, seconds)`` with side "gandiag" or "peer";
the terminal summary prints ``peer / gandiag`` per group (median of the rounds).
``speedups.peak_rss(group, side, fn)`` runs ``fn`` once and records its peak extra
resident memory (VmHWM reset through /proc/self/clear_refs, minus the RSS before),
printed next to the speed-up.
"""
import statistics
from collections import defaultdict

import pytest

_TIMINGS = defaultdict(lambda: defaultdict(list))
_NOTES = {}
_PEAKS = defaultdict(dict)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(key)).split()[1])


def measure_peak_rss(fn):
    """``(result, peak extra RSS in bytes)`` of one call (Linux: VmHWM reset via clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak resident set size to the current one
    before = _status_kib("VmRSS")
    result = fn()
    return result, (_status_kib("VmHWM") - before) * 1024


class _Speedups:
    def record(self, group, side, seconds, note=None):
        _TIMINGS[group][side].append(float(seconds))
        if note:
            _NOTES[group] = note

    def peak_rss(self, group, side, fn):
        """Run ``fn`` once, record its peak extra RSS (bytes) for ``side``; returns fn's result."""
        result, peak = measure_peak_rss(fn)
        self.record_peak(group, side, peak)
        return result

    def record_peak(self, group, side, peak_bytes):
        _PEAKS[group][side] = float(peak_bytes)

    def record_benchmark(self, group, side, benchmark, scale=1.0, note=None):
        """Record the median of a finished pytest-benchmark run (times ``scale``)."""
        stats = getattr(benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            self.record(group, side, stats.stats.median * scale, note)


@pytest.fixture(scope="session")
def speedups():
    return _Speedups()


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS:
        return
    groups = [g for g, sides in _TIMINGS.items() if "gandiag" in sides or "peer" in sides]
    terminalreporter.section("gandiag vs peer (median seconds; speed-up = peer / gandiag)")
    for group in groups:
        sides = _TIMINGS[group]
        ours = statistics.median(sides["gandiag"]) if sides["gandiag"] else None
        peer = statistics.median(sides["peer"]) if sides["peer"] else None
        ratio = f"{peer / ours:.2f}x" if ours and peer else "n/a"
        line = f"{group}: gandiag {ours if ours is None else f'{ours:.3f}'} s, " \
               f"peer {peer if peer is None else f'{peer:.3f}'} s, speed-up {ratio}"
        if group in _PEAKS:
            line += "; peak RSS (in-process rows: extra over the call's start) " + ", ".join(f"{side} {v / 2 ** 30:.3f} GiB"
                                                    for side, v in sorted(_PEAKS[group].items()))
        if group in _NOTES:
            line += f"  [{_NOTES[group]}]"
        terminalreporter.write_line(line)
    for group, sides in _TIMINGS.items():
        for side, values in sides.items():
            if side not in ("gandiag", "peer"):
                terminalreporter.write_line(f"{group} {side}: {', '.join(f'{v:.4g}' for v in values)}")
