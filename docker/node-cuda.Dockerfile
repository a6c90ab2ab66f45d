# syntax=docker/dockerfile:1
# A volunteer node for NVIDIA GPUs: llama-cpp-python built with CUDA (for `--local`) and the
# `clip` extra with PyPI's regular (CUDA-enabled) torch build. Run with `docker run --gpus all`.
# No Django: the project is installed with --no-deps on top of exactly these extras.
#   docker build -f docker/node-cuda.Dockerfile -t alexandria-node:cuda .
# Ubuntu 24.04's Python is 3.12 (the project needs >= 3.11).
ARG CUDA_VERSION=12.6.3
ARG UBUNTU=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS build
ARG NODE_EXTRAS=worker,local-llm,clip
# Compute capabilities compiled in: Turing, Ampere, Ada, Hopper. No GPU is needed to build.
ARG CUDA_ARCHITECTURES="75;80;86;89;90"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    CMAKE_ARGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}"
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml docker/requirements_for_extras.py ./
RUN python requirements_for_extras.py --base --extras "${NODE_EXTRAS}" > requirements.txt \
    && pip install -r requirements.txt
COPY . .
RUN pip install --no-deps .

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU} AS node
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 alexandria \
    && useradd --system --uid 10001 --gid alexandria --create-home alexandria
COPY --from=build /opt/venv /opt/venv
COPY docker/healthcheck.py /opt/alexandria/healthcheck.py
USER alexandria
WORKDIR /home/alexandria
ENTRYPOINT ["alexandria-worker"]
