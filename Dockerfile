# The lamina platform image (API, scheduler and worker share it). With a registry, the default base works;
# offline, build with --build-arg BASE=lamina/base:bookworm (see `lamina images build`).
ARG BASE=python:3.11-slim
FROM ${BASE}
RUN (python3 -m pip --version >/dev/null 2>&1) || (apt-get update && apt-get install -y --no-install-recommends python3-pip python3-venv && rm -rf /var/lib/apt/lists/*)
WORKDIR /opt/lamina
COPY setup.cfg pyproject.toml README.md ./
COPY platform ./platform
COPY migrations ./migrations
COPY runtimes ./runtimes
RUN python3 -m pip install --no-cache-dir --break-system-packages -e . 2>/dev/null || python3 -m pip install --no-cache-dir -e .
ENV LAMINA_HOST=0.0.0.0 LAMINA_PORT=9000 LAMINA_DATA_DIR=/var/lib/lamina
EXPOSE 9000
CMD ["lamina", "serve"]
