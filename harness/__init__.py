"""What the tests and the bench share around the services: a service as a real process (processes.py), the
stack's containers (containers.py), waits on the Collector's span counts in Prometheus (span_counts.py), and the
Jaeger UI driven in Chromium (jaeger_ui.py).

bench/, scripts/ and tests/ import it (the W3C runner of ``make w3c`` through the
tests' support); the services never do. Of this project it imports only the
declared list of services (shoptrace.services) and traceproof, whose are the
reading of traces and counts and the one waiting loop.
"""
