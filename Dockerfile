# The IPAM server: `docker build -t ipam-registry .`, then `docker run ipam-registry serve ...`.
# The same image runs `ipam migrate`, `ipam token ...` and `ipam-agent` (entrypoint ipam-agent).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The client first: it changes less often than the server, so its layer stays cached.
COPY clients/ clients/
COPY pyproject.toml ./
COPY ipam/ ipam/
COPY migrations/ migrations/
RUN pip install ./clients . \
    && useradd --system --create-home --home-dir /var/lib/ipam ipam \
    && install -d -o ipam -g ipam /run/ipam

USER ipam
WORKDIR /var/lib/ipam
# gRPC; Prometheus metrics with --metrics-listen 0.0.0.0:9464
EXPOSE 50051 9464
ENTRYPOINT ["ipam"]
CMD ["serve", "--listen", "0.0.0.0:50051"]
