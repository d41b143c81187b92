"""The Kubernetes adapter: the official client behind a few small, typed functions.

Modules: `client` (connecting: explicit URL/token, in-cluster, kubeconfig; a dict-in/dict-out
REST wrapper with typed errors), `resources` (kind -> REST path), `conflict` (bounded 409
retries), `apply` (server-side apply), `rollout` (rollout wait, scale subresource), `jobs`
(batch Jobs with pod logs), `leader` (Lease-based leader election), `expansion` (Kubernetes'
`$(VAR)` expansion, pure).

Importing this package does not import the `kubernetes` client (≈200 ms); the modules that
need it import it themselves.
"""
