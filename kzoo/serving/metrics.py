"""TF Serving's Prometheus metrics: the same names, labels, units and buckets, for the same
dashboards.

TF Serving exports its monitoring metrics at the path its `--monitoring_config_file` names
(`prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }`), renaming each
metric's `/` to `:` (`/tensorflow/serving/request_count` → `:tensorflow:serving:request_count`).
kzoo keeps the metrics a dashboard reads, in a `prometheus_client` registry of the server's own
(not the process-wide one), and counts them where TF Serving does:

- `:tensorflow:serving:request_count{model_name, status}`: every REST request under `/v1/` (model
  name `""` when the path names none) and every gRPC Predict, Classify and Regress; `status` is
  the canonical code (`OK`, `NOT_FOUND`...).
- `:tensorflow:serving:request_latency{model_name, API, entrypoint}`: the same requests when they
  succeed, in microseconds; `API` is `predict`, `classify`, `regress` (REST; `""` for status and
  metadata) or `Predict`, `Classify`, `Regress` (gRPC), `entrypoint` is `REST` or `GRPC`.
- `:tensorflow:serving:runtime_latency{model_name, API, runtime}`: the signature call alone
  (with batching, the wait for its batch too, as in TF Serving), `runtime` `TF1` (TF Serving's
  label for its TensorFlow runtime, as opposed to TFRT).
- `:tensorflow:serving:request_example_counts{model}` and `..._count_total{model}`: examples per
  MultiInference request.
- `:tensorflow:cc:saved_model:load_attempt_count{model_path, status}` (`success` or `fail`) and
  `:tensorflow:cc:saved_model:load_latency{model_path}` (microseconds, successful loads): one
  per version folder loaded.
- `:tensorflow:serving:model_warmup_latency{model_path, status}` and
  `:tensorflow:serving:model_warmup_records_read{model_path, status}`.
- `:tensorflow:serving:batching_session:queuing_latency{thread_pool_name}` (microseconds from a
  request joining a batch to its batch starting) and `...:wrapped_run_count` (signature calls).

The page is written as TF Serving's exporter writes it: a `# TYPE` line per metric, counters
under their own names (prometheus_client's own text format would add `_total` and `_created`
samples), histogram buckets with TF Serving's limits (`Buckets::Exponential`).

Example:

>>> metrics = ServingMetrics()
>>> metrics.request("half", "OK", "predict", "REST", 0.002)
>>> for line in metrics.render().decode().splitlines():
...     if "request_count" in line:
...         print(line)
# TYPE :tensorflow:serving:request_count counter
:tensorflow:serving:request_count{model_name="half",status="OK"} 1
"""

import math

from prometheus_client import CollectorRegistry, Counter, Histogram

# The path TF Serving serves when prometheus_config sets none (PrometheusExporter).
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"


def exponential_buckets(scale, growth_factor, count):
    """TensorFlow's `monitoring::Buckets::Exponential` upper limits (+Inf is added).

    Example:

    >>> [round(limit, 6) for limit in exponential_buckets(10, 1.8, 3)]
    [10.0, 18.0, 32.4]
    """
    return [float(scale) * growth_factor**index for index in range(count)]


_LATENCY_BUCKETS = exponential_buckets(10, 1.8, 33)  # microseconds, up to ~20 minutes


def _number(value):
    """A sample value as TF Serving prints it: integers without a decimal point."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _label_value(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _bucket_limit(text):
    # absl::StrCat(double): six significant digits.
    return text if text == "+Inf" else f"{float(text):.6g}"


class ServingMetrics:
    """TF Serving's metrics for one server, in a registry of its own.

    Attributes:
        registry: `prometheus_client.CollectorRegistry`. Holds every metric below.
    """

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=False)
        self._names = {}  # prometheus_client's family name → TF Serving's name
        self._request_count = self._counter(
            ":tensorflow:serving:request_count",
            "The total number of requests.",
            ["model_name", "status"],
        )
        self._request_latency = self._histogram(
            ":tensorflow:serving:request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            ["model_name", "API", "entrypoint"],
        )
        self._runtime_latency = self._histogram(
            ":tensorflow:serving:runtime_latency",
            "Distribution of wall time (in microseconds) for Tensorflow runtime.",
            ["model_name", "API", "runtime"],
        )
        self._example_counts = self._histogram(
            ":tensorflow:serving:request_example_counts",
            "The number of tensorflow.Examples per request.",
            ["model"],
            buckets=exponential_buckets(1, 2, 15),
        )
        self._example_count_total = self._counter(
            ":tensorflow:serving:request_example_count_total",
            "The total number of tensorflow.Examples.",
            ["model"],
        )
        self._load_attempts = self._counter(
            ":tensorflow:cc:saved_model:load_attempt_count",
            "The number of times a SavedModel was successfully loaded.",
            ["model_path", "status"],
        )
        self._load_latency = self._counter(
            ":tensorflow:cc:saved_model:load_latency",
            "Latency in microseconds for SavedModels that were successfully loaded.",
            ["model_path"],
        )
        self._warmup_latency = self._histogram(
            ":tensorflow:serving:model_warmup_latency",
            "Distribution of wall time (in microseconds) for warming up the model.",
            ["model_path", "status"],
        )
        self._warmup_records = self._counter(
            ":tensorflow:serving:model_warmup_records_read",
            "Total number of warmup records read during model warmup.",
            ["model_path", "status"],
        )
        self._queuing_latency = self._histogram(
            ":tensorflow:serving:batching_session:queuing_latency",
            "Distribution of wall time spent (in microseconds) in queuing",
            ["thread_pool_name"],
            buckets=exponential_buckets(100, 1.2, 52),
        )
        self._wrapped_runs = self._counter(
            ":tensorflow:serving:batching_session:wrapped_run_count",
            "Total count of run calls on the wrapped session",
            [],
        )

    def _counter(self, name, documentation, labels):
        # prometheus_client keeps a counter's family name without a `_total` suffix.
        self._names[name.removesuffix("_total")] = name
        return Counter(name, documentation, labels, registry=self.registry)

    def _histogram(self, name, documentation, labels, buckets=_LATENCY_BUCKETS):
        self._names[name] = name
        return Histogram(name, documentation, labels, registry=self.registry, buckets=buckets)

    # === Recording ===

    def request(self, model_name, status, api, entrypoint, seconds):
        """Counts one request; its latency too when its status is OK."""
        self._request_count.labels(model_name, status).inc()
        if status == "OK":
            self._request_latency.labels(model_name, api, entrypoint).observe(seconds * 1e6)

    def runtime(self, model_name, api, seconds):
        """Records one signature call's wall time."""
        self._runtime_latency.labels(model_name, api, "TF1").observe(seconds * 1e6)

    def examples(self, model_name, count):
        """Records the number of examples of one MultiInference request."""
        self._example_counts.labels(model_name).observe(count)
        self._example_count_total.labels(model_name).inc(count)

    def model_load(self, path, ok, seconds):
        """Counts one attempt to load the SavedModel at `path`."""
        self._load_attempts.labels(path, "success" if ok else "fail").inc()
        if ok:
            self._load_latency.labels(path).inc(round(seconds * 1e6))

    def warmup(self, path, status, seconds, records):
        """Records one version's warm-up: `status` is `OK` or the error as `CODE: message`."""
        self._warmup_latency.labels(path, status).observe(seconds * 1e6)
        self._warmup_records.labels(path, status).inc(records)

    def batch_queued(self, thread_pool_name, seconds):
        """Records how long one request waited for its batch to start."""
        self._queuing_latency.labels(thread_pool_name).observe(seconds * 1e6)

    def batch_call(self):
        """Counts one signature call made by the batcher."""
        self._wrapped_runs.inc()

    # === The page ===

    def render(self):
        """The metrics page, as TF Serving's Prometheus exporter writes it (bytes)."""
        lines = []
        families = sorted(self.registry.collect(), key=lambda family: self._names[family.name])
        for family in families:
            name = self._names[family.name]
            samples = [s for s in family.samples if not s.name.endswith("_created")]
            if not samples:
                continue
            lines.append(f"# TYPE {name} {family.type}")
            for sample in samples:
                sample_name = name if family.type == "counter" else sample.name
                labels = dict(sample.labels)
                if "le" in labels:
                    labels["le"] = _bucket_limit(labels["le"])
                text = ",".join(f'{key}="{_label_value(value)}"' for key, value in labels.items())
                lines.append(f"{sample_name}{{{text}}} {_number(sample.value)}")
        return ("\n".join(lines) + "\n").encode("utf-8")
