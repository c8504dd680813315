"""docs/code-tour.md stays true: each row's call is in the function it names, and no span is born elsewhere.

Every table of the tour with the columns ``module | function | call`` is
read; for each row the module is imported, the function resolved (``Class.method``)
and its code (inspect.getsource, parsed, so a mention in a docstring or a
comment does not count) must use the call. The other way round, every call
that makes a span, an event or a link, or installs an instrumentation, in the
services and the kit must be a row, so a new span cannot go unmapped.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "docs" / "code-tour.md"
#: The packages whose spans the tour maps.
TRACED_PACKAGES = ("shoptrace", "checkout", "inventory")
#: Calls that make a span, an event or a link, or install something that makes spans.
BIRTH_CALLS = frozenset(
    {
        "start_as_current_span",
        "start_span",
        "add_event",
        "record_exception",
        "add_link",
        "instrument",
        "instrument_app",
        "instrument_client",
        "instrument_connection",
    }
)


@dataclass(frozen=True)
class Row:
    what: str
    kind: str
    module: str
    function: str
    call: str

    def __str__(self) -> str:
        return f"{self.what!r} ({self.module}.{self.function}: {self.call})"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tour_rows(markdown: str) -> list[Row]:
    """The rows of every table whose header has the columns kind, module, function and call."""
    rows: list[Row] = []
    columns: list[str] | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            columns = None
            continue
        cells = _cells(line)
        if columns is None:
            columns = cells
            continue
        if set(cells) <= {"---", ":---", "---:", ":---:"} or not {"kind", "module", "function", "call"} <= set(columns):
            continue
        row = dict(zip(columns, (cell.strip("`") for cell in cells), strict=True))
        rows.append(Row(row["span or event"], row["kind"], row["module"], row["function"], row["call"]))
    return rows


ROWS = tour_rows(TOUR.read_text())


def resolve(module: str, dotted: str) -> object:
    target: object = importlib.import_module(module)
    for name in dotted.split("."):
        target = getattr(target, name)
    return target


def parsed(function: object) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]


def names_used(tree: ast.AST) -> Iterator[str]:
    """Every name, dotted attribute and keyword the code uses (no docstrings, no comments)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield ast.unparse(node)
        elif isinstance(node, ast.keyword) and node.arg is not None:
            yield node.arg


def uses(tree: ast.AST, call: str) -> bool:
    return any(name == call or name.endswith(f".{call}") for name in names_used(tree))


def span_kinds(tree: ast.AST, call: str) -> list[str]:
    """The kind of each span this code starts with ``call``: its ``kind=`` argument, INTERNAL without one."""
    kinds = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == call:
            kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
            kinds.append("INTERNAL" if kind is None else ast.unparse(kind).rsplit(".", 1)[-1])
    return kinds


def test_the_tour_has_rows_for_every_kind_of_span_and_the_exception_and_log_line_events() -> None:
    assert len(ROWS) >= 10, f"the tour's tables read as {len(ROWS)} rows: {TOUR}"
    assert {"SERVER", "CLIENT", "INTERNAL"} <= {row.kind for row in ROWS}
    assert [row for row in ROWS if row.kind == "event" and row.call == "record_exception"], "no exception event"
    assert [r for r in ROWS if r.kind == "event" and r.function == "SpanEventHandler.emit" and r.call == "add_event"], (
        "no log-line events"
    )


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_each_rows_function_makes_its_call(row: Row) -> None:
    try:
        function = resolve(row.module, row.function)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{row}: {row.module}.{row.function} no longer exists ({exc}); docs/code-tour.md needs updating")
    tree = parsed(function)
    assert uses(tree, row.call), f"{row}: {row.function} no longer uses {row.call}; docs/code-tour.md needs updating"
    if row.call in ("start_as_current_span", "start_span"):
        assert span_kinds(tree, row.call) == [row.kind], f"{row}: the code starts {span_kinds(tree, row.call)}"


def births(package: str) -> Iterator[tuple[str, str, str]]:
    """(module, outermost function's qualified name, call) of each birth call in the package's code."""
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield from _births_in(ast.parse(path.read_text()), module, ())


def _births_in(node: ast.AST, module: str, scope: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    for child in ast.iter_child_nodes(node):
        inside_function = bool(scope) and scope[-1].endswith("()")
        if isinstance(child, ast.ClassDef) and not inside_function:
            yield from _births_in(child, module, (*scope, child.name))
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and not inside_function:
            yield from _births_in(child, module, (*scope, f"{child.name}()"))
        else:
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute | ast.Name):
                called = child.func.attr if isinstance(child.func, ast.Attribute) else child.func.id
                if called in BIRTH_CALLS:
                    yield module, ".".join(s.removesuffix("()") for s in scope) or "<module>", called
            yield from _births_in(child, module, scope)


def test_every_span_event_and_link_the_code_makes_is_in_the_tour() -> None:
    mapped = {(row.module, row.function, row.call.rsplit(".", 1)[-1]) for row in ROWS}
    found = [birth for package in TRACED_PACKAGES for birth in births(package)]
    assert ("checkout.orders", "_render_receipt", "start_as_current_span") in found, "the scan of the code finds nothing"
    missing = [f"{module}.{function}: {call}" for module, function, call in found if (module, function, call) not in mapped]
    assert not missing, "spans or events made where docs/code-tour.md does not say:\n" + "\n".join(missing)


def test_the_table_reader_reads_rows_and_skips_other_tables() -> None:
    markdown = textwrap.dedent(
        """\
        | a | b |
        |---|---|
        | 1 | 2 |

        | span or event | kind | module | function | call | what decides its name and attributes |
        |---|---|---|---|---|---|
        | `x` | SERVER | `m` | `C.f` | `g.h` | because |
        """
    )
    assert tour_rows(markdown) == [Row("x", "SERVER", "m", "C.f", "g.h")]


@pytest.mark.parametrize("app_module", ["checkout.app", "inventory.app"])
def test_each_services_app_says_where_its_spans_come_from(app_module: str) -> None:
    doc = importlib.import_module(app_module).__doc__ or ""
    assert "SERVER span" in doc and "docs/code-tour.md" in doc
