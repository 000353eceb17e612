"""``python -m ganlab ...``: the ``ganlab`` command (also what ``torchrun -m ganlab train ...`` runs)."""

import sys

from ganlab.cli import main

sys.exit(main())
