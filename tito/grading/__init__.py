"""Grading: the coordinator, kernel execution, nbgrader's gradebook, feedback pages and messages."""

from tito.imports import import_jsonschema_quickly

# Workers (local threads or Dask processes) import this package before nbformat: ~2.5 s less each.
import_jsonschema_quickly()
