"""``python -m mgsearch`` runs the CLI."""

import sys

from mgsearch.cli import main

sys.exit(main())
