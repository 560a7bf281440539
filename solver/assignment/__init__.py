"""Backend assignment: which backend runs each op, as a Pareto front of execution time and peak memory.

``settings`` (what the calls take, checked), ``space`` and ``oneids`` (decisions and ONE's ids), ``search``
(NSGA-II, random, HLPS, exhaustive), ``front`` (fronts and their quality), ``offline`` (dumps as spaces and
lookup devices; what a device spec is), ``run`` (``run_pareto``), ``bruteforce`` (ONE's brute-force profiler),
``synthetic`` (dumps for benchmarks), ``report`` (text). Nothing is imported here, so that the command line can
read ``settings`` without loading pymoo.
"""
