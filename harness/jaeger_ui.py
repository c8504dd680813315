"""The Jaeger UI as a person uses it: pages opened, fields filled and spans clicked in headless Chromium.

Playwright drives the browser that Debian's ``chromium`` package installs
(``CHROMIUM``, ``/usr/bin/chromium`` by default): on these machines nothing may
download a browser build, so ``playwright install`` is never run. Playwright
rather than Selenium because it waits for each element by itself (the UI
renders after its API calls return) and reports every console message and
failed request of a page as an event, which :class:`PageWatch` collects.

What is read from a page is what a person sees: the text of the trace header,
the span rows with their error icons and indentation, the tags and the log
events of an opened span. The selectors are jaeger-ui's own class names
(v1.76.0, the UI that Jaeger 2.13.0 embeds).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, Response, sync_playwright

from traceproof.wait import poll

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

#: As root, in a container-like sandbox, with no network but loopback: no sandbox,
#: no GPU, and none of Chromium's own calls home (each would be a refused connection).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: The size of the pictures in docs/img and of the tests' screenshots.
VIEWPORT = {"width": 1400, "height": 900}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, for as long as the block runs."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium package "
            "(elsewhere install Chromium or Chrome and set CHROMIUM to its path)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageWatch:
    """Everything that went wrong while a page loaded and ran: console errors, failed requests."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _on_request_failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")


@dataclass(frozen=True)
class SpanRow:
    """One row of the trace view's span tree, as shown."""

    service: str
    operation: str
    error: bool
    #: 1 for the root, 2 for its children...: the tree's indent guides left of the name.
    depth: int


class View:
    """A page of Jaeger's UI, as the tests read it."""

    def __init__(self, page: Page) -> None:
        self.page = page


class TraceView(View):
    """A trace page (``/trace/<id>``): header, span rows, span details; once it shows a span."""

    def __init__(self, page: Page) -> None:
        super().__init__(page)
        self.page.locator(".TracePageHeader--title").wait_for()
        self.page.locator(".span-row").first.wait_for()

    @property
    def title(self) -> str:
        return self.page.locator(".TracePageHeader--title").inner_text().strip()

    def overview(self) -> dict[str, str]:
        """The header's labelled figures: ``{"Services": "2", "Depth": "3", "Total Spans": "3", ...}``."""
        items = {}
        for item in self.page.locator(".TracePageHeader--overviewItems .LabeledList--item").all():
            if item.locator(".LabeledList--label").count() == 0:
                continue  # the dividers between the figures
            label = item.locator(".LabeledList--label").inner_text().strip()
            items[label] = item.locator("strong").inner_text().strip()
        return items

    def rows(self) -> list[SpanRow]:
        rows = []
        for row in self.page.locator(".span-row").all():
            rows.append(
                SpanRow(
                    service=row.locator(".span-svc-name").inner_text().strip(),
                    operation=row.locator(".endpoint-name").inner_text().strip(),
                    error=row.locator(".SpanBarRow--errorIcon").count() > 0,
                    depth=row.locator(".SpanTreeOffset--indentGuide").count(),
                )
            )
        return rows

    def _row(self, service: str, operation: str) -> Locator:
        matches = [
            row
            for row in self.page.locator(".span-row").all()
            if row.locator(".span-svc-name").inner_text().strip() == service
            and row.locator(".endpoint-name").inner_text().strip() == operation
        ]
        assert len(matches) == 1, f"{len(matches)} rows for {service} {operation}: {self.rows()}"
        return matches[0]

    def open_span(self, service: str, operation: str) -> SpanDetail:
        """Click a span's name, as a person does to see its tags and logs; the others are closed first."""
        for opened in self.page.locator(".span-row.is-expanded .span-name").all():
            opened.click()
        self._row(service, operation).locator(".span-name").click()
        detail = self.page.locator(".detail-row")
        detail.wait_for()
        return SpanDetail(detail)


class SpanDetail:
    """An opened span: its tags and its log events (OpenTelemetry span events)."""

    def __init__(self, root: Locator) -> None:
        self.root = root

    def tags(self) -> dict[str, str]:
        """The ``key = value`` pairs shown on the *Tags* line (the span's attributes, as Jaeger names them)."""
        header = self.root.locator(".AccordianKeyValues--header", has_text="Tags:")
        tags = {}
        for item in header.locator(".AccordianKeyValues--summaryItem").all():
            key = item.locator(".AccordianKeyValues--summaryLabel").inner_text().strip()
            text = item.inner_text().strip()
            tags[key] = text[len(key) :].strip().removeprefix("=").strip()
        return tags

    def _log_entries(self) -> list[Locator]:
        logs = self.root.locator(".AccordianLogs")
        header = logs.locator(".AccordianLogs--header")
        if "is-open" not in (header.get_attribute("class") or ""):
            header.click()
        return logs.locator(".AccordianLogs--content > div:has(> .AccordianKeyValues--header)").all()

    @staticmethod
    def _expand(entry: Locator) -> None:
        entry_header = entry.locator(".AccordianKeyValues--header")
        if entry_header.get_attribute("aria-checked") != "true":
            entry_header.click()

    def show_event(self, name: str) -> None:
        """Expand the one log event called ``name``, as a person does to read it whole."""
        self.show_event_starting(name, exact=True)

    def show_event_starting(self, prefix: str, exact: bool = False) -> None:
        """Expand the one log event whose name starts with ``prefix``."""
        entries = []
        for entry in self._log_entries():
            summary = entry.locator(".AccordianKeyValues--summaryItem", has_text="event")
            text = summary.first.inner_text() if summary.count() else ""
            name = re.sub(r"^\s*event\s*=\s*", "", text).strip()
            if name == prefix or (not exact and name.startswith(prefix)):
                entries.append(entry)
        assert len(entries) == 1, f"{len(entries)} log events named {prefix!r}{'' if exact else '...'}"
        self._expand(entries[0])

    def logs(self) -> list[dict[str, str]]:
        """Each log event, expanded, as the key-value table the UI shows for it."""
        events = []
        for entry in self._log_entries():
            self._expand(entry)
            table = {}
            for row in entry.locator(".KeyValueTable--row").all():
                key = row.locator(".KeyValueTable--keyColumn").inner_text().strip()
                table[key] = row.locator(".KeyValueTable--valueColumn").inner_text().strip()
            events.append(table)
        return events


@dataclass(frozen=True)
class SearchResult:
    """One trace in the search page's result list."""

    title: str
    trace_id_prefix: str
    #: The service tags, as shown: ``["checkout (2)", "inventory (1)"]``.
    services: list[str]
    #: The whole card's text, span and error counts included ("3 Spans", "3 Errors").
    text: str


@dataclass(frozen=True)
class OperationMetrics:
    """One row of the Monitor tab's operations table, as shown."""

    name: str
    #: The averages printed beside each little graph: "12.3ms", "0.5 req/s", "25%" (blank without data).
    latency: str
    requests: str
    error_rate: str


class MonitorView(View):
    """The Monitor tab (Service Performance Monitoring) for one service."""

    def over_the_last(self, label: str) -> None:
        """Pick the time frame (its box's option, e.g. "Last 5 minutes")."""
        self.page.locator(".select-a-timeframe-input").click()
        self.page.locator(f".ant-select-item-option[title='{label}']").click()
        self.page.get_by_text(f"Over the {label.lower()}").wait_for()

    def operations(self) -> list[OperationMetrics]:
        table = self.page.locator(".ant-table-tbody")
        table.locator("tr.ant-table-row").first.wait_for()
        rows = []
        for row in table.locator("tr.ant-table-row").all():
            cells = row.locator("td")
            averages = [cells.nth(i).locator(".table-graph-avg").inner_text().strip() for i in (1, 2, 3)]
            rows.append(OperationMetrics(cells.nth(0).inner_text().strip(), *averages))
        return rows

    def wait_for_operation(self, name: str, until: Callable[[OperationMetrics], bool], timeout_s: float) -> OperationMetrics:
        """The operation's row once ``until`` holds, reloading as a person would: the graphs are not live."""
        reads = 0

        def read() -> list[OperationMetrics]:
            nonlocal reads
            if reads:
                self.page.reload()
            reads += 1
            return [op for op in self.operations() if op.name == name]

        found, done = poll(read, lambda found: bool(found) and until(found[0]), timeout_s, interval_s=2.0)
        if not done:
            raise AssertionError(f"the Monitor tab shows no {name!r} as asked after {timeout_s:g} s: {found}")
        return found[0]

    def view_traces(self, name: str) -> str:
        """Hover the operation's row, as a person does, and follow its *View traces* link; the search URL."""
        row = self.page.locator("tr.ant-table-row", has=self.page.locator(f"td:first-child:text-is('{name}')"))
        row.hover()
        link = row.get_by_role("link", name="View traces")
        href = link.get_attribute("href")
        assert href, f"no View traces link on {name!r}"
        self.page.goto(href if href.startswith("http") else self.page.url.split("/monitor")[0] + href)
        return self.page.url


class JaegerUI:
    """The UI at ``base_url``, in one browser page."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")

    def open_trace(self, url: str) -> TraceView:
        self.page.goto(url)
        return TraceView(self.page)

    def lookup(self, trace_id: str) -> TraceView:
        """Paste a trace id into the top bar's *Lookup by Trace ID* box and press Enter."""
        self.page.goto(f"{self.base_url}/search")
        box = self.page.get_by_placeholder("Lookup by Trace ID...")
        box.fill(trace_id)
        box.press("Enter")
        self.page.wait_for_url(re.compile(f"/trace/{trace_id}"))
        return TraceView(self.page)

    def monitor(self, service: str) -> MonitorView:
        """The Monitor tab, with ``service`` picked in its *Service* box."""
        self.page.goto(f"{self.base_url}/monitor")
        # The box shows a service once the list of services has come: only then has it options.
        self.page.locator(".select-a-service-input .ant-select-content-value:not([title=''])").wait_for()
        self.page.locator(".select-a-service-input").click()
        self.page.locator(f".ant-select-item-option[title='{service}']").click()
        self.page.get_by_text(f"Operations metrics under {service}").wait_for()
        return MonitorView(self.page)

    def system_architecture(self) -> list[str]:
        """The *System Architecture* tab: the services its graph draws, by their labels."""
        self.page.goto(f"{self.base_url}/dependencies")
        labels = self.page.locator(".DAG--nodeLabel")
        labels.first.wait_for()
        return [label.inner_text().strip() for label in labels.all()]

    def search_results(self) -> list[SearchResult]:
        """The traces the search page lists (once it lists one)."""
        items = self.page.locator(".ResultItem")
        items.first.wait_for()
        return [
            SearchResult(
                title=item.locator(".ResultItemTitle--title").inner_text().strip(),
                trace_id_prefix=item.locator(".ResultItemTitle--idExcerpt").inner_text().strip(),
                services=[tag.inner_text().strip() for tag in item.locator(".ResultItem--serviceTag").all()],
                text=re.sub(r"\s+", " ", item.inner_text()),
            )
            for item in items.all()
        ]

    def search(self, service: str, tags: str) -> list[SearchResult]:
        """The search form: pick the service, type the tags, press *Find Traces*."""
        self.page.goto(f"{self.base_url}/search")
        # The first select of the form is *Service*; its options are titled by the service's name.
        self.page.locator(".SearchTracePage--find .ant-select").first.click()
        self.page.locator(f".ant-select-item-option[title='{service}']").click()
        self.page.locator("input[name=tags]").fill(tags)
        self.page.locator(".SearchForm--submit").click()
        return self.search_results()
