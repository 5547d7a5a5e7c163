"""TF Serving's configuration files: text-format protos read as `tensorflow_model_server` reads
them, with its error wording.

`--model_config_file` is a `tensorflow.serving.ModelServerConfig`, `--batching_parameters_file` a
`tensorflow.serving.BatchingParameters`, `--monitoring_config_file` a
`tensorflow.serving.MonitoringConfig`. The first ships with `tensorflow-serving-api`; the other
two do not (TF Serving keeps them beside its C++ server), so where the package lacks them their
schemas are declared here, field for field as TF Serving's `session_bundle_config.proto` and
`monitoring_config.proto` have them, in a descriptor pool of kzoo's own (the default pool stays
free for the real modules should a later package ship them).

A file that does not parse is refused with TF Serving's words, naming the file, the line and the
column: `Invalid protobuf file: '<path>'. Error parsing text-format
tensorflow.serving.ModelServerConfig: 3:5: ...`.

Example:

>>> import tempfile
>>> path = tempfile.mktemp(suffix=".txt")
>>> _ = open(path, "w").write("max_batch_size { value: 128 } batch_timeout_micros { value: 0 }")
>>> parameters = read_text_proto(path, BatchingParameters)
>>> parameters.max_batch_size.value, parameters.HasField("num_batch_threads")
(128, False)
"""

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

_PACKAGE = "tensorflow.serving"
_TYPES = descriptor_pb2.FieldDescriptorProto
# TF Serving's schemas (field name, number, type, message type or None, repeated).
_SCHEMAS = {
    "BatchingParameters": [
        ("max_batch_size", 1, _TYPES.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
        ("batch_timeout_micros", 2, _TYPES.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
        ("max_enqueued_batches", 3, _TYPES.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
        ("num_batch_threads", 4, _TYPES.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
        ("thread_pool_name", 5, _TYPES.TYPE_MESSAGE, ".google.protobuf.StringValue", False),
        ("allowed_batch_sizes", 6, _TYPES.TYPE_INT64, None, True),
        ("pad_variable_length_inputs", 7, _TYPES.TYPE_BOOL, None, False),
        (
            "enable_large_batch_splitting",
            8,
            _TYPES.TYPE_MESSAGE,
            ".google.protobuf.BoolValue",
            False,
        ),
        ("max_execution_batch_size", 9, _TYPES.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
    ],
    "PrometheusConfig": [
        ("enable", 1, _TYPES.TYPE_BOOL, None, False),
        ("path", 2, _TYPES.TYPE_STRING, None, False),
    ],
    "MonitoringConfig": [
        (
            "prometheus_config",
            1,
            _TYPES.TYPE_MESSAGE,
            f".{_PACKAGE}.PrometheusConfig",
            False,
        ),
    ],
}


def _declared_messages():
    """The message classes of `_SCHEMAS`, built in a descriptor pool of their own."""
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    file = descriptor_pb2.FileDescriptorProto(
        name="kzoo/serving/tensorflow_serving_config.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[wrappers.name],
    )
    for message_name, fields in _SCHEMAS.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind, type_name, repeated in fields:
            field = message.field.add(
                name=name,
                number=number,
                type=kind,
                label=_TYPES.LABEL_REPEATED if repeated else _TYPES.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = type_name
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in _SCHEMAS
    }


def _message_classes():
    try:
        # Where a tensorflow-serving-api ships them, the real modules.
        from tensorflow_serving.config import monitoring_config_pb2
        from tensorflow_serving.servables.tensorflow import session_bundle_config_pb2
    except ImportError:
        return _declared_messages()
    return {
        "BatchingParameters": session_bundle_config_pb2.BatchingParameters,
        "PrometheusConfig": monitoring_config_pb2.PrometheusConfig,
        "MonitoringConfig": monitoring_config_pb2.MonitoringConfig,
    }


_CLASSES = _message_classes()
BatchingParameters = _CLASSES["BatchingParameters"]
MonitoringConfig = _CLASSES["MonitoringConfig"]
PrometheusConfig = _CLASSES["PrometheusConfig"]


def parse_text_proto(text, message_class, path):
    """Parses text-format `text` into a new `message_class`, as TF Serving's server does.

    Args:
        text: str. The file's content.
        message_class: a protobuf message class, e.g. `ModelServerConfig`.
        path: str. The file it came from, for the error message.

    Raises:
        ValueError: `Invalid protobuf file: '<path>'. Error parsing text-format <type>:
            <line>:<column>: <problem>`.
    """
    message = message_class()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        problem = str(error)
        if error.GetLine() is not None:
            problem = f"{error.GetLine()}:{error.GetColumn()}: {problem.split(' : ', 1)[-1]}"
        raise ValueError(
            f"Invalid protobuf file: '{path}'. Error parsing text-format "
            f"{message.DESCRIPTOR.full_name}: {problem}"
        ) from None
    return message


def read_text_proto(path, message_class):
    """Reads a text-format proto file (`parse_text_proto`); OSError when it cannot be read."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    return parse_text_proto(text, message_class, path)
