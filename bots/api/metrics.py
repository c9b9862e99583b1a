"""Prometheus metrics for the HTTP front door.

Each app gets its own `CollectorRegistry`: the default global registry refuses a second metric of the same
name, which would break every test (and any process) that builds more than one app.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.types import Answer, IngestReport

if TYPE_CHECKING:
    from assistant.answering.llm import LLMStats

UNMATCHED_ROUTE = "<unmatched>"
"""Label for requests that matched no route, so random URLs can't blow up label cardinality."""


class Metrics:
    """The counters and histograms one app exposes at `/metrics`."""

    content_type: str = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pma_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pma_http_request_duration_seconds",
            "Time from request to the end of the response body, by route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.answers = Counter(
            "pma_answers",
            "Answers served, by outcome: grounded, refused, or personal_data (question not answered).",
            ["outcome"],
            registry=self.registry,
        )
        self.ingest = Counter(
            "pma_ingest_documents",
            "Documents processed by admin uploads and re-indexing, by result.",
            ["result"],
            registry=self.registry,
        )
        # Pre-create the label sets so dashboards see zeros instead of missing series.
        for outcome in ("grounded", "refused", "personal_data"):
            self.answers.labels(outcome=outcome)
        for result in ("added", "updated", "skipped", "deleted", "failed"):
            self.ingest.labels(result=result)

    def observe_answer(self, answer: Answer) -> None:
        """Count one answer by what the user got."""
        if answer.personal_data:
            outcome = "personal_data"
        elif answer.grounded:
            outcome = "grounded"
        else:
            outcome = "refused"
        self.answers.labels(outcome=outcome).inc()

    def observe_ingest(self, report: IngestReport) -> None:
        """Count what an ingest run did, per result kind."""
        for result in ("added", "updated", "skipped", "deleted"):
            count = getattr(report, result)
            if count:
                self.ingest.labels(result=result).inc(count)
        if report.failed:
            self.ingest.labels(result="failed").inc(len(report.failed))

    def watch_llm(self, stats: LLMStats) -> None:
        """Export the language model composer's own counters (calls, tokens, latency, fallbacks,
        sentences dropped by the citation check); they are kept where the calls happen, so CLI and Slack
        processes count the same way."""
        self.registry.register(_LLMCollector(stats))

    def render(self) -> bytes:
        """The Prometheus text exposition of this app's registry."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware (not `BaseHTTPMiddleware`, which buffers and breaks streaming responses).

    Labels use the matched route's template (`/v1/conversations/{conversation_id}`), which Starlette
    leaves in `scope["route"]`, so ids in URLs don't create one series per conversation.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method=method, route=template, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=template).observe(time.perf_counter() - start)


class _LLMCollector(Collector):
    def __init__(self, stats: LLMStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        calls = CounterMetricFamily(
            "pma_llm_calls", "Language model answers by outcome: llm, refused, fallback.", labels=["outcome"]
        )
        for outcome in ("llm", "refused", "fallback"):
            calls.add_metric([outcome], s.calls.get(outcome, 0))
        yield calls
        fallbacks = CounterMetricFamily(
            "pma_llm_fallbacks", "Extractive answers served instead, by reason.", labels=["reason"]
        )
        for reason, count in sorted(s.fallbacks.items()):
            fallbacks.add_metric([reason], count)
        yield fallbacks
        tokens = CounterMetricFamily("pma_llm_tokens", "Tokens the model reported.", labels=["kind"])
        for kind, count in s.tokens.items():
            tokens.add_metric([kind], count)
        yield tokens
        sentences = CounterMetricFamily(
            "pma_llm_sentences",
            "Generated sentences the citation check kept or dropped.",
            labels=["result"],
        )
        for result, count in s.sentences.items():
            sentences.add_metric([result], count)
        yield sentences
        latency = HistogramMetricFamily("pma_llm_latency_seconds", "Model call time, first byte to last.")
        # Recorded cumulatively already (every bucket whose bound the call was within).
        buckets = [(str(b), float(c)) for b, c in zip(s.BUCKETS, s.latency_buckets, strict=True)]
        buckets.append(("+Inf", s.latency_count))
        latency.add_metric([], buckets, s.latency_sum)
        yield latency
