# The control plane and the node agent in one image: `suanwang serve` by default,
# `suanwang agent ...` as the command of an agent container (deploy/compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUANWANG_DATA_DIR=/var/lib/suanwang \
    SUANWANG_LOG_FORMAT=json

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install ".[postgres]" \
    && useradd --system --uid 10001 --home-dir /var/lib/suanwang --create-home suanwang \
    && rm -rf /src

USER suanwang
WORKDIR /var/lib/suanwang
EXPOSE 8080

# /health needs no token; a plain-HTTP server answers on the port it listens on.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SUANWANG_PORT', '8080'), timeout=2)"]

ENTRYPOINT ["suanwang"]
CMD ["serve", "--host", "0.0.0.0"]
