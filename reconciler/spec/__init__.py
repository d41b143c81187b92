"""The config repo's files: YAML with positions, JSON schemas, pydantic models, lint."""
