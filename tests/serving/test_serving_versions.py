"""Version handling of kzoo's server: new versions picked up while serving, old ones unloaded,
incomplete or broken folders kept from breaking the others, config reloads and warm-up."""

import os
import shutil

import grpc
import pytest
import tensorflow as tf
from google.protobuf import text_format
from serving_helpers import versions_in_state, wait_for
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from kzoo.serving import Client, ModelServer

POLL = 0.1

pytestmark = pytest.mark.usefixtures("local_only")


def _install(source, destination):
    """Copies a version folder in next to its model and renames it into place (atomic)."""
    staging = os.path.join(os.path.dirname(os.path.dirname(destination)), ".staging")
    shutil.copytree(source, staging)
    os.rename(staging, destination)


def _y(client, version=None, label=None):
    return client.predict("versioned", [1.0], version=version, label=label)["y"].tolist()


@pytest.fixture
def served(model_copy):
    """Starts a server on a copy of some test models, polling every 0.1 s."""
    servers = []

    def start(*relative_paths, **options):
        base = model_copy(*relative_paths)
        options.setdefault("rest_port", 0)
        options.setdefault("grpc_port", None)
        options.setdefault("file_system_poll_wait_seconds", POLL)
        if "model_config_file" not in options:
            options["model_base_path"] = str(base)
        server = ModelServer(**options).start()
        servers.append(server)
        return server, Client(server.rest_url), base

    yield start
    for server in servers:
        server.stop()


def test_new_version_is_served_and_the_old_one_unloaded(served, serving_models):
    server, client, base = served("versioned/1")
    assert _y(client) == [1.0]
    _install(serving_models / "versioned" / "2", base / "versioned" / "2")
    wait_for(lambda: versions_in_state(client, "versioned") == [2], timeout=5)
    assert _y(client) == [2.0]
    states = {entry["version"]: entry["state"] for entry in client.status("versioned")}
    assert states == {2: "AVAILABLE", 1: "END"}


def test_incomplete_folder_waits_until_complete(served, serving_models):
    server, client, base = served("versioned/1")
    partial = base / "versioned" / "3"
    shutil.copytree(serving_models / "versioned" / "2" / "variables", partial / "variables")
    server.manager.poll()
    server.manager.poll()
    assert versions_in_state(client, "versioned") == [1]
    assert [entry["version"] for entry in client.status("versioned")] == [1]
    assert _y(client) == [1.0]
    shutil.copy(serving_models / "versioned" / "2" / "saved_model.pb", partial / "tmp.pb")
    os.rename(partial / "tmp.pb", partial / "saved_model.pb")
    wait_for(lambda: versions_in_state(client, "versioned") == [3], timeout=5)
    assert _y(client) == [2.0]  # version 3 holds the version-2 model


def test_broken_version_does_not_break_serving(served, serving_models):
    server, client, base = served("versioned/1", "text_model/1")
    broken = base / "versioned" / "5"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    server.manager.poll()
    status = {entry["version"]: entry for entry in client.status("versioned")}
    assert status[5]["state"] == "END" and status[5]["error_code"] != "OK"
    assert status[5]["error_message"]
    assert status[1]["state"] == "AVAILABLE"
    assert _y(client) == [1.0]
    assert client.predict("text_model", {"text": ["ok"]})["upper"].tolist() == [b"OK"]
    # Fixed in place: the changed files are loaded at the next poll.
    shutil.rmtree(broken)
    _install(serving_models / "versioned" / "2", broken)
    wait_for(lambda: versions_in_state(client, "versioned") == [5], timeout=5)
    assert _y(client) == [2.0]


def test_a_failed_load_is_retried_max_load_retries_times(served):
    # TF Serving's --max_num_load_retries and --load_retry_interval_micros.
    server, client, base = served("versioned/1", max_load_retries=2, load_retry_interval=0.01)
    broken = base / "versioned" / "5"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    server.manager.poll()
    attempts = (
        f':tensorflow:cc:saved_model:load_attempt_count{{model_path="{broken}",status="fail"}} 3'
    )
    assert attempts in server.metrics.render().decode().splitlines()
    assert {entry["version"]: entry["state"] for entry in client.status("versioned")} == {
        5: "END",
        1: "AVAILABLE",
    }
    assert _y(client) == [1.0]


def test_new_model_folder_is_served(served, serving_models):
    server, client, base = served("versioned/1")
    os.rename(shutil.copytree(serving_models / "text_model", base / ".new"), base / "text_model")
    wait_for(lambda: versions_in_state(client, "text_model") == [1], timeout=5)
    assert client.predict("text_model", {"text": ["a"]})["length"].tolist() == [1]


def test_removed_version_is_unloaded(served, serving_models, tmp_path):
    config = tmp_path / "all.config"
    base = tmp_path / "models"
    config.write_text(
        f'model_config_list {{ config {{ name: "versioned" base_path: "{base}/versioned" '
        "model_version_policy { all {} } } }"
    )
    server, client, _ = served("versioned/1", "versioned/2", model_config_file=str(config))
    assert versions_in_state(client, "versioned") == [1, 2]
    shutil.rmtree(base / "versioned" / "2")
    wait_for(lambda: versions_in_state(client, "versioned") == [1], timeout=5)
    assert _y(client) == [1.0]


def test_config_file_reload_moves_a_label(served, tmp_path):
    base = tmp_path / "models"
    config = tmp_path / "labels.config"

    def write(stable):
        config.write_text(
            f'model_config_list {{ config {{ name: "versioned" base_path: "{base}/versioned" '
            "model_version_policy { specific { versions: 1 versions: 2 } } "
            f'version_labels {{ key: "stable" value: {stable} }} }} }}'
        )

    write(1)
    server, client, _ = served(
        "versioned/1",
        "versioned/2",
        model_config_file=str(config),
        model_config_file_poll_wait_seconds=POLL,
    )
    assert _y(client, label="stable") == [1.0]
    write(2)
    wait_for(lambda: _y(client, label="stable") == [2.0], timeout=5)


def test_failed_warmup_fails_the_load(served):
    server, client, base = served("text_model/1")
    assert versions_in_state(client, "text_model") == [1]  # its warm-up request passes
    request = predict_pb2.PredictRequest()
    request.inputs["not_an_input"].CopyFrom(tf.make_tensor_proto([b"x"]))
    record = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    staging = base / ".staging"
    shutil.copytree(base / "text_model" / "1", staging)
    warmup = staging / "assets.extra" / "tf_serving_warmup_requests"
    with tf.io.TFRecordWriter(str(warmup)) as writer:
        writer.write(record.SerializeToString())
    os.rename(staging, base / "text_model" / "2")

    def version_2():
        return next((e for e in client.status("text_model") if e["version"] == 2), None)

    failed = wait_for(lambda: (version_2() or {}).get("state") == "END" and version_2(), 5)
    assert failed["error_code"] == "INVALID_ARGUMENT"
    assert "Failed to warm up model" in failed["error_message"]
    assert "input tensor alias not found in signature: not_an_input" in failed["error_message"]
    assert versions_in_state(client, "text_model") == [1]


def test_grpc_reload_config(served, tmp_path):
    server, client, base = served("versioned/1", "text_model/1", grpc_port=0)
    assert sorted(server.manager.model_names()) == ["text_model", "versioned"]
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(
        f'model_config_list {{ config {{ name: "renamed" base_path: "{base}/versioned" }} }}',
        config,
    )
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        stub.HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(config=config), timeout=10
        )
    assert server.manager.model_names() == ["renamed"]
    assert client.predict("renamed", [2.0])["y"].tolist() == [2.0]
