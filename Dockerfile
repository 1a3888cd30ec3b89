# dutyd: runs `dutyd serve` as a non-root user; data in the /var/lib/dutyd volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DUTYD_CONFIG=/app/config/dutyd.yaml \
    DUTYD_DATA_DIR=/var/lib/dutyd \
    DUTYD_PLANS_DIR=/app/plans \
    DUTYD_ROSTER_FILE=/app/config/roster.yaml \
    DUTYD_HTTP_HOST=0.0.0.0 \
    DUTYD_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY service ./service
RUN apt-get update -q && apt-get install -y -q --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/* \
 && pip install -c constraints.txt . \
 && useradd --system --uid 10001 --home-dir /var/lib/dutyd --shell /usr/sbin/nologin dutyd \
 && mkdir -p /var/lib/dutyd \
 && chown dutyd:dutyd /var/lib/dutyd
COPY config ./config
COPY plans ./plans

USER dutyd
VOLUME ["/var/lib/dutyd"]
EXPOSE 8640
HEALTHCHECK --interval=30s --timeout=5s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8640/healthz', timeout=4)"
ENTRYPOINT ["dutyd"]
CMD ["serve"]
