"""SavedModels with TensorFlow Text ops load in a server that has not imported TensorFlow Text
(`import kzoo` brings it in through keras-hub today; the server does not count on that)."""

import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from kzoo.serving import ServingError
from kzoo.serving.servables import load_op_libraries

pytestmark = pytest.mark.usefixtures("local_only")


def _meta_graph(*ops):
    meta_graph = meta_graph_pb2.MetaGraphDef()
    for name in ops:
        meta_graph.meta_info_def.stripped_op_list.op.add(name=name)
    return meta_graph


@pytest.fixture(scope="module")
def text_ops_model(tmp_path_factory):
    """A SavedModel whose signature runs TensorFlow Text's CaseFoldUTF8."""
    import tensorflow_text

    class Folder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"folded": tensorflow_text.case_fold_utf8(text)}

    base = tmp_path_factory.mktemp("text_ops")
    module = Folder()
    tf.saved_model.save(module, str(base / "folder" / "1"), signatures=module.serve)
    return base


def test_a_model_with_text_ops_loads_in_a_fresh_server(text_ops_model):
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["tensorflow_text"] = None  # kzoo's imports (keras-hub) go without it
        from kzoo.serving import Client, ModelServer
        del sys.modules["tensorflow_text"]
        with ModelServer({str(text_ops_model)!r}, rest_port=0, grpc_port=None) as server:
            print(Client(server.rest_url).predict("folder", {{"text": ["ÄBC Straße"]}})["folded"])
        print("tensorflow_text" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["[b'\\xc3\\xa4bc strasse']", "True"]


def test_a_missing_text_library_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_text", None)  # import raises ImportError
    with pytest.raises(
        ServingError,
        match=r"Op type not registered 'KzooNoSuchOp' in binary\. The SavedModel at /m/1 uses "
        r"ops that TensorFlow does not have \(KzooNoSuchOp\); kzoo serve loads TensorFlow Text "
        r"for such ops, but importing it failed \(pip install tensorflow-text\): "
        r"ModuleNotFoundError",
    ) as caught:
        load_op_libraries(_meta_graph("MatMul", "KzooNoSuchOp"), "/m/1")
    assert caught.value.code == "NOT_FOUND"


def test_ops_unknown_to_text_too_are_named():
    with pytest.raises(
        ServingError,
        match=r"Op type not registered 'KzooNoSuchOp' in binary\. The SavedModel at /m/1 uses "
        r"ops that neither TensorFlow nor TensorFlow Text has: KzooNoSuchOp",
    ):
        load_op_libraries(_meta_graph("KzooNoSuchOp"), "/m/1")


def test_a_model_of_tensorflow_ops_needs_no_library():
    load_op_libraries(_meta_graph("MatMul", "StringUpper"), "/m/1")
