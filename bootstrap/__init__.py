"""The uv bootstrap of the Makefile (get_uv.py, run as a script), importable for its tests."""
