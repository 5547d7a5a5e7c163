"""`kzoo serve`'s command line: tensorflow_model_server's flags as it spells them, beside kzoo's.

A TF Serving command line starts `kzoo serve` unchanged:

    kzoo serve --port=8500 --rest_api_port=8501 \\
        --model_name=my_model --model_base_path=/models/my_model

Every flag of `tensorflow_model_server` (TF Serving's `main.cc`) is known. A flag is either
honoured with TF Serving's meaning (the ports, models, polling, batching, warm-up, monitoring,
health checks, socket, timeouts, threads...), or it is one kzoo cannot honour (TensorFlow Lite,
TPUs, ALTS and SSL credentials, per-model batching...): then `kzoo serve` stops at start with a
one-line error that says so, unless the value given is the one kzoo already behaves as (e.g.
`--use_alts_credentials=false`). Values may follow `=` (TF Serving's only form) or a space; a
boolean flag alone means true, and takes `=true` or `=false`.

Two spellings differ in meaning where the two servers differ: TF Serving's `--model_base_path`
is one model's folder, served under `--model_name` (default `default`, as TF Serving), while
kzoo's `--model-base-path` (default `saved_models`) is a folder of model folders, each served
under its folder's name. kzoo's `--rest-port` defaults to 8501 (TF Serving's `--rest_api_port`
defaults to 0, no REST API), for both spellings.

Example:

>>> options, _ = server_options(["--port=9000", "--rest_api_port=0", "--model_name=half",
...                              "--model_base_path=/models/half", "--enable_batching"])
>>> options["grpc_port"], options["rest_port"], options["model_name"], options["enable_batching"]
(9000, None, 'half', True)
>>> server_options(["--use_alts_credentials"])
Traceback (most recent call last):
...
ValueError: Invalid value for setting --use_alts_credentials. kzoo serve cannot honour it \
(grpcio's Python server has no ALTS credentials). Expected: false. Received: \
--use_alts_credentials=true
"""

import argparse
import importlib.metadata

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

from kzoo.serving.grpc_service import parse_channel_arguments
from kzoo.serving.limits import DEFAULT_MAX_REQUEST_ELEMENTS, DEFAULT_MAX_REQUEST_INSTANCES
from kzoo.serving.protos import read_text_proto

DEFAULT_MAX_REQUEST_BYTES = 64 * 2**20
# TF Serving's --rest_api_timeout_in_ms default, in seconds.
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MODEL_BASE_PATH = "saved_models"
# TF Serving's --model_name default.
TF_SERVING_MODEL_NAME = "default"

# Flags kzoo cannot honour: (flag, the value kzoo behaves as, why).
_UNSUPPORTED = [
    ("use_alts_credentials", False, "grpcio's Python server has no ALTS credentials"),
    ("ssl_config_file", "", "kzoo serve has no SSL credentials for gRPC"),
    ("platform_config_file", "", "kzoo serves TensorFlow SavedModels only"),
    ("thread_pool_factory_config_file", "", "kzoo serve has no custom thread pools"),
    ("enable_per_model_batching_parameters", False, "batching parameters are the server's"),
    ("per_process_gpu_memory_fraction", 0.0, "TensorFlow's GPU memory is not capped"),
    ("mixed_precision", "", "kzoo serve runs SavedModels in their own precision"),
    ("prefer_tflite_model", False, "kzoo serve has no TensorFlow Lite runtime"),
    ("num_tflite_pools", None, "kzoo serve has no TensorFlow Lite runtime"),
    ("num_tflite_interpreters_per_pool", None, "kzoo serve has no TensorFlow Lite runtime"),
    ("num_load_threads", 0, "versions load one at a time, in the polling thread"),
    ("num_unload_threads", 0, "versions unload one at a time, in the polling thread"),
    ("enable_profiler", False, "kzoo serve has no profiler service"),
    ("allow_version_labels_for_unavailable_models", True, "labels may name any version"),
    ("remove_unused_fields_from_bundle_metagraph", True, "only signatures are kept"),
    ("xla_cpu_compilation_enabled", True, "jit_compile functions always compile"),
    ("xla_gpu_compilation_enabled", True, "jit_compile functions always compile"),
]


def _bool(text):
    if text in (True, "true"):
        return True
    if text == "false":
        return False
    raise argparse.ArgumentTypeError(f"Expected true or false. Received: {text}")


def _port(text):
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"Expected a port from 0 to 65535. Received: {text}")
    return port


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"Expected a positive integer. Received: {text}")
    return value


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"Expected an integer >= 0. Received: {text}")
    return value


def _seconds(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"Expected a number of seconds >= 0. Received: {text}")
    return value


def _flag(group, *names, **options):
    """A flag; a boolean one (`type=_bool`) also stands alone for true."""
    if options.get("type") is _bool:
        options.setdefault("nargs", "?")
        options.setdefault("const", True)
        options.setdefault("metavar", "true|false")
    group.add_argument(*names, **options)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default, unless it has none (None)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser(prog="kzoo serve"):
    """The `kzoo serve` argument parser: TF Serving's flags and kzoo's."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve SavedModels with TensorFlow Serving's REST and gRPC APIs. "
        "tensorflow_model_server's flags are accepted as it spells them.",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    models = parser.add_argument_group("models")
    _flag(
        models,
        "--model-base-path",
        dest="kzoo_model_base_path",
        metavar="MODEL_BASE_PATH",
        help="kzoo: a folder of model folders (<name>/<version>/saved_model.pb), each served "
        f"under its name, or one model's folder (default: {DEFAULT_MODEL_BASE_PATH})",
    )
    _flag(
        models,
        "--model_base_path",
        help="TF Serving: one model's folder of versions, served as --model_name",
    )
    _flag(models, "--model_name", "--model-name", help="the name to serve the base path as")
    _flag(
        models,
        "--model_config_file",
        "--model-config-file",
        help="a text ModelServerConfig listing the models (instead of the base path)",
    )
    _flag(
        models,
        "--model_config_file_poll_wait_seconds",
        "--model-config-file-poll-wait-seconds",
        type=_seconds,
        default=0.0,
        help="seconds between re-reads of the config file; 0 reads it once",
    )
    _flag(
        models,
        "--file_system_poll_wait_seconds",
        "--file-system-poll-wait-seconds",
        type=_seconds,
        default=1.0,
        help="seconds between looks for new versions; 0 looks once",
    )
    _flag(models, "--saved_model_tags", default="serve", help="the meta graph's tags, by commas")
    _flag(
        models,
        "--max_num_load_retries",
        type=_count,
        default=0,
        help="times a failed load is tried again; 0 (kzoo's default): again when its files change",
    )
    _flag(
        models,
        "--load_retry_interval_micros",
        type=int,
        default=60_000_000,
        help="microseconds between load retries",
    )
    _flag(
        models,
        "--flush_filesystem_caches",
        type=_bool,
        default=True,
        help="accepted either way: kzoo reads local folders and keeps no file system cache",
    )
    _flag(
        models,
        "--skip_initialize_tpu",
        type=_bool,
        default=False,
        help="accepted either way: kzoo serve never initializes TPUs",
    )
    _flag(
        models,
        "--enable_signature_method_name_check",
        type=_bool,
        default=False,
        help="check signatures' method_name for predict, classify and regress",
    )

    network = parser.add_argument_group("network")
    _flag(network, "--host", default="127.0.0.1", help="kzoo: address to bind")
    _flag(
        network,
        "--port",
        "--grpc-port",
        dest="port",
        type=_port,
        default=8500,
        help="gRPC port, 0 to turn it off",
    )
    _flag(
        network,
        "--rest_api_port",
        "--rest-port",
        dest="rest_api_port",
        type=_port,
        default=8501,
        help="REST port, 0 to turn it off (TF Serving's default is 0)",
    )
    _flag(network, "--grpc_socket_path", help="also serve gRPC on this Unix socket")
    _flag(
        network,
        "--grpc_channel_arguments",
        default="",
        help="gRPC server options, e.g. grpc.max_connection_age_ms=2000,...",
    )
    _flag(
        network,
        "--grpc_max_threads",
        type=_positive,
        default=32,
        help="threads answering gRPC calls",
    )
    _flag(
        network,
        "--rest_api_num_threads",
        type=_positive,
        help="REST requests processed at once; no limit unless given",
    )
    _flag(
        network,
        "--rest_api_enable_cors_support",
        type=_bool,
        default=False,
        help="add CORS headers to REST answers",
    )
    _flag(
        network,
        "--enable_grpc_healthcheck_service",
        type=_bool,
        default=False,
        help="serve grpc.health.v1.Health",
    )
    _flag(
        network,
        "--enable_serialization_as_tensor_content",
        type=_bool,
        default=False,
        help="gRPC predict outputs as tensor_content bytes",
    )
    _flag(
        network,
        "--monitoring_config_file",
        help="a text MonitoringConfig: prometheus_config { enable: true path: ... }",
    )
    _flag(
        network,
        "--max-request-bytes",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="kzoo: largest REST body or gRPC message accepted",
    )

    limits = parser.add_argument_group("request limits (kzoo)")
    _flag(
        limits,
        "--max-request-instances",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_INSTANCES,
        help="most instances (first dimension of each input, or examples) in one request; "
        "more are answered 400 / INVALID_ARGUMENT",
    )
    _flag(
        limits,
        "--max-request-elements",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_ELEMENTS,
        help="most tensor elements in one request, counted from the shapes it declares "
        "before any tensor is built; more are answered 400 / INVALID_ARGUMENT",
    )
    _flag(
        limits,
        "--request-timeout",
        type=_seconds,
        help="seconds a request may run before it is answered DEADLINE_EXCEEDED (REST 504) "
        "and its computation stopped; a gRPC client's earlier deadline wins; 0: no limit "
        f"(default: {DEFAULT_REQUEST_TIMEOUT:g})",
    )
    _flag(
        limits,
        "--rest_api_timeout_in_ms",
        type=int,
        help="TF Serving's spelling of --request-timeout, in milliseconds",
    )

    batching = parser.add_argument_group("batching")
    _flag(
        batching,
        "--enable_batching",
        "--enable-batching",
        type=_bool,
        default=False,
        help="merge concurrent predict requests",
    )
    _flag(
        batching,
        "--batching_parameters_file",
        help="a text BatchingParameters (max_batch_size, batch_timeout_micros, "
        "num_batch_threads, max_enqueued_batches, allowed_batch_sizes...)",
    )
    _flag(
        batching,
        "--max-batch-size",
        type=_positive,
        help="kzoo: most rows in a merged call (over the file's)",
    )
    _flag(
        batching,
        "--batch-timeout-micros",
        type=_count,
        help="kzoo: how long a batch waits to fill (over the file's)",
    )

    runtime = parser.add_argument_group("runtime")
    _flag(
        runtime,
        "--enable_model_warmup",
        type=_bool,
        default=True,
        help="replay assets.extra/tf_serving_warmup_requests when loading",
    )
    _flag(runtime, "--no-warmup", action="store_true", help="kzoo: --enable_model_warmup=false")
    _flag(
        runtime,
        "--num_request_iterations_for_warmup",
        type=_count,
        default=0,
        help="times each warm-up request is replayed (0: once)",
    )
    for name in ("session_parallelism", "intra_op_parallelism", "inter_op_parallelism"):
        _flag(
            runtime,
            f"--tensorflow_{name}",
            type=_count,
            default=0,
            help=f"TensorFlow's {name.replace('_', ' ')} (0: automatic)",
        )
    _flag(
        runtime,
        "--tensorflow_session_config_file",
        help="a text ConfigProto; its intra and inter op parallelism are honoured",
    )
    _flag(runtime, "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    _flag(runtime, "--version", type=_bool, default=False, help="print the versions and exit")

    unsupported = parser.add_argument_group(
        "flags kzoo cannot honour (an error unless given the value kzoo behaves as)"
    )
    for name, value, why in _UNSUPPORTED:
        kind = type(value) if value is not None else int
        kind = {bool: _bool, float: float, int: int, str: str}[kind]
        _flag(unsupported, f"--{name}", type=kind, help=why)
    return parser


def _setting_error(flag, value, expected):
    return ValueError(f"Invalid value for setting --{flag}. {expected}. Received: --{flag}={value}")


def _text(value):
    return str(value).lower() if isinstance(value, bool) else value


def _check_unsupported(args):
    for name, accepted, why in _UNSUPPORTED:
        value = getattr(args, name)
        if value is None or value == accepted:
            continue
        expected = (
            "Expected it not given" if accepted in (None, "") else f"Expected: {_text(accepted)}"
        )
        raise _setting_error(name, _text(value), f"kzoo serve cannot honour it ({why}). {expected}")


def _thread_counts(args):
    """TensorFlow's (intra, inter) op thread counts, as TF Serving derives them; None: auto."""
    session, intra, inter = (
        args.tensorflow_session_parallelism,
        args.tensorflow_intra_op_parallelism,
        args.tensorflow_inter_op_parallelism,
    )
    if args.tensorflow_session_config_file:
        config = read_text_proto(args.tensorflow_session_config_file, config_pb2.ConfigProto)
        others = [
            field.name
            for field, _ in config.ListFields()
            if field.name not in ("intra_op_parallelism_threads", "inter_op_parallelism_threads")
        ]
        if others:
            raise _setting_error(
                "tensorflow_session_config_file",
                args.tensorflow_session_config_file,
                "kzoo serve honours only intra_op_parallelism_threads and "
                f"inter_op_parallelism_threads of a ConfigProto; this one sets {', '.join(others)}",
            )
        intra = intra or config.intra_op_parallelism_threads
        inter = inter or config.inter_op_parallelism_threads
    if intra > 0 and inter > 0 and session > 0:
        raise ValueError(
            "Either configure server_options.tensorflow_session_parallelism or "
            "(server_options.tensorflow_intra_op_parallelism, "
            "server_options.tensorflow_inter_op_parallelism) separately. You cannot configure all."
        )
    if intra > 0 or inter > 0:
        return intra or None, inter or None
    return session or None, session or None


def server_options(argv, prog="kzoo serve"):
    """Parses a `kzoo serve` command line into `ModelServer` arguments.

    Args:
        argv: list of str. The arguments after `kzoo serve`.
        prog: str. The program name, for usage errors.

    Returns:
        A tuple `(options, process)`: the `ModelServer` keyword arguments, and the settings of
        the process (`log_level`, `threads`: TensorFlow's (intra, inter) op thread counts,
        `version`: whether to print the versions and exit, and `base_path_flag`: the spelling
        of the base path's flag, for errors).

    Raises:
        ValueError: a flag kzoo cannot honour, or flags that contradict each other.
        SystemExit: argparse's usage errors and `--help`.
    """
    args = build_parser(prog).parse_args(argv)
    _check_unsupported(args)
    if args.kzoo_model_base_path and args.model_base_path:
        raise _setting_error(
            "model_base_path",
            args.model_base_path,
            "Expected one of --model_base_path (one model) and --model-base-path (a folder of "
            f"models), not both (--model-base-path={args.kzoo_model_base_path})",
        )
    model_name = args.model_name
    if args.model_base_path:
        base_path, model_name = args.model_base_path, model_name or TF_SERVING_MODEL_NAME
        base_path_flag = "--model_base_path"
    else:
        base_path = args.kzoo_model_base_path or DEFAULT_MODEL_BASE_PATH
        base_path_flag = "--model-base-path"
    timeout = args.request_timeout
    if args.rest_api_timeout_in_ms is not None:
        if timeout is not None:
            raise _setting_error(
                "rest_api_timeout_in_ms",
                args.rest_api_timeout_in_ms,
                f"Expected it or --request-timeout, not both (--request-timeout={timeout})",
            )
        if args.rest_api_timeout_in_ms < 0:
            raise _setting_error(
                "rest_api_timeout_in_ms",
                args.rest_api_timeout_in_ms,
                "Expected a number of milliseconds >= 0",
            )
        timeout = args.rest_api_timeout_in_ms / 1000
    tags = [tag.strip() for tag in args.saved_model_tags.split(",") if tag.strip()]
    options = {
        "model_base_path": base_path,
        "model_config_file": args.model_config_file,
        "model_name": model_name,
        "host": args.host,
        "rest_port": args.rest_api_port or None,
        "grpc_port": args.port or None,
        "grpc_socket_path": args.grpc_socket_path or None,
        "enable_batching": args.enable_batching,
        "batching_parameters_file": args.batching_parameters_file or None,
        "max_batch_size": args.max_batch_size,
        "batch_timeout_micros": args.batch_timeout_micros,
        "file_system_poll_wait_seconds": args.file_system_poll_wait_seconds,
        "model_config_file_poll_wait_seconds": args.model_config_file_poll_wait_seconds,
        "max_request_bytes": args.max_request_bytes,
        "max_request_instances": args.max_request_instances,
        "max_request_elements": args.max_request_elements,
        "request_timeout": DEFAULT_REQUEST_TIMEOUT if timeout is None else timeout,
        "warmup": args.enable_model_warmup and not args.no_warmup,
        "warmup_iterations": max(args.num_request_iterations_for_warmup, 1),
        "grpc_workers": args.grpc_max_threads,
        "grpc_channel_arguments": parse_channel_arguments(args.grpc_channel_arguments),
        "rest_workers": args.rest_api_num_threads,
        "enable_cors": args.rest_api_enable_cors_support,
        "monitoring_config_file": args.monitoring_config_file or None,
        "enable_grpc_healthcheck_service": args.enable_grpc_healthcheck_service,
        "check_signature_methods": args.enable_signature_method_name_check,
        "saved_model_tags": tags or ["serve"],
        "max_load_retries": args.max_num_load_retries,
        "load_retry_interval": max(args.load_retry_interval_micros, 0) / 1e6,
        "tensor_content": args.enable_serialization_as_tensor_content,
    }
    process = {
        "base_path_flag": base_path_flag,
        "log_level": args.log_level,
        "threads": _thread_counts(args),
        "version": args.version,
    }
    return options, process


def versions():
    """What `kzoo serve --version` prints, as TF Serving's `--version` does."""
    try:
        kzoo_version = importlib.metadata.version("kzoo")
    except importlib.metadata.PackageNotFoundError:
        kzoo_version = "unknown"
    return (
        f"kzoo serve (TensorFlow ModelServer's APIs): {kzoo_version}\n"
        f"TensorFlow Library: {tf.__version__}"
    )
