"""Multi-factor authentication, one package per method (`totp`, `backup_codes`,
`passkeys`), plus the flow they share (`flow`: the passcode step, fresh proofs, turning
2FA on and off) under one throttle (`rxapp.services.throttle`)."""
