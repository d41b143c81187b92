"""Real test peers started by the suite: Git remotes, Prometheus, Alertmanager, a fake
Kubernetes API server. Each module starts its processes on 127.0.0.1 with ports chosen at
runtime and stops them when the test is done."""
