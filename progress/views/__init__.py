"""Student-facing pages. dashboard.py: `/`; learning.py: subject, chapter and step pages."""
