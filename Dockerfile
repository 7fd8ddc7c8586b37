# Funkel in a container: one process, a config file and a data volume.
#   docker build -t funkel .
#   docker run --rm funkel demo
#   docker run -v "$PWD/config.yaml:/config/config.yaml:ro" -v funkel-data:/data funkel check-config /config/config.yaml
#   docker run -e DISCORD_TOKEN -e MATRIX_ACCESS_TOKEN -v "$PWD/config.yaml:/config/config.yaml:ro" -v funkel-data:/data \
#       funkel run --config /config/config.yaml

# Build stage: has a C compiler, so the fast matcher (bot/core/_fastmatch.c) is compiled.
FROM python:3.11 AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY bot ./bot
# With both platforms: discord.py, and matrix-nio[e2e] (its encryption library comes as a
# manylinux wheel).
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[discord,matrix]"

# Runtime stage: slim, no compiler needed.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 10001 funkel && mkdir -p /data && chown funkel /data
USER funkel
VOLUME ["/data"]
WORKDIR /data
ENTRYPOINT ["funkel"]
CMD ["--help"]
