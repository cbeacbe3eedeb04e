"""lightup: online Decision Transformers that learn, and the tools to see why they don't.

Importing the package registers the diagnostic games under the ``lightup/`` namespace.
"""

from lightup import envs as _envs  # noqa: F401  (registers the games)
from lightup.errors import LightupError

__version__ = "0.1.0"
__all__ = ["LightupError", "__version__"]
