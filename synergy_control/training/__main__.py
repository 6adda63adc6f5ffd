"""``python -m synergy_control.training CONFIG | --resume RUN_DIR [--device cuda]``."""

import sys

from synergy_control.training.runner import main

sys.exit(main())
