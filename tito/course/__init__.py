"""The course: the course folder's layout, the student release and the student kit."""
