"""traceproof's own tests: they run in this repository and, alone, against the installed wheel.

pytester's in-process runs put ``sys.modules`` back as it was before each
run, so a module first imported inside one (the plugin imports its sources
lazily, and httpx imports httpcore only when its first client is made)
would be imported a second time afterwards, and httpx would no longer
recognise httpcore's exceptions as its own. Importing them here, once, first
keeps one copy of each.
"""

import httpcore  # noqa: F401
import httpx  # noqa: F401

import traceproof.sources  # noqa: F401
import traceproof.traces  # noqa: F401
