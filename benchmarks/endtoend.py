"""What the end-to-end benchmarks (`finetune`, `inference`) share: which systems can run, the
result rows, the ratios, the JSON file and the float32 matmul ceiling.

A row is a dict: `system` ("tfbert", "keras_hub", "hf"), `setting` (how it ran), `status`
("ok", "not installed: <modules>" or "failed: <error>") and, when it ran, `examples`,
`seconds`, `examples_per_s` plus what the benchmark adds (tokens/s, latency percentiles).
"""

import importlib.util
import json
import time

from tfbert.errors import UsageError

SYSTEMS = ("tfbert", "keras_hub", "hf")
PEERS = ("keras_hub", "hf")
OK = "ok"
NOT_INSTALLED = "not installed"


def parse_systems(value):
    """`--systems` (comma-separated) as a tuple in `SYSTEMS` order."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown or not names:
        raise UsageError(f"--systems={value}: expected a comma-separated subset of "
                         f"{','.join(SYSTEMS)}.")
    return tuple(name for name in SYSTEMS if name in names)


def missing_modules(modules):
    """The names in `modules` that cannot be imported here (not installed)."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def not_installed_row(system, setting, missing):
    return {"system": system, "setting": setting,
            "status": f"{NOT_INSTALLED}: {', '.join(missing)}"}


def result_row(system, setting, examples, seconds, **fields):
    return {"system": system, "setting": setting, "status": OK, "examples": int(examples),
            "seconds": float(seconds), "examples_per_s": examples / seconds, **fields}


def failed_row(system, setting, error):
    return {"system": system, "setting": setting,
            "status": f"failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"}


def spread_sample(examples, count):
    """`count` items spread evenly over the list (both labels of a split), or all for 0."""
    if not count or count >= len(examples):
        return list(examples)
    return list(examples[::len(examples) // count][:count])


def best_rate(rows, system, settings=None):
    """The highest `examples_per_s` among `system`'s rows that ran (optionally only the
    given settings); None when none ran."""
    rates = [row["examples_per_s"] for row in rows
             if row["system"] == system and row["status"] == OK
             and (settings is None or row["setting"] in settings)]
    return max(rates) if rates else None


def ratios(rows, tfbert_settings=None, peer_settings=None):
    """`{"ratio_vs_keras_hub": r, "ratio_vs_hf": r}`: tfbert's examples/s ÷ the peer's best
    setting (None when either side did not run). `tfbert_settings` / `peer_settings` limit
    which rows count (e.g. batch 64 only)."""
    ours = best_rate(rows, "tfbert", tfbert_settings)
    result = {}
    for peer in PEERS:
        theirs = best_rate(rows, peer, peer_settings)
        result[f"ratio_vs_{peer}"] = (ours / theirs if ours is not None and theirs
                                      else None)
    return result


def write_json(path, report):
    """Writes `report` to `path` as JSON: `ratio_vs_keras_hub`, `ratio_vs_hf`, the run's
    settings, then `rows`."""
    keys = ["ratio_vs_keras_hub", "ratio_vs_hf"]
    ordered = {**{k: report.get(k) for k in keys},
               **{k: v for k, v in report.items() if k not in keys and k != "rows"},
               "rows": report.get("rows", [])}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(ordered, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return ordered


def fmt(value, spec=".1f"):
    """A table cell: the number formatted, or "-" for None."""
    return "-" if value is None else format(value, spec)


def matmul_gflops(size=1024, rounds=20):
    """The float32 matmul ceiling of this machine as TensorFlow reaches it: GFLOP/s of the
    fastest of `rounds` [size, size] @ [size, size] products (all cores, default threads)."""
    import tensorflow as tf
    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    product().numpy()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def encoder_flops(lengths, config, training=True):
    """FLOPs of the matmuls an encoder (plus pooler) runs on sequences of the given useful
    (non-padding) `lengths`: per layer 2·n·(4H² + 2HI) for the projections and feed-forward
    and 4·n²·H for attention scores and values; training is 3x the forward pass (forward,
    gradients of activations and of weights). Embedding lookups and the head are left out."""
    hidden, inner = config.hidden_size, config.intermediate_size
    per_layer = sum(2 * n * (4 * hidden * hidden + 2 * hidden * inner) + 4 * n * n * hidden
                    for n in lengths)
    forward = config.num_hidden_layers * per_layer + 2 * hidden * hidden * len(lengths)
    return 3 * forward if training else forward
