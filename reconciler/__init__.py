"""reconciler: a Git-native successor to Keptn v1.

Imports point downwards only, from the entry points (``cli``, ``demo``, the ``serve`` wiring)
through ``server``, ``controller``, ``tasks`` and the domain adapters to the pure core and the
leaves; ``make lint`` enforces it (docs/ARCHITECTURE.md, "Layers").
"""

__version__ = "0.1.0"
