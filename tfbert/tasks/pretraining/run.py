"""Masked-LM + next-sentence pretraining: data, training, held-out metrics, saving."""

import os

import keras

from tfbert.checkpoints import save_encoder
from tfbert.models import BertPretrainer
from tfbert.tasks.pretraining import features as pretraining_data
from tfbert.tokenization import BertTokenizer
from tfbert.training.evaluation import PeriodicEvaluation, read_history
from tfbert.training.loop import PhaseTimer, compile_for_training, fit, train_results
from tfbert.training.options import build_encoder, prepare
from tfbert.training.report import finish_run


def special_ids(tokenizer):
    return {"cls": tokenizer.cls_id, "sep": tokenizer.sep_id, "pad": tokenizer.pad_id,
            "mask": tokenizer.mask_id}


def text_pairs(documents, tokenizer, max_seq_length, heldout_every=20, seed=12345,
               dupe_factor=1, segmented=True):
    """Tokenizes documents and returns `(train_pairs, heldout_pairs)`.

    Every `heldout_every`-th document is held out, so held-out pairs come from text the
    model never trains on.
    """
    if len(documents) < 2 * heldout_every:
        raise ValueError(
            f"The corpus has {len(documents)} documents; holding out every "
            f"{heldout_every}th needs at least {2 * heldout_every} (an empty line separates "
            "documents in a text corpus).")
    tokenized = pretraining_data.tokenize_documents(documents, tokenizer, segmented=segmented)
    words, multi_piece = pretraining_data.count_words(tokenized)
    print(f"{words:,} words, {multi_piece:,} of them of several pieces (masked whole under "
          "whole-word masking).", flush=True)
    heldout = [d for i, d in enumerate(tokenized) if i % heldout_every == 0]
    train = [d for i, d in enumerate(tokenized) if i % heldout_every != 0]
    return (pretraining_data.create_nsp_pairs(train, max_seq_length, seed=seed,
                                              dupe_factor=dupe_factor),
            pretraining_data.create_nsp_pairs(heldout, max_seq_length, seed=seed + 1))


def pretrain(options, train_pairs=None, heldout_pairs=None, train_records=None,
             heldout_records=None, max_predictions=20, whole_word=False):
    """Pretrains a `BertPretrainer`; returns held-out MLM and NSP accuracy.

    Give either pairs (dynamic masking: new masks every pass) or TFRecord patterns
    written by `create_pretraining_data` (static masks). Writes `encoder/` (tfbert's
    checkpoint format: config, weights, vocab — usable as `--init_checkpoint`) and
    `metrics.json` under `options.model_dir`.
    """
    timer = PhaseTimer()
    strategy, vocab_file = prepare(options)
    tokenizer = BertTokenizer(vocab_file)
    seq = options.max_seq_length
    if train_records:
        train_ds = pretraining_data.read_tfrecords(train_records, seq, max_predictions,
                                                   options.batch_size)
        num_train = None
    else:
        masker = pretraining_data.PretrainingMasker(
            tokenizer.vocab_size, special_ids(tokenizer), seq, max_predictions,
            whole_word=whole_word)
        train_ds = pretraining_data.masked_dataset(
            pretraining_data.pairs_dataset(train_pairs), masker, options.batch_size,
            seed=options.seed)
        num_train = len(train_pairs)
    if heldout_records:
        heldout_ds = pretraining_data.read_tfrecords(
            heldout_records, seq, max_predictions, options.batch_size, shuffle=False,
            drop_remainder=False)
    elif heldout_pairs:
        heldout_masker = pretraining_data.PretrainingMasker(
            tokenizer.vocab_size, special_ids(tokenizer), seq, max_predictions,
            whole_word=whole_word)
        heldout_ds = pretraining_data.masked_dataset(
            pretraining_data.pairs_dataset(heldout_pairs), heldout_masker,
            options.batch_size, shuffle=False, drop_remainder=False).cache()
    else:
        heldout_ds = None
    if num_train is None and not options.train_steps:
        raise ValueError("Training from TFRecords needs --train_steps.")
    total_steps = options.total_steps(num_train or 0)
    with timer.phase("build model"), strategy.scope():
        encoder = build_encoder(options, tokenizer.vocab_size)
        model = BertPretrainer(encoder)
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")
        compile_for_training(
            model, options, total_steps,
            loss={"mlm_logits": loss, "nsp_logits": loss},
            weighted_metrics={
                "mlm_logits": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
                "nsp_logits": [keras.metrics.SparseCategoricalAccuracy("accuracy")]})
    evaluation = None
    if heldout_ds is not None:
        evaluation = PeriodicEvaluation(
            lambda m: heldout_scores(m, heldout_ds), "mlm_accuracy", options.model_dir,
            keep_best=False)
    print(f"Pretraining for {total_steps} steps of {options.batch_size} "
          f"({strategy.num_replicas_in_sync} replica(s)).", flush=True)
    with timer.phase("pretrain"):
        history = fit(model, train_ds, model_dir=options.model_dir,
                      total_steps=total_steps, steps_per_loop=options.steps_per_loop,
                      evaluation=evaluation)
    results = train_results(history, total_steps)
    if heldout_ds is not None:
        records = read_history(options.model_dir)
        # The last loop's evaluation is the final model's, unless the run died before it.
        last = (records[-1] if records and records[-1]["step"] == total_steps
                else heldout_scores(model, heldout_ds))
        results.update({f"heldout_{k}": last[k] for k in ("mlm_accuracy", "nsp_accuracy", "loss")})
    encoder_dir = os.path.join(options.model_dir, "encoder")
    save_encoder(encoder, vocab_file, encoder_dir)
    results["encoder_dir"] = encoder_dir
    return finish_run(options.model_dir, timer, results, curve_metric="mlm_accuracy")


def heldout_scores(model, heldout_ds):
    """Held-out masked-LM and next-sentence accuracy and the loss of a `BertPretrainer`."""
    scores = model.evaluate(heldout_ds, return_dict=True, verbose=0)
    return {"loss": float(scores["loss"]),
            "mlm_accuracy": float(scores["mlm_logits_accuracy"]),
            "nsp_accuracy": float(scores["nsp_logits_accuracy"])}

