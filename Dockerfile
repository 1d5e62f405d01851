# syntax=docker/dockerfile:1
# alchemiser: multi-stage build, installs the runtime dependencies from the hash-checked requirements-runtime.lock (the dev lock minus the dev extras).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements-build.lock requirements-runtime.lock ./
RUN python -m pip install --quiet --upgrade "pip>=24" \
 && python -m pip install --quiet --require-hashes -r requirements-build.lock \
 && python -m pip install --quiet --require-hashes -r requirements-runtime.lock
COPY pyproject.toml README.md ./
COPY alchemiser ./alchemiser
RUN python -m pip install --quiet --no-deps --no-build-isolation . \
 && alchemiser --version

FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} alchemiser \
 && useradd --system --uid ${UID} --gid alchemiser --home-dir /app --no-create-home --shell /usr/sbin/nologin alchemiser
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY config ./config
RUN mkdir -p /app/var && chown alchemiser:alchemiser /app/var
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALCHEMISER_HTTP__HOST=0.0.0.0 \
    ALCHEMISER_HTTP__PORT=8787 \
    ALCHEMISER_STORE__PATH=/app/var/alchemiser.sqlite \
    ALCHEMISER_LOGGING__FORMAT=json
USER alchemiser
VOLUME ["/app/var"]
EXPOSE 8787
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('ALCHEMISER_HTTP__PORT', '8787'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["alchemiser"]
CMD ["run"]
