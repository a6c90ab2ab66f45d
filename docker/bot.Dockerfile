# syntax=docker/dockerfile:1
# The Discord bot: the `bot` extra only. It talks to the backend over HTTPS
# (ALEXANDRIA_API_URL + BOT_SERVICE_TOKEN), so it carries no Django, no database driver.
# Build from the repository root: docker build -f docker/bot.Dockerfile .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml docker/requirements_for_extras.py ./
RUN python requirements_for_extras.py --base --extras bot > requirements.txt \
    && pip install -r requirements.txt
COPY . .
RUN pip install --no-deps .

FROM ${PYTHON_IMAGE} AS bot
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 alexandria \
    && useradd --system --uid 10001 --gid alexandria --create-home alexandria
COPY --from=build /opt/venv /opt/venv
COPY docker/healthcheck.py /opt/alexandria/healthcheck.py
USER alexandria
WORKDIR /home/alexandria
CMD ["alexandria-bot"]
