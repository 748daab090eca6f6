"""The version of pmcsuite (the one in pyproject.toml), recorded in every result and report."""
__version__ = "0.1.0"
