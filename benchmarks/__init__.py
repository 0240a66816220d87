"""edgevc's benchmarks: speed, memory, size and quality measurements that write JSON and a
Markdown table into benchmarks/results/.

A package, run from the repository root as `python -m benchmarks.NAME` (see README.md
here), so the scripts import what they share as `benchmarks.machine`, `benchmarks.speed`
and so on, with no `sys.path` edits. Not part of the edgevc distribution.
"""
