"""The learner's own profile page (dashboard issue)."""
