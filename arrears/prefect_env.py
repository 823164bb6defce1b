"""Prefect's environment for this project: its home under the data folder, no phoning home.

Must run before ``prefect`` is imported: Prefect reads its settings at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from arrears.settings import Settings


def configure(settings: Settings) -> None:
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_HOME", str((settings.data_dir / "prefect").resolve()))
    # With the case store on PostgreSQL nothing else creates the data folder, and Prefect's
    # ephemeral server cannot start without its home.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    # Without a server address Prefect runs an ephemeral one of its own for the process. Its
    # start (imports, its database's migrations) took more than Prefect's 20 s on a busy
    # two-core machine, and the night then failed before it began: allow it longer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
