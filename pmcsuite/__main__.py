"""``python -m pmcsuite`` is the ``pmcsuite`` command."""
import sys

from .cli import main

sys.exit(main())
