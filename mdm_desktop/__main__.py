"""Allow ``python -m mdm_desktop``."""

from mdm_desktop.cli import main

raise SystemExit(main())
