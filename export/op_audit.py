"""Which ops of a SavedModel (or .tflite file) would the deployment target not have?

`audit(saved_model_dir, target)` reads `saved_model.pb`, collects the op type of every node
in the graph and in every library function, and returns the ones the target lacks:

* `tf_serving` — the official `tensorflow_model_server` links core TensorFlow plus
  tf-text's `ops_lib` at v2.20.0 (reference §2.4). Core ops are those registered in this
  process that are not tf-text's; tf-text ops must be in the v2.20.0 `ops_lib` list.
* `tflite` — converts the SavedModel (TFLITE_BUILTINS + custom ops, as export.tflite does)
  and audits the flatbuffer with `audit_tflite`.

`audit_tflite(path)` lists the custom ops of a .tflite file that tf-text's TFLite registrar
does not provide (reference §3.1), and resource-variable builtins (VAR_HANDLE, READ_VARIABLE:
the converter leaves them uninitialized, giving NaN outputs).
"""

import os
import tempfile

import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.client import pywrap_tf_session

# tf-text ops compiled into tensorflow_text/BUILD `ops_lib` at v2.20.0 (the version bundled
# with tensorflow/serving 2.20.0): every op of its 22 kernel libraries.
TF_TEXT_SERVING_OPS = frozenset(
    [
        "CaseFoldUTF8",
        "ConstrainedSequence",
        "FastBertNormalize",
        "FastWordpieceTokenizeWithOffsets",
        "FindSourceOffsets",
        "MaxSpanningTree",
        "NormalizeUTF8",
        "NormalizeUTF8WithOffsetsMap",
        "PhraseTokenize",
        "RegexSplitWithOffsets",
        "RougeL",
        "SentenceFragments",
        "SentenceFragmentsV2",
        "SentencepieceDetokenizeOp",
        "SentencepieceIdToStringOp",
        "SentencepieceOp",
        "SentencepieceStringToIdOp",
        "SentencepieceTokenizeOp",
        "SentencepieceTokenizeWithOffsetsOp",
        "SentencepieceVocabSizeOp",
        "SplitMergeTokenizeWithOffsets",
        "TFText>BoiseTagsToOffsets",
        "TFText>ByteSplitByOffsets",
        "TFText>ByteSplitWithOffsets",
        "TFText>FastSentencepieceDetokenize",
        "TFText>FastSentencepieceTokenize",
        "TFText>FastWordpieceDetokenize",
        "TFText>NgramsStringJoin",
        "TFText>OffsetsToBoiseTags",
        "TFText>PhraseDetokenize",
        "TFText>RoundRobinGenerateMasks",
        "TFText>RoundRobinTrim",
        "TFText>Utf8Binarize",
        "TFText>WhitespaceTokenizeWithOffsetsV2",
        "TokenizerFromLogits",
        "UnicodeScriptTokenizeWithOffsets",
        "WhitespaceTokenizeWithOffsets",
        "WordpieceTokenizeWithOffsets",
    ]
)

# Custom ops with kernels in tf_text.tflite_registrar.SELECT_TFTEXT_OPS (reference §3.1).
TF_TEXT_TFLITE_OPS = frozenset(
    [
        "FastBertNormalize",
        "FastWordpieceTokenizeWithOffsets",
        "TFText>FastWordpieceDetokenize",
        "TFText>WhitespaceTokenizeWithOffsetsV2",
        "TFText>NgramsStringJoin",
        "TFText>ByteSplitWithOffsets",
        "TFText>ByteSplitByOffsets",
        "TFText>FastSentencepieceTokenize",
        "TFText>FastSentencepieceDetokenize",
        "TFText>RoundRobinTrim",
        "TFText>RoundRobinGenerateMasks",
        "TFText>Utf8Binarize",
        "SentenceFragmentsV2",
        "RaggedTensorToTensor",
    ]
)

_TFLITE_VARIABLE_BUILTINS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")


class MissingOpsError(ValueError):
    """Raised by `check` when a SavedModel uses ops its target lacks."""


def graph_op_types(saved_model_dir, tags=("serve",)):
    """Every op type in the MetaGraph tagged `tags`: graph nodes and all library functions."""
    proto = saved_model_pb2.SavedModel()
    path = os.path.join(saved_model_dir, "saved_model.pb")
    with tf.io.gfile.GFile(path, "rb") as f:
        proto.ParseFromString(f.read())
    for meta_graph in proto.meta_graphs:
        if set(tags) <= set(meta_graph.meta_info_def.tags):
            graph = meta_graph.graph_def
            ops = {node.op for node in graph.node}
            for function in graph.library.function:
                ops.update(node.op for node in function.node_def)
            return ops
    raise ValueError(f"{path}: no MetaGraph tagged {sorted(tags)}")


def _registered_ops():

    buffer = pywrap_tf_session.TF_GetAllOpList()
    op_list = op_def_pb2.OpList()
    op_list.ParseFromString(pywrap_tf_session.TF_GetBuffer(buffer))
    return {op.name for op in op_list.op}


def _is_tf_text_op(name):
    return name in TF_TEXT_SERVING_OPS or name.startswith("TFText>")


def audit(saved_model_dir, target="tf_serving"):
    """Returns the sorted op types of `saved_model_dir` that `target` does not provide.

    Args:
      saved_model_dir: a SavedModel directory (one version directory).
      target: "tf_serving" (official tensorflow_model_server) or "tflite" (TFLite builtins plus
        tf-text's TFLite kernels).
    """
    if target == "tflite":
        return _audit_saved_model_for_tflite(saved_model_dir)
    if target != "tf_serving":
        raise ValueError(f"`target` ({target!r}) must be 'tf_serving' or 'tflite'")
    core = {op for op in _registered_ops() if not _is_tf_text_op(op)}
    available = core | TF_TEXT_SERVING_OPS
    return sorted(op for op in graph_op_types(saved_model_dir) if op not in available)


def check(saved_model_dir, target="tf_serving"):
    """Raises MissingOpsError naming every missing op; returns None when all are available."""
    missing = audit(saved_model_dir, target)
    if missing:
        raise MissingOpsError(
            f"{saved_model_dir} uses ops that target {target!r} does not have: {', '.join(missing)}"
        )


def _audit_saved_model_for_tflite(saved_model_dir):

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True
    flatbuffer = converter.convert()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tflite")
        with open(path, "wb") as f:
            f.write(flatbuffer)
        return audit_tflite(path)


def tflite_op_names(tflite_path):
    """(builtin operator names, custom op names) used by a .tflite flatbuffer."""
    try:
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError:  # pragma: no cover - TF without the lite python package
        from ai_edge_litert import schema_py_generated as schema
    with open(tflite_path, "rb") as f:
        model = schema.ModelT.InitFromPackedBuf(bytearray(f.read()), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    builtins, custom = set(), set()
    for code in model.operatorCodes or []:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom.add(
                code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            )
        else:
            builtins.add(names.get(builtin, str(builtin)))
    return builtins, custom


def audit_tflite(tflite_path):
    """Custom ops without a tf-text TFLite kernel, plus resource-variable builtins."""
    builtins, custom = tflite_op_names(tflite_path)
    missing = {op for op in custom if op not in TF_TEXT_TFLITE_OPS}
    missing.update(op for op in builtins if op in _TFLITE_VARIABLE_BUILTINS)
    return sorted(missing)
