"""Run every benchmark in turn: `make bench` (finishes within 15 minutes here)."""

from benchmarks import imports, reads, runs

reads.main([])
imports.main([])
runs.main([])
