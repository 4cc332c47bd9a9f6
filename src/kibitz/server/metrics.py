"""``/metrics``: what an operator watches, in Prometheus's text format.

One ``CollectorRegistry`` per app (not the process-wide default: a test process builds
many apps). Gauges are read at scrape time from the objects that know (this node's
sessions, the writer's queue); counters and histograms are fed by the edges — the msync
handlers, the REST error table, the writer's commit hook — never by the domain.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions = Gauge("kibitz_sessions", "msync sessions on this node", registry=r)
        self.writer_queue = Gauge(
            "kibitz_writer_queue", "writes waiting for the next group commit", registry=r
        )
        self.logins = Counter(
            "kibitz_logins", "msync logins by outcome (ok, refused)", ["outcome"], registry=r
        )
        self.sends = Counter(
            "kibitz_sends",
            "msync sends by target kind and outcome (ok, refused, failed)",
            ["kind", "outcome"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "kibitz_send_seconds",
            "from a send's arrival to its ack: validated, committed durably, acknowledged",
            buckets=_LATENCY,
            registry=r,
        )
        self.pulled = Counter(
            "kibitz_pulled_messages", "messages handed to devices in pull answers", registry=r
        )
        self.commit_seconds = Histogram(
            "kibitz_commit_seconds", "one group commit's transaction", buckets=_LATENCY, registry=r
        )
        self.committed_jobs = Counter(
            "kibitz_committed_jobs", "writes (messages, acks, logins) committed", registry=r
        )
        self.rest = Counter(
            "kibitz_rest_errors", "REST answers that were errors, by status", ["status"], registry=r
        )
        self.rate_limited = Counter(
            "kibitz_rate_limited",
            "calls refused by an app's rate (rest, message)",
            ["what"],
            registry=r,
        )

    def read_sessions(self, count: Callable[[], int]) -> None:
        self.sessions.set_function(lambda: float(count()))

    def read_writer_queue(self, depth: Callable[[], int]) -> None:
        self.writer_queue.set_function(lambda: float(depth()))

    def read_shed(self, count: Callable[[], int]) -> None:
        shed = Gauge(
            "kibitz_shed",
            "new sends and REST calls refused as busy, since start",
            registry=self.registry,
        )
        shed.set_function(lambda: float(count()))

    def commit(self, seconds: float, jobs: int) -> None:
        self.commit_seconds.observe(seconds)
        self.committed_jobs.inc(jobs)

    def render(self) -> bytes:
        return generate_latest(self.registry)
