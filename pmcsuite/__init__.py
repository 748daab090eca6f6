"""pmcsuite: explain inter-process communication performance with hardware and kernel counters.

The flow is one-way: catalogue -> plan -> run (benchmark + counter backend) -> store ->
load/align -> analyse -> report. Every step is a plain function a notebook can call.
"""
__version__ = "0.1.0"
