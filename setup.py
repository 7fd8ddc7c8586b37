"""Builds the optional C matcher (bot/core/_fastmatch.c); all metadata lives in pyproject.toml.

The extension is loaded with ctypes, never imported, so it needs no Python C-API. It is
``optional``: without a C compiler the install still succeeds and Funkel falls back to the
exact pure-Python matcher (``bot.core.fastmatch.available()`` tells which one runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bot.core._fastmatch",
            sources=["bot/core/_fastmatch.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
