r"""Draws one layer's attention (one head, or the heads' average) over a text as a heat map.

    python -m apps.attention --model=runs/cls --text="the film was great" \
        --layer=1 --head=-1 --output=attention.png

`--model` is a fine-tuning run directory (its encoder, vocabulary and case handling), a
pretraining run (its `encoder/`) or a checkpoint directory `tfbert.checkpoints.load_encoder`
reads (original BERT, Hugging Face, tfbert's own). Rows are queries, columns keys, both
labelled with the word pieces of `[CLS] text [SEP] (text_pair [SEP])`; each row sums to 1.
"""

import os
import time
import warnings

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from tfbert.checkpoints import load_encoder  # noqa: E402
from tfbert.errors import UsageError, run_program, writing  # noqa: E402
from tfbert.models.attention import encoder_attention  # noqa: E402
from tfbert.tokenization import BertTokenizer, pack_inputs  # noqa: E402
from tfbert.tokenization.case import resolve_lower_case  # noqa: E402
from tfbert.training.run_dir import load_run  # noqa: E402


def define_flags():
    """The program's flags, defined under `__main__` so tests can import programs whose
    flags share names (`--model`, `--max_seq_length`, `--output`)."""
    flags.DEFINE_string("model", None, "A fine-tuning run directory (model.keras, vocab.txt, "
                        "task.json) or a checkpoint directory.")
    flags.DEFINE_string("text", None, "The text to look at.")
    flags.DEFINE_string("text_pair", None, "Optional second segment (a pair task's second "
                        "text, or a QA context).")
    flags.DEFINE_integer("layer", 0, "Transformer layer, counted from 0.")
    flags.DEFINE_integer("head", -1, "Attention head, counted from 0; -1 draws the average "
                         "over the layer's heads.")
    flags.DEFINE_string("output", "attention.png", "The PNG file to write.")
    flags.DEFINE_integer("max_seq_length", None, "Word pieces at most, [CLS] and [SEP] "
                         "included; default: the run's, else 128.", lower_bound=3)
    flags.DEFINE_boolean("do_lower_case", None, "For a checkpoint: lower-case the text; "
                         "default: what the checkpoint says.")


# Fonts that draw CJK characters, tried in this order; without any, the default font draws
# them as boxes.
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC",
              "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
              "PingFang SC", "Heiti SC", "Droid Sans Fallback", "AR PL UMing CN")


def load_model(path, do_lower_case=None):
    """`(encoder, tokenizer, max_seq_length)` from a run or a checkpoint directory."""
    if tf.io.gfile.exists(os.path.join(path, "task.json")):
        model, vocab_file, info = load_run(path)
        encoder = getattr(model, "encoder", None)
        if encoder is None:
            raise UsageError(f"--model={path}: the run's model has no encoder.")
        return encoder, BertTokenizer(vocab_file, lower_case=do_lower_case), \
            int(info["max_seq_length"])
    if not tf.io.gfile.isdir(path):
        raise UsageError(f"--model={path}: not found; expected a fine-tuning run or a "
                         "checkpoint directory.")
    if tf.io.gfile.exists(os.path.join(path, "encoder", "bert_config.json")):
        path = os.path.join(path, "encoder")  # a pretraining run: its encoder checkpoint
    encoder = load_encoder(path)
    vocab_file = os.path.join(path, "vocab.txt")
    if not tf.io.gfile.exists(vocab_file):
        raise UsageError(f"--model={path}: no vocab.txt beside the checkpoint.")
    lower_case = resolve_lower_case(vocab_file, path, do_lower_case)
    return encoder, BertTokenizer(vocab_file, lower_case=lower_case), 128


def attention_map(encoder, tokenizer, text, text_pair=None, max_seq_length=128):
    """`(tokens, probabilities)`: the word pieces of the packed input (no padding) and the
    attention probabilities float32 [layers, heads, tokens, tokens]."""
    max_seq_length = min(max_seq_length, encoder.max_sequence_length)
    first = tokenizer.tokenize(tf.constant([text]))
    second = None if text_pair is None else tokenizer.tokenize(tf.constant([text_pair]))
    inputs = pack_inputs(first, max_seq_length, tokenizer.cls_id, tokenizer.sep_id,
                         tokenizer.pad_id, second)
    length = int(tf.reduce_sum(inputs["padding_mask"]))
    inputs = {name: value[:, :length] for name, value in inputs.items()}  # drop padding
    probabilities = np.asarray(encoder_attention(encoder, inputs)["attention_probs"])[0]
    tokens = [tokenizer.id_to_token(i) for i in inputs["token_ids"][0].numpy()]
    return tokens, probabilities


def _cjk_font():
    available = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in available), None)


def _has_cjk(tokens):
    return any("\u3000" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"
               for token in tokens for char in token)


def draw(tokens, weights, title, output):
    """Writes the [tokens, tokens] `weights` as a heat map PNG to `output`.

    Without a font that draws CJK characters, Chinese tokens would be boxes: the ticks are
    then `position:U+code` so each row stays identifiable (the program prints the tokens).
    """
    font = _cjk_font()
    style = {"font.family": [font, "DejaVu Sans"]} if font else {}
    if not font and _has_cjk(tokens):
        tokens = [f"{i}:" + "".join(c if c.isascii() else f"U+{ord(c):04X}" for c in token)
                  for i, token in enumerate(tokens)]
    size = max(4.0, 0.35 * len(tokens) + 2.0)
    with plt.rc_context(style), warnings.catch_warnings():
        # Without a CJK font, missing glyphs are drawn as boxes; the warning adds nothing.
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        figure, axes = plt.subplots(figsize=(size + 1.0, size))
        image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=float(weights.max()))
        axes.set_xticks(range(len(tokens)), tokens, rotation=90,
                        fontsize=8 if len(tokens) < 40 else 5)
        axes.set_yticks(range(len(tokens)), tokens, fontsize=8 if len(tokens) < 40 else 5)
        axes.set_xlabel("key")
        axes.set_ylabel("query")
        axes.set_title(title)
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
        figure.tight_layout()
        parent = os.path.dirname(output)
        if parent:
            tf.io.gfile.makedirs(parent)
        with tf.io.gfile.GFile(output, "wb") as f:
            figure.savefig(f, format="png", dpi=120)
        plt.close(figure)
    return output


def plot_attention(model, text, output, layer=0, head=-1, text_pair=None,
                   max_seq_length=None, do_lower_case=None):
    """Writes the heat map of `layer`/`head` of `model` over `text` to `output`.

    Returns:
        dict: `output`, `tokens`, `layer`, `head`, `num_layers`, `num_heads`.
    """
    encoder, tokenizer, default_length = load_model(model, do_lower_case)
    if not 0 <= layer < encoder.num_layers:
        raise UsageError(f"--layer={layer} is out of range: {model} has {encoder.num_layers} "
                         f"layers, so --layer must be 0..{encoder.num_layers - 1}.")
    if not -1 <= head < encoder.num_heads:
        raise UsageError(f"--head={head} is out of range: {model} has {encoder.num_heads} "
                         f"heads per layer, so --head must be 0..{encoder.num_heads - 1} "
                         "(or -1 for their average).")
    tokens, probabilities = attention_map(encoder, tokenizer, text, text_pair,
                                          max_seq_length or default_length)
    weights = probabilities[layer].mean(0) if head == -1 else probabilities[layer, head]
    which = "average of heads" if head == -1 else f"head {head}"
    with writing(f"--output={output}"):
        draw(tokens, weights, f"layer {layer}, {which}", output)
    return {"output": output, "tokens": tokens, "layer": layer, "head": head,
            "num_layers": encoder.num_layers, "num_heads": encoder.num_heads}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    if not values.output.lower().endswith(".png"):
        raise UsageError(f"--output={values.output}: give a .png file.")
    start = time.time()
    result = plot_attention(values.model, values.text, values.output, values.layer,
                            values.head, values.text_pair, values.max_seq_length,
                            values.do_lower_case)
    which = "heads averaged" if result["head"] == -1 else f"head {result['head']}"
    print(f"wrote {result['output']}: layer {result['layer']} of {result['num_layers']}, "
          f"{which} (of {result['num_heads']}), {len(result['tokens'])} tokens, "
          f"{time.time() - start:.1f}s")
    if not _cjk_font() and _has_cjk(result["tokens"]):
        print("No CJK font found (e.g. Debian's fonts-noto-cjk): the ticks are position:code "
              "points; the tokens are " + " ".join(
                  f"{i}:{token}" for i, token in enumerate(result["tokens"])))


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["model", "text"])
    run_program(main)
