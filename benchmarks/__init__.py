"""Speed benchmarks of spectm, run as ``python -m benchmarks <name>``; targets are reported, not asserted."""
