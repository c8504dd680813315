"""``python -m examples.pitfalls [NAME ...]`` (``make pitfalls``): every pitfall, broken and fixed side by side."""

from __future__ import annotations

import sys

from examples.pitfalls import fresh_context, message_headers, outliving_task, story, threads, uninstrumented_client

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
        story.main(module.TITLE, module.LESSON, *module.pairs())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
