"""rxapp: an open two-factor authentication portal built with Reflex."""
