"""tito: the tinytorch course tool. One pipeline step per file, grouped by stage: authoring, course,
student, grading, sandbox."""

import sys

# jsonschema (pulled in by nbformat) imports the optional `rfc3987_syntax` IRI checker, which
# builds a grammar at import time: ~2.5 s per process, for a format nbformat never checks.
# Declaring it absent makes jsonschema skip that checker; every tito command (and every Dask
# worker that imports tito) starts that much faster.
sys.modules.setdefault("rfc3987_syntax", None)
