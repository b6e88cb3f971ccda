"""``python -m mdm_desktop.agent``: the agent without the console."""

from __future__ import annotations

import sys

from mdm_desktop.agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
