"""``python -m stress [--quick] [--scenario NAME] [--seed N] [--duration S] [--json]``."""

import sys

from .runner import main

sys.exit(main())
