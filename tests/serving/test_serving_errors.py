"""TensorFlow's errors as the server reports them: code kept, message worded as a session's."""

import pytest
import tensorflow as tf

from kzoo.serving.errors import from_tensorflow


@pytest.mark.parametrize("saved", [False, True])
def test_a_graph_error_keeps_its_code_and_loses_the_eager_preamble(saved, tmp_path):
    class Checker(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="x")])
        def serve(self, x):
            tf.debugging.Assert(x < 3, ["x must be below 3"])
            return {"y": x + 1}

    module = Checker()
    function = module.serve
    if saved:  # a loaded SavedModel has no Python stack traces to show
        tf.saved_model.save(module, str(tmp_path / "checker"), signatures=module.serve)
        function = tf.saved_model.load(str(tmp_path / "checker")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        function(x=tf.constant(5))
    assert caught.value.message.startswith("Graph execution error:")
    error = from_tensorflow(caught.value)
    assert error.code == "INVALID_ARGUMENT"
    assert error.message.startswith("assertion failed: [x must be below 3]\n\t [[{{node ")
    assert "[Op:" not in error.message and "Detected at node" not in error.message
