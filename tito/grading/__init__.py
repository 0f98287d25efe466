"""Grading: the coordinator, kernel execution, nbgrader's gradebook, feedback pages and messages."""
