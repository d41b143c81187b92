# reconciler controller image. Not built in this project's CI (no Docker engine here);
# `make test` exercises the same package on the host, and tests/deploy checks the chart that runs it.
# Base pinned to an exact Python patch release and Debian release (bump both deliberately);
# pin the digest too in your registry mirror: `FROM python:3.11.11-slim-bookworm@sha256:…`.
FROM python:3.11.11-slim-bookworm

# tini as PID 1: forwards SIGTERM to serve (which releases its Lease and stops cleanly) and
# reaps the children of the `local` target and local job runner, which would otherwise stay
# zombies. ca-certificates for HTTPS remotes; pygit2 bundles libgit2, so no git binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
COPY schemas ./schemas
COPY example-config-repo ./example-config-repo
# The package resources reconciler/_schemas and reconciler/_example are symlinks into the
# two folders above; copy them as real files so the installed package is self-contained.
RUN rm -f reconciler/_schemas reconciler/_example \
 && cp -r schemas reconciler/_schemas && cp -r example-config-repo reconciler/_example \
 && pip install --no-cache-dir . \
 && useradd --create-home --uid 10001 reconciler \
 && mkdir -p /var/lib/reconciler && chown reconciler /var/lib/reconciler

USER 10001
VOLUME /var/lib/reconciler
EXPOSE 8080
# Liveness of the HTTP server (the same endpoint the chart's livenessProbe uses); python, because
# the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--", "reconciler", "serve", "--workdir", "/var/lib/reconciler", "--listen", "0.0.0.0:8080"]
# Pass the config repo with: docker run … reconciler-image --repo https://git.example.com/team/config.git
