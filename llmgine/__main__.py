"""``python -m llmgine``: the same as the ``llmgine`` command."""

import sys

from llmgine.cli import main

sys.exit(main())
