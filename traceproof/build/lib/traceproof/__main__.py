"""``python -m traceproof``: the same as the ``traceproof`` command."""

import sys

from traceproof.cli import main

sys.exit(main())
