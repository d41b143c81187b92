"""Where deployments go: `local` (supervised processes on 127.0.0.1, the embedded default) and
`kubernetes` (server-side apply with the official client). `base` holds the contract."""
