"""How much one request may ask of the server, checked before any tensor is built.

TF Serving has no such limits; kzoo adds them so that one request cannot take the server's
memory (a JSON body of two million instances, a 40-byte gRPC request declaring a million
values). A request over a limit fails with INVALID_ARGUMENT (REST 400) and a message naming
the `kzoo serve` flag that sets the limit; the server keeps serving. `--max-request-bytes` still
bounds the size of a body or message as sent.

- Instances (`--max-request-instances`, default 1024): the size of the first (batch)
  dimension of every input: the items of a REST `instances` list, the first dimension of a
  columnar input or of a gRPC `TensorProto`'s shape, the examples of a classify or regress
  request. Scalar inputs (`max_new_tokens`) have none.
- Elements (`--max-request-elements`, default 2**24, a dense 64 MiB of float32): the values of
  all the inputs of a request together, counted from the shapes the request declares. A
  `TensorProto` may send fewer values than its shape declares (TensorFlow repeats the last one to
  fill it); it counts as the dense tensor it declares, so a compact request never builds more
  than a dense one may send. A REST request counts its first instance's values times the number
  of instances (every instance must have the same size).

Example:

>>> limits = RequestLimits(max_instances=2)
>>> limits.check_instances(3)
Traceback (most recent call last):
...
kzoo.serving.errors.ServingError: INVALID_ARGUMENT: Too many instances in the request: 3. This \
server accepts at most 2 per request (kzoo serve --max-request-instances).
"""

import dataclasses
import math

from kzoo.serving.errors import invalid_argument

DEFAULT_MAX_REQUEST_INSTANCES = 1024
DEFAULT_MAX_REQUEST_ELEMENTS = 2**24


def _shape_text(shape):
    return "[" + ",".join(str(size) for size in shape) + "]"


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """The most instances and tensor elements one request may declare.

    Args:
        max_instances: int. Most instances (first-dimension rows of each input, or examples).
            Defaults to 1024.
        max_elements: int. Most tensor elements of all inputs together, as declared by their
            shapes. Defaults to 2**24.
    """

    max_instances: int = DEFAULT_MAX_REQUEST_INSTANCES
    max_elements: int = DEFAULT_MAX_REQUEST_ELEMENTS

    def __post_init__(self):
        for name in ("max_instances", "max_elements"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Invalid value for argument {name}. Expected a positive integer. "
                    f"Received: {name}={value}"
                )

    def check_instances(self, count, detail=""):
        """Raises INVALID_ARGUMENT when `count` instances are more than allowed."""
        if count > self.max_instances:
            raise invalid_argument(
                f"Too many instances in the request: {count}{detail}. This server accepts at "
                f"most {self.max_instances} per request (kzoo serve --max-request-instances)."
            )

    def check_elements(self, count, detail=""):
        """Raises INVALID_ARGUMENT when `count` tensor elements are more than allowed."""
        if count > self.max_elements:
            raise invalid_argument(
                f"Too many tensor elements in the request: {count}{detail}. This server accepts "
                f"at most {self.max_elements} per request (kzoo serve --max-request-elements)."
            )

    def check_shapes(self, shapes):
        """Checks the declared shapes of a request's inputs, before their tensors are built.

        Args:
            shapes: dict. Input name → tuple of dimension sizes (negative sizes are skipped:
                such a shape is refused when its tensor is read).

        Example:

        >>> RequestLimits(max_elements=10).check_shapes({"x": (2, 3), "y": (4,)})
        >>> RequestLimits(max_elements=10).check_shapes({"x": (1000000,)})
        Traceback (most recent call last):
        ...
        kzoo.serving.errors.ServingError: INVALID_ARGUMENT: Too many instances in the request: \
1000000 (input x has shape [1000000]). This server accepts at most 1024 per request (kzoo serve \
--max-request-instances).
        """
        total = 0
        largest = None
        for name in sorted(shapes):
            shape = tuple(shapes[name])
            if any(size < 0 for size in shape):
                continue
            if shape:
                self.check_instances(shape[0], f" (input {name} has shape {_shape_text(shape)})")
            count = math.prod(shape)
            total += count
            if largest is None or count > largest[1]:
                largest = (name, count, shape)
        if largest is not None:
            name, _, shape = largest
            self.check_elements(total, f" (input {name} has shape {_shape_text(shape)})")
