"""reconciler: a Git-native successor to Keptn v1.

Layers (imports point downwards only, checked by tests/test_layers.py):

* pure core: ``contract``, ``spec``, ``quality`` (minus its HTTP provider), ``engine``
* adapters:  ``gitstore``, ``quality.providers``, ``targets``, ``tasks``
* shell:     ``controller``, ``server``, ``cli``
"""

__version__ = "0.1.0"
