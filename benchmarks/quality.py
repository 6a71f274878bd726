r"""Model quality over seeds: the quickstart, its no-pretraining ablation and the baselines.

    python -m benchmarks.quality --task=sentiment --seeds=0,1,2 --work_dir=quality
    python -m benchmarks.quality --task=ner --seeds=0,1,2 --work_dir=quality_ner

Runs `apps.quickstart` once per seed with pretraining and once with `--pretrain_steps=0`,
scores the linear baseline of DESIGN.md on the same split, and prints (and writes to
`--output_json`) the mean and spread of each figure, plus the transfer: quickstart minus
the ablation, seed by seed. Every quickstart flag (`--task`, `--pretrain_steps`, ...)
applies to all runs.
"""

import json
import os

import numpy as np
from absl import flags

from apps import quickstart
from benchmarks.baselines import ner_baseline, sentiment_baseline
from benchmarks.timing import print_table
from tfbert.data.peoples_daily import load_ner_split
from tfbert.data.sentiment import load_sentiment_split
from tfbert.errors import run_program


def define_flags():
    """The quickstart's flags plus this program's, defined under `__main__`."""
    quickstart.define_flags()
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, one quickstart pair each (overrides "
                      "--seed).")
    flags.DEFINE_boolean("skip_ablation", False, "Do not run the no-pretraining ablation.")
    flags.DEFINE_string("output_json", None, "Also write the figures here.")


METRICS = {"sentiment": "eval_accuracy", "ner": "eval_f1"}
FIGURES = ("eval_accuracy", "eval_macro_f1", "eval_f1", "eval_precision", "eval_recall",
           "heldout_mlm_accuracy", "heldout_nsp_accuracy", "seconds")


def spread(values):
    """`mean ± std (n=...)` over seeds (population std; a single run shows no spread)."""
    values = np.asarray(values, float)
    return f"{values.mean():.3f} ± {values.std():.3f} (n={len(values)})"


def run_quality(seeds, work_dir, settings, skip_ablation=False):
    """Returns `{"task", "baseline", "quickstart": [...], "ablation": [...], "transfer": [...]}`.

    `settings`: `run_quickstart` keyword arguments (`task`, `pretrain_steps`, ...); each
    seed runs them as given and with `pretrain_steps=0`.
    """
    task = settings.get("task", "sentiment")
    if task == "ner":
        baseline = ner_baseline(*load_ner_split())
    else:
        baseline = sentiment_baseline(*load_sentiment_split())
    print(f"baseline: {baseline}", flush=True)
    results = {"task": task, "baseline": baseline, "quickstart": [], "ablation": []}
    for seed in seeds:
        runs = [("quickstart", settings.get("pretrain_steps", 2000))]
        if not skip_ablation:
            runs.append(("ablation", 0))
        for kind, steps in runs:
            summary = quickstart.run_quickstart(os.path.join(work_dir, f"{kind}_seed{seed}"),
                                     **{**settings, "pretrain_steps": steps, "seed": seed})
            results[kind].append({k: summary[k] for k in FIGURES if k in summary})
    metric = METRICS[task]
    results["transfer"] = [q[metric] - a[metric]
                           for q, a in zip(results["quickstart"], results["ablation"])]
    return results


def print_results(results):
    metric = METRICS[results["task"]]
    rows = [("linear baseline", metric, f"{results['baseline'][metric]:.3f}")]
    for kind in ("quickstart", "ablation"):
        runs = results[kind]
        for key in FIGURES:
            if runs and key in runs[0]:
                rows.append((kind, key, spread([r[key] for r in runs])))
    if results["transfer"]:
        rows.append(("transfer", f"{metric}, quickstart - ablation",
                     spread(results["transfer"])))
    print_table(f"Model quality, {results['task']}", ("run", "figure", "mean ± std"), rows)


def main(argv):
    del argv
    settings = quickstart.settings_from_flags()
    values = flags.FLAGS
    results = run_quality([int(s) for s in values.seeds], values.work_dir, settings,
                          values.skip_ablation)
    print_results(results)
    if values.output_json:
        with open(values.output_json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    define_flags()
    run_program(main)
