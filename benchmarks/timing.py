"""Interleaved timing: candidates take turns so machine noise hits all of them alike."""

import time

import numpy as np


def interleaved_times(functions, rounds, warmup=2):
    """Calls each function `warmup` times, then `rounds` times in turn; returns seconds per call.

    Args:
        functions: dict name -> zero-argument callable (which must block until done).
    Returns:
        dict name -> numpy array of per-call seconds.
    """
    for fn in functions.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: np.asarray(t) for name, t in times.items()}


def print_table(title, header, rows):
    """Prints a fixed-width table; `rows` is a list of tuples matching `header`."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
