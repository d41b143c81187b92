"""The seed tutorial on embedded defaults: a small service, a load generator, and
`reconciler demo`, which runs the whole Keptn story on one machine."""
