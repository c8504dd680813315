"""``python -m examples.pitfalls [NAME ...]`` (``make pitfalls``): every pitfall, broken and fixed side by side.

With ``PITFALLS_EXPORT=1`` (``make pitfalls EXPORT=1``) each run's spans are
also sent over OTLP (see :mod:`examples.pitfalls.export`); exit status 1 when
they could not be.
"""

from __future__ import annotations

import sys

from examples.pitfalls import fresh_context, message_headers, outliving_task, story, threads, uninstrumented_client
from examples.pitfalls.export import ExportFailed

PITFALLS = {
    module.__name__.rsplit(".", 1)[-1]: module
    for module in (fresh_context, threads, outliving_task, uninstrumented_client, message_headers)
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in PITFALLS]
    if unknown:
        print(f"unknown pitfall {', '.join(unknown)}; choose from {', '.join(PITFALLS)}", file=sys.stderr)
        return 2
    for name in names or PITFALLS:
        module = PITFALLS[name]
        try:
            pairs = module.pairs()
        except ExportFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        story.main(module.TITLE, module.LESSON, *pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
