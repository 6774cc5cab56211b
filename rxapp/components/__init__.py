"""Shared layout and widgets."""
