# runs-gateway as a container: slim Python, a non-root user, a gRPC health check.
# Not built in this project's CI (no Docker engine there); kept simple on purpose. Build with:
#   docker build -t runs-gateway .
#   docker run -e OPENAI_BASE_URL=http://assistants-api.internal/v1 -e OPENAI_API_KEY=sk-... -p 50051:50051 runs-gateway
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Exactly the locked runtime (versions and hashes, as CI last passed with), with the extras production may turn
# on (a PostgreSQL run store, Entra ID, traces), then the gateway itself, built by the locked setuptools:
# nothing unlocked is fetched.
COPY requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY stubs ./stubs
RUN pip install --no-deps --no-build-isolation . && useradd --system --uid 10001 --no-create-home gateway

USER 10001
# In a container the gateway must listen beyond loopback to be reachable: asked for explicitly here.
# As a sidecar sharing the application's network namespace, set RUNS_GATEWAY_LISTEN=127.0.0.1:50051.
ENV RUNS_GATEWAY_LISTEN=0.0.0.0:50051
EXPOSE 50051
# The probe reads the gateway's variables: with RUNS_GATEWAY_TLS_CERT it probes over TLS, trusting that file.
# With mTLS (RUNS_GATEWAY_TLS_CLIENT_CA) give it a client certificate: RUNS_GATEWAY_HEALTHCHECK_CERT and _KEY.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["runs-gateway-healthcheck"]
# SIGTERM drains in-flight RPCs for RUNS_GATEWAY_GRACE seconds (default 5), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["runs-gateway"]
