"""Plain-Python services: they take a DB session and `now`, and never import reflex."""
