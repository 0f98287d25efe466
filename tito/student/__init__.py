"""The student's commands: check a notebook, run a milestone."""
