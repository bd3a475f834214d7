"""Benchmarks: scripts that measure and print figures (speed targets live here, not in tests).

``python -m bench`` (``make bench``) runs every benchmark listed in ``bench.__main__``.
"""
