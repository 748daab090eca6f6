"""The run stage: everything that starts a process (docs/DESIGN.md)."""
