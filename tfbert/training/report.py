"""What a run leaves for people: `metrics.json`, the learning curve, tables on stdout."""

import json
import os

from tfbert.data import files
from tfbert.training.curves import plot_learning_curve
from tfbert.training.evaluation import read_history

LEARNING_CURVE_FILE = "learning_curve.png"


def write_metrics(model_dir, metrics, name="metrics.json"):
    """Writes `metrics` as JSON to `model_dir/name` and returns the path."""
    path = os.path.join(model_dir, name)
    with files.overwrite(path) as f:
        json.dump(metrics, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    return path


def finish_run(model_dir, timer, results, curve_metric=None):
    """Adds timings (and the evaluation history) to `results`, writes `metrics.json` and the
    learning curve, and prints the measured figures."""
    results["seconds"] = timer.total_seconds
    results["phase_seconds"] = timer.timings
    history = read_history(model_dir)
    if history and curve_metric:
        results["eval_history"] = history
        results["learning_curve"] = plot_learning_curve(
            history, curve_metric, os.path.join(model_dir, LEARNING_CURVE_FILE),
            title=os.path.basename(os.path.normpath(model_dir)))
    path = write_metrics(model_dir, results)
    figures = ", ".join(f"{k}={v:.4f}" for k, v in results.items()
                        if k.startswith(("eval_", "heldout_")) and isinstance(v, float))
    print(f"Wrote {path} in {results['seconds']:.0f}s: {figures}", flush=True)
    return results


def print_table(title, header, rows):
    """A fixed-width table on stdout; floats with 4 decimals."""
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(title)
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
