"""Test SavedModels for the serving tests, exportable for a real TF Serving.

These are fixtures for the server, not kzoo models: small `tf.Module`s saved with
`tf.saved_model.save`, covering string, float and integer inputs, several named inputs and
outputs, several signatures, two versions with labels and a warm-up file.

    python -m tests.serving.make_models /tmp/kzoo_serving_models

writes, under the folder:

    text_model/1   serving_default: text (DT_STRING [-1]) → length (DT_INT32), upper (DT_STRING)
                   echo_bytes:      data (DT_STRING [-1]) → data_bytes (DT_STRING, b64 in REST)
                   + assets.extra/tf_serving_warmup_requests (one predict request)
    arith/1        serving_default: a, b (DT_FLOAT [-1,2]) → sum, product (DT_FLOAT [-1,2])
                   scale:           x (DT_FLOAT [-1]) → scaled (x times a variable, 2.0)
                   count:           ids (DT_INT64 [-1,-1]) → nonzero (DT_INT64 [-1])
    versioned/1,2  serving_default: x (DT_FLOAT [-1]) → y (x times the version number)
    half_plus_two/1  a TF1 graph like TF Serving's own test model: y = 0.5 x + 2 as
                   serving_default (x [-1,1] → y), regress_x_to_y and classify_x_to_y (serialized
                   tf.Examples with a float feature x → outputs / scores)
    tf2_examples/1 tf.saved_model.save signatures shaped for classify and regress (their
                   method_name is predict, as every TF2 signature's): classify: inputs
                   (serialized tf.Examples, float feature x) → classes ["yes", "no"], scores
                   [x, 1 - x]; regress: inputs → outputs (2 x + 1)
    models.config  model_config_list with absolute paths; versioned serves versions 1 and 2,
                   labelled stable (1) and canary (2)

`save_slow_model` writes one more, for the deadline tests (not in models.config): `count`
counts to `n` one loop step at a time, long enough to be cancelled.

and prints how to serve them with TensorFlow Serving and run the conformance suite against it.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2  # noqa: E402

MODEL_NAMES = ("text_model", "arith", "versioned", "half_plus_two", "tf2_examples")
LABELS = {"stable": 1, "canary": 2}
# The servers under test export TF Serving's metrics here (`--monitoring_config_file`).
METRICS_PATH = "/monitoring/prometheus/metrics"
MONITORING_CONFIG = f'prometheus_config {{ enable: true path: "{METRICS_PATH}" }}\n'


class TextModel(tf.Module):
    """Text in, its length in bytes and its upper case out; raw bytes echoed as `*_bytes`."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {"length": tf.strings.length(text), "upper": tf.strings.upper(text)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data")])
    def echo_bytes(self, data):
        return {"data_bytes": tf.identity(data)}


class ArithModel(tf.Module):
    """Two named float inputs and outputs, plus single-input float and integer signatures."""

    def __init__(self):
        super().__init__()
        self.factor = tf.Variable(2.0, name="factor")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="a"),
            tf.TensorSpec([None, 2], tf.float32, name="b"),
        ]
    )
    def serve(self, a, b):
        return {"sum": a + b, "product": a * b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def scale(self, x):
        return {"scaled": x * self.factor}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64, name="ids")])
    def count(self, ids):
        return {"nonzero": tf.math.count_nonzero(ids, axis=1)}


class VersionedModel(tf.Module):
    """`y = x * version`, so an answer says which version gave it."""

    def __init__(self, version):
        super().__init__()
        self.version = float(version)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": x * self.version}


class ExampleModel(tf.Module):
    """TF2 signatures on serialized `tf.train.Example`s, named as classify and regress want."""

    @staticmethod
    def _x(inputs):
        return tf.io.parse_example(inputs, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, inputs):
        x = self._x(inputs)
        classes = tf.tile(tf.constant([["yes", "no"]]), [tf.shape(x)[0], 1])
        return {"classes": classes, "scores": tf.concat([x, 1 - x], axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, inputs):
        return {"outputs": 2 * self._x(inputs)[:, 0] + 1}


class SlowModel(tf.Module):
    """Counts to `n` in a loop, one step at a time; a variable records every step taken, so a
    test can see whether a cancelled computation stopped."""

    def __init__(self):
        super().__init__()
        self.steps = tf.Variable(0, dtype=tf.int64, name="steps")

    @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="n")])
    def count(self, n):
        i = tf.constant(0, tf.int64)
        while i < n:
            self.steps.assign_add(1)
            i += 1
        return {"counted": i}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def steps_taken(self, x):
        return {"steps": tf.fill(tf.shape(x), self.steps.read_value())}


def save_slow_model(path):
    """Saves the slow model to `path` (a version folder): `serving_default` is `count` (n, a
    scalar int64 → counted), `steps` is `steps_taken` (x [-1] float → the steps so far)."""
    module = SlowModel()
    tf.saved_model.save(
        module, path, signatures={"serving_default": module.count, "steps": module.steps_taken}
    )


def save_half_plus_two(path):
    """Saves `y = 0.5 x + 2` with predict, regress and classify signatures (a TF1 graph, the
    only way to write classify and regress signatures)."""
    with tf.Graph().as_default():
        a = tf.compat.v1.Variable(0.5, name="a")
        b = tf.compat.v1.Variable(2.0, name="b")
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        features = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        y_from_examples = tf.add(a * features["x"], b, name="y_from_examples")
        x = tf.compat.v1.placeholder(tf.float32, [None, 1], name="x")
        y = tf.add(a * x, b, name="y")
        signatures = tf.compat.v1.saved_model
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(path)
            builder.add_meta_graph_and_variables(
                session,
                ["serve"],
                signature_def_map={
                    "serving_default": signatures.predict_signature_def({"x": x}, {"y": y}),
                    "regress_x_to_y": signatures.regression_signature_def(
                        serialized, y_from_examples
                    ),
                    "classify_x_to_y": signatures.classification_signature_def(
                        serialized, None, y_from_examples
                    ),
                },
            )
            builder.save()


def _write_warmup(version_dir):
    """One predict request in TF Serving's warm-up file format (TFRecord of PredictionLog)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "text_model"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto([b"warm up"], dtype=tf.string))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    folder = os.path.join(version_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(folder, "tf_serving_warmup_requests")) as writer:
        writer.write(log.SerializeToString())


def save_text_model(path, warmup=True):
    """Saves the text model to `path` (a version folder)."""
    module = TextModel()
    tf.saved_model.save(
        module,
        path,
        signatures={"serving_default": module.serve, "echo_bytes": module.echo_bytes},
    )
    if warmup:
        _write_warmup(path)


def save_arith_model(path):
    """Saves the arithmetic model to `path` (a version folder)."""
    module = ArithModel()
    tf.saved_model.save(
        module,
        path,
        signatures={"serving_default": module.serve, "scale": module.scale, "count": module.count},
    )


def save_example_model(path):
    """Saves the TF2 classify / regress model to `path` (a version folder)."""
    module = ExampleModel()
    tf.saved_model.save(
        module, path, signatures={"classify": module.classify, "regress": module.regress}
    )


def save_versioned_model(path, version):
    """Saves version `version` of the versioned model to `path`."""
    module = VersionedModel(version)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def config_text(base):
    """The `model_config_list` serving the test models from `base` (absolute paths)."""
    base = os.path.abspath(base)
    labels = "".join(
        f'    version_labels {{ key: "{key}" value: {value} }}\n' for key, value in LABELS.items()
    )
    return (
        "model_config_list {\n"
        f'  config {{ name: "text_model" base_path: "{base}/text_model" '
        'model_platform: "tensorflow" }\n'
        f'  config {{ name: "arith" base_path: "{base}/arith" model_platform: "tensorflow" }}\n'
        f'  config {{ name: "half_plus_two" base_path: "{base}/half_plus_two" '
        'model_platform: "tensorflow" }\n'
        f'  config {{ name: "tf2_examples" base_path: "{base}/tf2_examples" '
        'model_platform: "tensorflow" }\n'
        "  config {\n"
        f'    name: "versioned" base_path: "{base}/versioned" model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 1 versions: 2 } }\n"
        f"{labels}"
        "  }\n"
        "}\n"
    )


def make_models(base):
    """Writes every test model and `models.config` under `base`; returns the config path."""
    save_text_model(os.path.join(base, "text_model", "1"))
    save_arith_model(os.path.join(base, "arith", "1"))
    for version in (1, 2):
        save_versioned_model(os.path.join(base, "versioned", str(version)), version)
    save_half_plus_two(os.path.join(base, "half_plus_two", "1"))
    save_example_model(os.path.join(base, "tf2_examples", "1"))
    config = os.path.join(base, "models.config")
    with open(config, "w", encoding="utf-8") as file:
        file.write(config_text(base))
    with open(os.path.join(base, "monitoring.config"), "w", encoding="utf-8") as file:
        file.write(MONITORING_CONFIG)
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.serving.make_models", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("folder", help="where to write the models (created if missing)")
    args = parser.parse_args(argv)
    base = os.path.abspath(args.folder)
    config = make_models(base)
    print(f"Wrote {', '.join(MODEL_NAMES)} and {config}.")
    print(
        "\nServe them with TensorFlow Serving (labels need "
        "--allow_version_labels_for_unavailable_models at start-up, the metrics and health "
        "checks the last two flags):\n"
        f"  docker run --rm -p 8501:8501 -p 8500:8500 -v {base}:{base} tensorflow/serving \\\n"
        f"    --model_config_file={config} --allow_version_labels_for_unavailable_models=true \\\n"
        f"    --monitoring_config_file={base}/monitoring.config "
        "--enable_grpc_healthcheck_service=true\n"
        "or with kzoo's local server:\n"
        f"  kzoo serve --model_config_file={config} "
        f"--monitoring_config_file={base}/monitoring.config --enable_grpc_healthcheck_service\n"
        "then run the conformance suite against it:\n"
        "  KZOO_SERVING_URL=http://localhost:8501 "
        "python -m pytest tests/serving/test_serving_conformance.py"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
