# reconciler controller image. Not built in this project's CI (no Docker engine here);
# `make test` exercises the same package on the host.
FROM python:3.11-slim

# git for http-backend-free operation is not needed (pygit2 bundles libgit2); ca-certificates for HTTPS remotes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
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

USER reconciler
VOLUME /var/lib/reconciler
EXPOSE 8080
ENTRYPOINT ["reconciler", "serve", "--workdir", "/var/lib/reconciler", "--listen", "0.0.0.0:8080"]
# Pass the config repo with: docker run … reconciler-image --repo https://git.example.com/team/config.git
