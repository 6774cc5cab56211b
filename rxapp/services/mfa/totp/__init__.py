"""TOTP (RFC 6238): the algorithm (`algorithm`, pure) and its flows (`flows`)."""
