"""The `egraffbench` command in a fresh interpreter of this environment: what a user's shell runs, without the
modules (torch among them) that the test process has already imported."""

from __future__ import annotations

import sys

CLI = [sys.executable, "-c", "from egraffbench.cli.main import app; app()"]
