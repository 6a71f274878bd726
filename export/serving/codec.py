"""The one tensor codec of the serving code: TensorProto <-> numpy.

Encoding writes the typed repeated fields that `Tensor::AsProtoField` writes (`float_val`,
`string_val`, ...; never `tensor_content`), as the real server answers. Decoding reads a
well-formed typed field directly (one value per element, the common request) and leaves
every other proto to TensorFlow: `tf.make_ndarray` for responses, the ParseTensor kernel for
requests, so that malformed requests fail as `Tensor::FromProto` fails them.
"""

import math

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from export.serving.core import ServingError

# DataType -> the typed TensorProto field `AsProtoField` writes.
_FIELDS = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
    types_pb2.DT_HALF: "half_val",
    types_pb2.DT_BFLOAT16: "half_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
}
# DataType -> numpy dtype, where the typed field holds the element values exactly (no
# narrowing, no bit patterns): read directly, without TensorFlow.
_DIRECT = {
    types_pb2.DT_STRING: object,
    types_pb2.DT_FLOAT: np.float32,
    types_pb2.DT_INT32: np.int32,
    types_pb2.DT_INT64: np.int64,
}


def dtype_string(dtype_enum):
    """`DataTypeString`: DT_FLOAT -> "float", DT_INT32 -> "int32", DT_STRING -> "string"."""
    try:
        return types_pb2.DataType.Name(dtype_enum)[len("DT_") :].lower()
    except ValueError:
        return f"unknown dtype enum ({dtype_enum})"


def to_proto(array):
    """Encodes a numpy array as `Tensor::AsProtoField` does (typed repeated field + shape)."""
    array = np.asarray(array)
    dtype = tf.dtypes.as_dtype(array.dtype).as_datatype_enum
    if dtype not in _FIELDS:
        return tf.make_tensor_proto(array)  # complex/variant: no typed field worth writing
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    field = _FIELDS[dtype]
    flat = array.ravel()
    if field == "half_val":
        values = flat.view(np.uint16).astype(np.int32).tolist()
    elif field == "string_val":
        values = [v if isinstance(v, bytes) else str(v).encode() for v in flat.tolist()]
    else:
        values = flat.tolist()
    getattr(proto, field).extend(values)
    return proto


def _read_direct(proto):
    """The array of a typed field holding exactly one value per element, else None."""
    if proto.dtype not in _DIRECT or proto.tensor_content or proto.tensor_shape.unknown_rank:
        return None
    shape = [d.size for d in proto.tensor_shape.dim]
    values = getattr(proto, _FIELDS[proto.dtype])
    # Empty tensors are left to TensorFlow: only its parser checks that huge dims overflow.
    if values and min(shape, default=0) >= 0 and len(values) == math.prod(shape):
        return np.array(list(values), dtype=_DIRECT[proto.dtype]).reshape(shape)
    return None


def to_numpy(proto):
    """Decodes a TensorProto (a response's output) as `tf.make_ndarray` does."""
    array = _read_direct(proto)
    return tf.make_ndarray(proto) if array is None else array


def parse_tensor(proto, alias):
    """`Tensor::FromProto` of a request input `alias` as a numpy array.

    The fast path reads well-formed typed fields; every other proto goes through the
    ParseTensor kernel, so malformed protos fail alike.

    Raises:
      ServingError: INVALID_ARGUMENT "tensor parsing error: <alias>".
    """
    array = _read_direct(proto)
    if array is not None:
        return array
    try:
        tensor = tf.io.parse_tensor(
            proto.SerializeToString(), out_type=tf.dtypes.as_dtype(proto.dtype)
        )
    except (TypeError, tf.errors.OpError):
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT, f"tensor parsing error: {alias}"
        ) from None
    # An ndarray even for scalars (a scalar string's .numpy() is plain bytes).
    return np.asarray(tensor.numpy(), dtype=object if tensor.dtype == tf.string else None)
