"""Forges for manual approvals: `base` (the `Forge` interface and shared REST plumbing),
`registry` (by `spec.forge.kind`), one module per forge: `github`, `gitea`, `gitlab`."""
