"""Run every benchmark in turn."""

from benchmarks import reads

reads.main()
