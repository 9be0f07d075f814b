"""Run the benchmarks and write docs/BENCHMARKS.md.

Each ``bench/bench_<name>.py`` defines ``run() -> str`` returning a Markdown
section (our way and the naive way on the same data, with the ratio), and can
also be run alone: ``python -m bench.bench_<name>``. ``python -m bench NAME...``
runs only the named ones and keeps the other sections of the document as they are.
"""

import importlib
import pkgutil
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import bench
from bench.common import machine

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
SECTION = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->", re.S)


def existing_sections():
    if not OUTPUT.exists():
        return {}
    return {name: body for name, body in SECTION.findall(OUTPUT.read_text())}


def main(selected):
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                   if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    sections = existing_sections()
    for name in names:
        print(f"running {name} ...", flush=True)
        started = time.perf_counter()
        section = importlib.import_module(f"bench.{name}").run()
        print(section, flush=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        sections[name] = (f"{section}\n\n_Measured {stamp} on {machine()}; "
                          f"{name} took {time.perf_counter() - started:.0f} s._\n")
    header = (
        "# Benchmarks\n\n"
        "Written by `make bench` (`python -m bench NAME` reruns one section). Figures are "
        "medians unless marked. These machines are noisy: compare the ratios, measured in "
        "the same run on the same data, rather than absolute times.\n"
    )
    body = "\n".join(f"<!-- bench:{name} -->\n{text}<!-- /bench:{name} -->\n"
                     for name, text in sorted(sections.items()))
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(header + "\n" + (body or "_No benchmarks yet._\n"))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
