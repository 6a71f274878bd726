"""Fine-tuning runs for the export tests and the serving benchmark.

`tiny_run(model_dir, task)` saves an untrained task model with odd sizes (hidden 12, heads 3,
intermediate 37, max_seq_length 13) and a small vocabulary in `run_outputs.save_run` layout:
fast to build, enough to check that every path computes the same numbers.
`sentiment_run(model_dir)` fine-tunes BERT-tiny on the sentiment split for a few hundred steps:
a classifier good enough that quantization agreement means something.
"""

import os

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog",
         "##s", "good", "bad", "is", "what", "where", "a", "film", ",", ".", "?", "!", "new",
         "york", "paris", "john", "smith", "lives", "in", "we", "really", "like", "it",
         "##ing", "##ed", "un", "##known", "great", "terrible", "very", "not",
         "今", "天", "气", "很", "好", "北", "京", "人", "我", "喜", "欢"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
MAX_SEQ_LENGTH = 13
TEXTS = ["the cat sat on the mat", "John Smith lives in New York, not Paris!",
         "今天天气很好", "", "what is a good film?", "unknown words: zebra quux " * 3]


def write_vocab(directory, normalizer="fast", tokens=VOCAB):
    from tfbert.tokenization import write_vocab_info
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    write_vocab_info(path, lower_case=True, normalizer=normalizer)
    return path


def tiny_task_model(task, num_labels, vocab_size=len(VOCAB), seed=0):
    import keras

    from tfbert import BertConfig
    from tfbert.models import BertClassifier, BertSpanQA, BertTokenClassifier, bert_encoder
    keras.utils.set_random_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=12, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=37,
                        max_position_embeddings=32, initializer_range=0.5)
    encoder = bert_encoder(config)
    if task in ("classification", "regression"):
        return BertClassifier(encoder, num_classes=num_labels)
    if task == "ner":
        return BertTokenClassifier(encoder, num_classes=num_labels)
    return BertSpanQA(encoder)


def tiny_run(model_dir, task="classification", normalizer="fast", text_pair=False,
             labels=None, seed=0, max_seq_length=MAX_SEQ_LENGTH):
    """Saves an untrained odd-sized task model as a fine-tuning run; returns `model_dir`."""
    from tfbert.training.run_dir import save_run
    if labels is None:
        labels = {"classification": ["neg", "neutral", "pos"], "regression": None,
                  "ner": NER_LABELS, "squad": None}[task]
    vocab_file = write_vocab(os.path.join(model_dir, "vocab_src"), normalizer)
    num_labels = 1 if task in ("regression", "squad") else len(labels)
    model = tiny_task_model(task, num_labels, seed=seed)
    save_run(model_dir, model, vocab_file, task, max_seq_length, labels=labels,
             text_pair=text_pair)
    return model_dir


def sentiment_run(model_dir, train_steps=300, max_seq_length=64, vocab_size=3000):
    """Fine-tunes BERT-tiny (from scratch) on the sentiment split; returns `(model_dir, eval)`.

    Reuses a finished run in `model_dir`. Eval accuracy is
    around 0.8 (well above chance, which is what the quantization check needs).
    """
    from tfbert.data.sentiment import SENTIMENT_LABELS, load_sentiment_split
    train, eval_ = load_sentiment_split()
    if os.path.isfile(os.path.join(model_dir, "task.json")):
        return model_dir, eval_
    from tfbert.tasks.classification.run import train_classifier
    from tfbert.tokenization.learn import learn_vocab
    from tfbert.training.options import TrainingOptions
    vocab_file = learn_vocab([t for t, _ in train[::4]], vocab_size,
                             os.path.join(model_dir, "vocab_src"), log=lambda *_: None)
    options = TrainingOptions(model_dir=model_dir, config="tiny", vocab_file=vocab_file,
                              max_seq_length=max_seq_length, batch_size=32,
                              learning_rate=1e-3, train_steps=train_steps,
                              steps_per_loop=train_steps, warmup_fraction=0.1)
    train_classifier(options, [(t, None, y) for t, y in train], [], list(SENTIMENT_LABELS))
    return model_dir, eval_
