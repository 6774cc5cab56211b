"""Backup codes: single-use look-up secrets (`codes`)."""
