"""The core stays plain Python: no platform or database module is ever imported by it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bot.core

FORBIDDEN = (
    "discord",
    "nio",
    "aiosqlite",
    "sqlite3",
    "asyncpg",
    "psycopg",
    "bot.storage",
    "bot.adapters",
    "bot.config",
)


def test_core_imports_no_platform_or_database_module() -> None:
    """Importing every bot.core module loads none of discord, nio or a database driver."""
    core = Path(bot.core.__file__).parent
    modules = sorted(f"bot.core.{p.stem}" for p in core.glob("*.py") if p.stem != "__init__")
    assert "bot.core.pairing" in modules and "bot.core.service" in modules
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
        + f"or any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r})]\n"
        + "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
