"""Run every benchmark in turn: `make bench` (finishes within 20 minutes here)."""

from benchmarks import api, imports, reads, responsiveness, runs, scheduling

reads.main([])
imports.main([])
runs.main([])
responsiveness.main([])
scheduling.main([])
api.main([])
