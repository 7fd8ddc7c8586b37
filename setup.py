"""Builds the optional C matcher (bot/core/_fastmatch.c); all metadata lives in pyproject.toml.

The extension is loaded with ctypes, never imported, so it needs no Python C-API. It is
``optional``: without a C compiler the install still succeeds and Funkel falls back to the
exact pure-Python matcher (``bot.core.fastmatch.available()`` tells which one runs).
"""

import sys

from setuptools import Extension, setup

# The candidate search runs on POSIX threads (one thread on Windows, where MSVC needs no flag).
threads = [] if sys.platform == "win32" else ["-pthread"]

setup(
    ext_modules=[
        Extension(
            "bot.core._fastmatch",
            sources=["bot/core/_fastmatch.c"],
            extra_compile_args=["-O2", *threads],
            extra_link_args=threads,
            optional=True,
        )
    ]
)
