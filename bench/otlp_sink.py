"""A local OTLP/HTTP traces receiver: counts spans, and with --print shows each
trace as an indented tree (links included) as it arrives.

    .venv/bin/python bench/otlp_sink.py --print            # listens on :4318
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make run

It decodes with opentelemetry-proto (a dev extra). bench/bench_tracing.py runs
it in-process as the receiver of its tracing-on figures, and
tests/integration/core/test_tracing.py as the receiver whose spans it checks
(so it imports nothing from bench/ beside it: tests import it as bench.otlp_sink).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


class Sink:
    """POST /v1/traces (protobuf) on 127.0.0.1:`port` (0: any free port).

    It counts spans and exports and notes the paths posted to; `keeping` also
    keeps every span with its service.name (a test's few, not a benchmark's
    hundreds of thousands)."""

    def __init__(self, port: int = 4318, printing: bool = False, keeping: bool = False) -> None:
        self.spans = 0
        self.requests = 0
        self.paths: set[str] = set()
        self.kept: list[tuple[str, Span]] = []
        self.printing = printing
        self.keeping = keeping
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                sink.received(self.path, request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self, path: str, request: ExportTraceServiceRequest) -> None:
        spans = spans_of(request)
        with self._lock:
            self.requests += 1
            self.spans += len(spans)
            self.paths.add(path)
            if self.keeping:
                self.kept += spans
            if self.printing:
                print_tree(spans)

    def named(self, prefix: str) -> list[Span]:
        """The kept spans whose name starts with `prefix`."""
        with self._lock:
            return [span for _, span in self.kept if span.name.startswith(prefix)]


def spans_of(request: ExportTraceServiceRequest) -> list[tuple[str, Span]]:
    """Each span of one export with its resource's service.name ("?" if none)."""
    spans = []
    for resource_spans in request.resource_spans:
        service = next(
            (
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            ),
            "?",
        )
        for scope_spans in resource_spans.scope_spans:
            spans += [(service, span) for span in scope_spans.spans]
    return spans


def print_tree(spans: Iterable[tuple[str, Span]]) -> None:
    """Each trace of one export as a tree: children under parents, links named."""
    by_trace: dict[bytes, list[tuple[str, Span]]] = {}
    for service, span in spans:
        by_trace.setdefault(span.trace_id, []).append((service, span))
    for trace_id, members in by_trace.items():
        print(f"trace {trace_id.hex()}")
        ids = {span.span_id for _, span in members}
        children: dict[bytes, list[tuple[str, Span]]] = {}
        for service, span in sorted(members, key=lambda m: m[1].start_time_unix_nano):
            parent = span.parent_span_id if span.parent_span_id in ids else b""
            children.setdefault(parent, []).append((service, span))

        _show(children, b"", 0)


def _show(children: dict[bytes, list[tuple[str, Span]]], parent: bytes, depth: int) -> None:
    for service, span in children.get(parent, []):
        ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
        indent = "  " * (depth + 1)
        print(f"{indent}{span.name} [{KINDS.get(span.kind, '?')}, {service}] {ms:.2f} ms")
        for link in span.links:
            print(f"{indent}  link -> trace {link.trace_id.hex()} span {link.span_id.hex()}")
        _show(children, span.span_id, depth + 1)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", type=int, default=4318, help="OTLP/HTTP's usual port")
    p.add_argument("--print", action="store_true", dest="printing", help="print each trace")
    args = p.parse_args()
    with Sink(args.port, args.printing) as sink:
        print(f"OTLP/HTTP receiver on {sink.url}/v1/traces (Ctrl-C stops)", flush=True)
        try:
            while sink.thread.is_alive():
                sink.thread.join(0.5)  # a bare join() would not let Ctrl-C in
        except KeyboardInterrupt:
            print(f"\n{sink.spans} spans in {sink.requests} exports")


if __name__ == "__main__":
    main()
