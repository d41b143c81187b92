"""The HTTP side of the reconciler: push webhooks from Git forges, Alertmanager alerts, the
API, health and metrics. `signatures` is the pure check that a webhook comes from whoever
knows the shared secret; the aiohttp handlers built on it only ever enqueue "tips may have
changed" for the controller."""
