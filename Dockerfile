# The shoptrace services' image: one image, two services (docker-compose.yml
# runs `python -m checkout` or `python -m inventory`). Python 3.11 from Debian.
#
# docker/extra-ca/ (empty in git) may hold extra CA certificates (*.crt) that
# are needed to reach PyPI from inside the build, e.g. a TLS-intercepting
# proxy's CA; scripts/images.sh fills it from the host. They are trusted only
# while dependencies are installed and removed again in the same layer.
FROM debian:bookworm-slim

# /data is where docker-compose.yml mounts each service's volume (inventory's database; both services' span
# journal in /data/journal, SPAN_JOURNAL_DIR). The services run as APP_UID with a read-only root, so both are
# made here, owned by APP_UID: Docker copies a folder's owner (and what it holds) into an empty named volume
# when it is first mounted there, so a new volume is APP_UID's with no chown and no root at run time.

ARG EXTRA_CA_DIR=docker/extra-ca
ARG APP_UID=10001

# Debian bookworm package versions are fixed by the suite; not pinned further.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv \
 && groupadd --system --gid "${APP_UID}" shoptrace \
 && useradd --system --uid "${APP_UID}" --gid shoptrace --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin shoptrace \
 && install -d -o shoptrace -g shoptrace -m 0750 /data /data/journal

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt

WORKDIR /src
COPY ${EXTRA_CA_DIR}/ /usr/local/share/ca-certificates/shoptrace-build/
COPY requirements.lock ./
# Dependencies first (own layer, cached until requirements.lock changes).
RUN update-ca-certificates >/dev/null \
 && pip install --require-hashes -r requirements.lock \
 && rm requirements.lock \
 && rm -rf /usr/local/share/ca-certificates/shoptrace-build \
 && update-ca-certificates --fresh >/dev/null

# The services' code, as plain packages on PYTHONPATH: no build step, and only
# what the services run (the learning tools, harness/ and tests stay out).
COPY shoptrace/ /app/shoptrace/
COPY checkout/ /app/checkout/
COPY inventory/ /app/inventory/

WORKDIR /
USER ${APP_UID}:${APP_UID}
ENV PYTHONPATH=/app \
    SHOPTRACE_HOST=0.0.0.0 \
    INVENTORY_DB=/data/inventory.db
EXPOSE 8080 8081
CMD ["python", "-m", "checkout"]
