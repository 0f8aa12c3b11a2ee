# DepoChain node image: `docker build -t depochain:0.1.0 .` (docs/deploy.md, section 6).
#
# Build stage: a virtual environment holding exactly what requirements-runtime.lock pins (the
# node's own dependencies, at requirements.lock's versions, no test or lint tools), each file
# checked against its hash, and the project built by the locked setuptools (no unpinned
# build environment). Run stage: the same Python base, that environment, a non-root user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/depochain
COPY requirements-runtime.lock ./
RUN /opt/depochain/bin/pip install --require-hashes --no-deps -r requirements-runtime.lock
COPY pyproject.toml README.md ./
COPY consensus ./consensus
COPY node ./node
RUN /opt/depochain/bin/pip install --no-deps --no-build-isolation . \
    && /opt/depochain/bin/pip check

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 depochain \
    && useradd --system --uid 10001 --gid depochain --home-dir /var/lib/depochain \
        --shell /usr/sbin/nologin depochain \
    && mkdir -p /var/lib/depochain \
    && chown depochain:depochain /var/lib/depochain \
    && chmod 0700 /var/lib/depochain
COPY --from=build /opt/depochain /opt/depochain
ENV PATH=/opt/depochain/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER depochain
WORKDIR /var/lib/depochain
# Keys, config, genesis, chain data, WAL and sign state: one volume, kept across upgrades.
VOLUME ["/var/lib/depochain"]
# P2P (open to the other banks only) and RPC (publish on the host's loopback only).
EXPOSE 26656 26657
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:26657/health', timeout=4)"]
ENTRYPOINT ["depochain"]
CMD ["start", "--home", "/var/lib/depochain"]
