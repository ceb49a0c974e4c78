"""``python -m benchmarks [--quick]``: the main suite (benchmarks/run.py);
``python -m benchmarks compare --old PY --new PY``: two builds (benchmarks/compare.py);
``python -m benchmarks photographs [--quick] [--out DIR]``: 8- and 16-bit
pictures against OpenCV (benchmarks/photographs.py)."""
import sys

if sys.argv[1:2] == ["compare"]:
    from .compare import main
    raise SystemExit(main(sys.argv[2:]))
if sys.argv[1:2] == ["photographs"]:
    from .photographs import main
    raise SystemExit(main(sys.argv[2:]))
from .run import main

raise SystemExit(main())
