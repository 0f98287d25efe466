"""Authoring: what module authors run on the sources (export into the package)."""
