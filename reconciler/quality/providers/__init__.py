"""SLI providers: `base` (the interface), `registry` (by name from `reconciler.yaml`), and one
module or package per provider (`prometheus`). See docs/ARCHITECTURE.md, "How to add…"."""
