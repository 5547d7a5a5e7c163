"""A local server and a client for TensorFlow Serving's REST and gRPC APIs.

kzoo exports SavedModels in TF Serving's layout (`saved_models/<name>/<version>/`). This
package serves them the way `tensorflow_model_server` does, for machines where TF Serving cannot
be installed: the same URLs, request and response formats, status codes and error messages
(taken from TF Serving's code and documentation), the same gRPC services, version policies,
labels, polling for new versions and optional request batching. `kzoo serve` runs it;
`ModelServer` starts it from Python; `Client` talks to it, or to a real TF Serving.

- `ModelServer`, `serve`: the server (`kzoo.serving.server`).
- `Client`: the client (`kzoo.serving.client`).
- `ServingError`: every failure, with TF Serving's status code (`kzoo.serving.errors`).

Example:

>>> import tempfile
>>> import tensorflow as tf
>>> import kzoo.serving
>>> class Greeter(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="name")])
...     def serve(self, name):
...         return {"greeting": tf.strings.join(["hello ", name])}
>>> base = tempfile.mkdtemp()
>>> module = Greeter()
>>> tf.saved_model.save(module, f"{base}/greeter/1", signatures=module.serve)
>>> with kzoo.serving.ModelServer(base, rest_port=0, grpc_port=None) as server:
...     client = kzoo.serving.Client(server.rest_url)
...     print(client.status("greeter")[0]["state"])
...     print(client.predict("greeter", {"name": ["kzoo"]})["greeting"])
AVAILABLE
[b'hello kzoo']
"""

from kzoo.serving.client import Client
from kzoo.serving.errors import ServingError
from kzoo.serving.server import ModelServer, main, serve

__all__ = ["Client", "ModelServer", "ServingError", "main", "serve"]
