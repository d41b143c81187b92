"""Quality gates: Keptn-exact SLO scoring (pure) and SLI providers (adapters)."""
