"""Tests of the deployment artefacts in deploy/ (container, Kubernetes, systemd, cron)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
