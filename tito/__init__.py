"""tito: the tinytorch course tool. One pipeline step per file, grouped by stage: authoring, course,
student, grading, sandbox. Importing it changes nothing in the process (see tito/imports.py)."""
