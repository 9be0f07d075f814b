"""Timing helpers shared by the benchmarks: medians, percentiles, ratios."""

import platform
import statistics
import time


def time_calls(func, repeat, warmup=1):
    """Call ``func`` ``warmup`` + ``repeat`` times; return the timed durations (s)."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def cpu_ms(func, repeat, warmup=1):
    """Median processor time of ``func`` in ms: what one core spent on it, whatever else
    the machine ran meanwhile."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        func()
        samples.append(time.process_time() - started)
    return statistics.median(samples) * 1000


def percentile(samples, q):
    """Return the q-th percentile (0-100) of the samples, nearest-rank."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples):
    """Median, p99 and count in milliseconds."""
    return {
        "median_ms": statistics.median(samples) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "n": len(samples),
    }


def ratio(naive_samples, our_samples):
    """How many times faster our median is than the naive median."""
    return statistics.median(naive_samples) / statistics.median(our_samples)


def machine():
    """One line describing where the figures were measured."""
    import os

    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPU, {platform.machine()}")


def md_table(headers, rows):
    """Render a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send_png(handler, body):
    """Answer an ``http.server`` request with a PNG ``body`` (the benches' tile servers)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
