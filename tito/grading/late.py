"""nbgrader's late-penalty plugin with per-module policies (set by `tito release --late-penalty`).

nbgrader's own `LateSubmissionPlugin` knows only 'none' and 'zero', for the whole course. This one reads
`c.LatePenalty.policies = {"02_ops": "1/hour", ...}` from the course's nbgrader_config.py, so
`tito grade` and plain `nbgrader autograde` apply the same rule. nbgrader's `AssignLatePenalties`
calls it once per notebook, with the seconds late that nbgrader computed from the submission's
`timestamp.txt` and the assignment's due date, and caps the penalty at the score.
"""

from __future__ import annotations

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Dict

from tito.course.deadlines import LatePolicy


class LatePenalty(LateSubmissionPlugin):
    policies = Dict(help="module -> policy: none, zero, POINTS/hour, POINTS/day, PERCENT%/hour, PERCENT%/day").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        step = self.parent  # nbgrader's AssignLatePenalties, inside its open gradebook
        policy = LatePolicy(self.policies.get(step.assignment_id, "none"))
        notebook = step.gradebook.find_submission_notebook(step.notebook_id, step.assignment_id, student_id)
        return policy.penalty(score, notebook.max_score, total_seconds_late)
