"""``python -m tracecheck.doctor``: the same as ``shoptrace-doctor``."""

import sys

from tracecheck.doctor.cli import main

sys.exit(main())
