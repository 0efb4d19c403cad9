"""``python -m benchmarks``: see benchmarks/suite.py and docs/benchmarks.md."""

from benchmarks.suite import main

raise SystemExit(main())
