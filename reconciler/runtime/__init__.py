"""The wiring of `reconciler serve`: controller, trigger sources and HTTP server in one process.

An entry point: it may import every layer below it (server, controller, gitstore, kube).
"""
