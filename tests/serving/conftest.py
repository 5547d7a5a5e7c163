"""Fixtures for the serving tests: the test models, a local server and where to send requests.

Set `KZOO_SERVING_URL` (e.g. `http://localhost:8501`) to run the REST conformance suite against
another server, such as a real TF Serving serving the models of `tests/serving/make_models.py`;
`KZOO_SERVING_GRPC` (e.g. `localhost:8500`) does the same for the gRPC tests that can run there.
"""

import os
import shutil

import pytest
from make_models import make_models

from kzoo.serving import Client, ModelServer

REMOTE_REST = os.environ.get("KZOO_SERVING_URL")
REMOTE_GRPC = os.environ.get("KZOO_SERVING_GRPC")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide Keras reset: these tests build no Keras models, and resetting
    TensorFlow's graph state while server threads run is not wanted."""
    yield


@pytest.fixture(scope="session")
def serving_models(tmp_path_factory):
    """The folder holding the test models and `models.config`."""
    base = tmp_path_factory.mktemp("serving_models")
    make_models(str(base))
    return base


@pytest.fixture(scope="session")
def local_server(serving_models):
    """kzoo's server on the test models (config file), REST and gRPC on free ports, metrics
    and health checks on, as `make_models` tells a real TF Serving to start."""
    server = ModelServer(
        model_config_file=str(serving_models / "models.config"),
        rest_port=0,
        grpc_port=0,
        file_system_poll_wait_seconds=0,
        monitoring_config_file=str(serving_models / "monitoring.config"),
        enable_grpc_healthcheck_service=True,
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rest_url(request):
    """The REST server under test: `KZOO_SERVING_URL`, or the local server."""
    if REMOTE_REST:
        return REMOTE_REST.rstrip("/")
    return request.getfixturevalue("local_server").rest_url


@pytest.fixture(scope="session")
def grpc_target(request):
    """The gRPC server under test: `KZOO_SERVING_GRPC`, or the local server."""
    if REMOTE_GRPC:
        return REMOTE_GRPC
    return request.getfixturevalue("local_server").grpc_target


@pytest.fixture
def local_only():
    """Skips a test that needs kzoo's own server when another server is under test."""
    if REMOTE_REST or REMOTE_GRPC:
        pytest.skip("checks kzoo's own server")


@pytest.fixture
def model_copy(serving_models, tmp_path):
    """Copies test models into a fresh base path: `model_copy("versioned/1", ...)`."""

    def copy(*relative_paths):
        for relative in relative_paths:
            shutil.copytree(serving_models / relative, tmp_path / "models" / relative)
        return tmp_path / "models"

    return copy


@pytest.fixture
def rest_client(rest_url):
    client = Client(rest_url)
    yield client
    client.close()
