"""What Prometheus saw of a load, beside what the load generator counted.

The Collector's spanmetrics connector counts every span; the counters are
read before the load and again once they have all come in: checkout's
SERVER spans up to the orders sent, then every count still for one of the
connector's flushes and one of Prometheus's scrapes (its spans and
inventory's reach the Collector within an export of each other, so the
last of them is counted by then). The difference is the load's, as long as
nothing else used the stack meanwhile: checkout's SERVER calls are the
orders sent, its errors the orders answered 5xx, so a person sees the two
agree; inventory's are the calls checkout made for them. Requests that ended
in the 10 s before the load are counted late, inside its window: the row
then says by how much the two differ, rather than the load waiting for
the counts to settle first.
"""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Group
from rich.table import Table
from rich.text import Text

from shoptrace.services import CHECKOUT, SERVICES
from traceproof.prometheus import CountKey, PrometheusClient, PrometheusError
from traceproof.wait import poll

SERVICE_NAMES = tuple(s.name for s in SERVICES)
#: The connector's flush interval (collector/config.yaml) plus Prometheus's scrape interval
#: (prometheus/prometheus.yml): what the Collector has counted is in Prometheus within both.
FLUSH_AND_SCRAPE_S = 5.0 + 5.0


class Counts:
    """The connector's span counts before a load, and how they grew."""

    def __init__(self, client: PrometheusClient) -> None:
        self.client = client
        self.before = client.span_calls(SERVICE_NAMES)

    def grown(self, orders: int, wait_s: float) -> tuple[Counter[CountKey], bool]:
        """The growth once checkout's SERVER spans reach ``orders`` and every count has held still for
        FLUSH_AND_SCRAPE_S (and whether that happened within ``wait_s``)."""
        last: list[Counter[CountKey]] = []
        still_since = time.monotonic()

        def settled(grown: Counter[CountKey]) -> bool:
            nonlocal still_since
            if not last or grown != last[0]:
                last[:], still_since = [grown], time.monotonic()
            served = sum(n for (service, kind, _), n in grown.items() if service == CHECKOUT.name and kind == "server")
            return served >= orders and time.monotonic() - still_since >= FLUSH_AND_SCRAPE_S

        return poll(lambda: self.client.span_calls(SERVICE_NAMES).since(self.before), settled, wait_s, interval_s=1.0)


def start(client: PrometheusClient) -> tuple[Counts | None, str | None]:
    """The counts before the load, or None and why not."""
    try:
        return Counts(client), None
    except PrometheusError as exc:
        return None, str(exc)


def report(grown: Counter[CountKey], complete: bool, sent: int, failed: int) -> Group:
    """SERVER calls and errors per service, as Prometheus counted them, beside the load generator's counts."""
    title = Text("what Prometheus counted of these orders (traces_span_metrics_calls_total, SERVER spans)", style="bold")
    if not complete:
        title.append("\nnot all counted yet: the connector flushes and Prometheus scrapes every 5 s", style="yellow")
    table = Table()
    table.add_column("service")
    table.add_column("calls", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("load generator")
    for service in sorted(SERVICE_NAMES, key=lambda name: name != CHECKOUT.name):  # the edge first
        calls = sum(n for (svc, kind, _), n in grown.items() if svc == service and kind == "server")
        errors = grown[(service, "server", "error")]
        if service == CHECKOUT.name:
            agree = (calls, errors) == (sent, failed)
            mine = Text(f"{sent} sent, {failed} failed: ", style="" if agree else "yellow")
            if agree:
                mine.append("agree", style="green")
            else:
                mine.append(f"differ by {calls - sent:+d} calls, {errors - failed:+d} errors", style="bold yellow")
        else:
            mine = Text("(its calls come from checkout)", style="dim")
        table.add_row(service, str(calls), Text(str(errors), style="red" if errors else ""), mine)
    return Group(title, table)
