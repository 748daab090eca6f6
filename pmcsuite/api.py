"""The public API: the stages composed (temporary: the collection module)."""
from .collect.collection import collect  # noqa: F401
