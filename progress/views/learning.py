"""Subject, chapter and step pages, and the step's POST endpoints. Thin: progress/engine.py decides."""
