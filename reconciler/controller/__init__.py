"""The imperative shell: the loop that owns sequence state, the journal on
`reconciler/results`, the SQLite index, and the last valid config."""
