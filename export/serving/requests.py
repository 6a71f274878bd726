"""Predict / Classify / GetModelMetadata request handling, as TF Serving does it.

Validation follows `predict_impl.cc`/`predict_util.cc` step by step (reference §1.3) with the
same codes and messages, plus one deliberate addition: request dtypes and shapes are checked
against the SignatureDef *before* the graph runs, so a rank-0 string never reaches a tf-text
kernel (it segfaults there, reference §2.5). Tensors are read and written by `codec`.
"""

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import classification_pb2, get_model_metadata_pb2, predict_pb2

from export.serving.codec import dtype_string, parse_tensor, to_proto
from export.serving.core import ServingError

DEFAULT_SIGNATURE = "serving_default"


def _fmt_set(keys):
    return "{" + ",".join(sorted(keys)) + "}"


def _shape_string(shape):
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def get_signature(servable, signature_name):
    name = signature_name or DEFAULT_SIGNATURE
    if name not in servable.signature_defs:
        raise ServingError(
            grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{name}" not found.'
        )
    return name, servable.signature_defs[name]


def validate_inputs(signature_def, request_inputs):
    """Steps 7, 8 and 10 of §1.3: count, aliases, parsing, then dtype and shape.

    Returns {alias: numpy array} ready to feed.
    """
    sig_inputs = signature_def.inputs
    sent, expected = set(request_inputs), set(sig_inputs)
    if len(sent) != len(expected):
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({_fmt_set(sent)}) != len({_fmt_set(expected)}). "
            f"Sent extra: {_fmt_set(sent - expected)}. "
            f"Missing but required: {_fmt_set(expected - sent)}.",
        )
    feeds = {}
    for alias in sorted(sig_inputs):
        if alias not in request_inputs:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Signature input alias: {alias}(feed name: {sig_inputs[alias].name}) not found in "
                f"request and no default value provided. Inputs expected to be in the request "
                f"{_fmt_set(sent)}, or default input alias set: ",
            )
        feeds[alias] = parse_tensor(request_inputs[alias], alias)
    for index, alias in enumerate(sorted(sig_inputs)):
        info, tensor = sig_inputs[alias], feeds[alias]
        dtype = request_inputs[alias].dtype  # what the tensor was parsed as
        if dtype != info.dtype:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expects arg[{index}] to be {dtype_string(info.dtype)} but "
                f"{dtype_string(dtype)} is provided",
            )
        if not info.tensor_shape.unknown_rank:
            expected_shape = [d.size if d.size >= 0 else None for d in info.tensor_shape.dim]
            if not tf.TensorShape(expected_shape).is_compatible_with(tensor.shape):
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Shape of tensor {alias} {_shape_string(tensor.shape)} is not "
                    f"compatible with expected shape {_shape_string(expected_shape)}.",
                )
    return feeds


def validate_output_filter(signature_def, output_filter):
    """Step 9 of §1.3; returns the output aliases to fetch, in signature order."""
    outputs = signature_def.outputs
    seen = set()
    for alias in output_filter:
        if alias not in outputs:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"output tensor alias not found in signature: {alias} Outputs "
                f"expected to be in the set {_fmt_set(outputs)}.",
            )
        if alias in seen:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"duplicate output tensor alias: {alias}"
            )
        seen.add(alias)
    return list(output_filter) if output_filter else sorted(outputs)


def _fill_model_spec(response, request, servable, signature_name):
    """The model spec a response carries: requested name, served version, signature."""
    response.model_spec.name = request.model_spec.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = signature_name


def _check_model_spec(request):
    if not request.HasField("model_spec"):
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def _run(servable, signature_name, feeds, runner):
    if runner is None:
        return servable.run(signature_name, feeds)
    return runner(servable, signature_name, feeds)


def predict(manager, request, runner=None):
    """Answers a PredictRequest (reference §1.3).

    Args:
      manager: ModelManager, or anything whose `resolve(model_spec)` returns a Servable.
      request: predict_pb2.PredictRequest.
      runner: optional callable(servable, signature_name, feeds) -> {alias: ndarray}; the batcher
        plugs in here. Defaults to running the signature directly.
    """
    _check_model_spec(request)
    servable = manager.resolve(request.model_spec)
    signature_name, signature_def = get_signature(servable, request.model_spec.signature_name)
    response = predict_pb2.PredictResponse()
    _fill_model_spec(response, request, servable, signature_name)
    feeds = validate_inputs(signature_def, request.inputs)
    fetch = validate_output_filter(signature_def, request.output_filter)
    outputs = _run(servable, signature_name, feeds, runner)
    if set(fetch) - set(outputs):
        raise ServingError(grpc.StatusCode.UNKNOWN, "Predict internal error")
    for alias in fetch:
        response.outputs[alias].CopyFrom(to_proto(outputs[alias]))
    return response


def get_model_metadata(manager, request):
    """Answers a GetModelMetadataRequest (get_model_metadata_impl.cc)."""
    _check_model_spec(request)
    if not request.metadata_field:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "GetModelMetadataRequest must specify at least one metadata_field",
        )
    for field in request.metadata_field:
        if field != "signature_def":
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {field} is not supported"
            )
    servable = manager.resolve(request.model_spec)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature_def in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(signature_def)
    response.metadata["signature_def"].Pack(signature_map)
    return response


def _classification_signature(servable, signature_name):
    """GetClassificationSignatureDef + PreProcessClassification (classifier.cc)."""
    name = signature_name or DEFAULT_SIGNATURE
    if name not in servable.signature_defs:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT, f"No signature was found with the name: {name}"
        )
    sig = servable.signature_defs[name]
    debug = text_format.MessageToString(sig)
    if len(sig.inputs) != 1:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Expected one input Tensor.")
    if len(sig.outputs) not in (1, 2):
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected one or two output Tensors, found {len(sig.outputs)}",
        )
    if "inputs" not in sig.inputs:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"No classification inputs found in SignatureDef: {debug}",
        )
    if "classes" not in sig.outputs and "scores" not in sig.outputs:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected classification signature outputs to contain at least one of "
            f'"classes" or "scores". Signature was: {debug}',
        )
    return name, sig


def _serialized_examples(request_input):
    """The serialized tf.Examples of an `Input` (example_list or example_list_with_context)."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        return [e.SerializeToString() for e in request_input.example_list.examples]
    if kind == "example_list_with_context":
        context = request_input.example_list_with_context.context
        serialized = []
        for example in request_input.example_list_with_context.examples:
            merged = type(example)()
            merged.CopyFrom(context)
            merged.MergeFrom(example)
            serialized.append(merged.SerializeToString())
        return serialized
    return []


def classify(manager, request, runner=None):
    """Answers a ClassificationRequest for `tensorflow/serving/classify`-shaped signatures
    (see `predict` for `runner`)."""
    _check_model_spec(request)
    servable = manager.resolve(request.model_spec)
    signature_name, _ = _classification_signature(servable, request.model_spec.signature_name)
    response = classification_pb2.ClassificationResponse()
    _fill_model_spec(response, request, servable, request.model_spec.signature_name)
    examples = _serialized_examples(request.input)
    if not examples:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")
    outputs = _run(servable, signature_name, {"inputs": np.array(examples, dtype=object)}, runner)
    classes, scores = outputs.get("classes"), outputs.get("scores")
    for tensor, label in ((classes, "classes"), (scores, "scores")):
        if tensor is not None and (tensor.ndim != 2 or tensor.shape[0] != len(examples)):
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected {label} output batch size of {len(examples)}. Got: {tensor.shape}",
            )
    num_classes = (classes if classes is not None else scores).shape[1]
    for i in range(len(examples)):
        result = response.result.classifications.add()
        for c in range(num_classes):
            cls = result.classes.add()
            if classes is not None:
                cls.label = classes[i, c].decode("utf-8", "replace")
            if scores is not None:
                cls.score = float(scores[i, c])
    return response
