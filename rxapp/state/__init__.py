"""Server-side Reflex states, one module per page, all deriving AuthState."""
