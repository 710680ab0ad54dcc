"""Run mypy --strict over the sources of every distribution in one pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
source_dirs = sorted(p.parent for p in root.glob("packages/**/pyproject.toml"))
roots = [d / "src" for d in source_dirs if (d / "src").is_dir()]
files = sorted(str(f) for r in roots for f in r.rglob("*.py"))
env = dict(os.environ, MYPYPATH=os.pathsep.join(str(r) for r in roots))
command = [sys.executable, "-m", "mypy", "--config-file", str(root / "mypy.ini"), *files]
sys.exit(subprocess.run(command, env=env, check=False).returncode)
