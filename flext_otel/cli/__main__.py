"""``python -m flext_otel.cli``."""

import sys

from flext_otel.cli.main import main

sys.exit(main())
