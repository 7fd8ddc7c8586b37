# Funkel in a container: one process, a config file and a data volume.
#   docker build -t funkel .
#   docker run --rm funkel demo
#   docker run -v "$PWD/config.yaml:/config/config.yaml:ro" -v funkel-data:/data funkel check-config /config/config.yaml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir . && useradd --create-home --uid 10001 funkel \
    && mkdir -p /data && chown funkel /data
USER funkel
VOLUME ["/data"]
WORKDIR /data
ENTRYPOINT ["funkel"]
CMD ["--help"]
