# One image for the web app and the worker (docker-compose.yml picks the command).
FROM python:3.11-slim

RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*

# Jobs run the target repository's own tests: never as root, never with our secrets
# (workers/sandbox.py gives them an allow-listed environment).
RUN useradd --create-home --uid 10001 bot
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY workers workers
COPY codemods codemods
COPY templates templates
RUN pip install --no-cache-dir .
USER bot
ENV REFACTOR_BOT_WORKSPACE_DIR=/home/bot/workspaces \
    REFACTOR_BOT_CACHE_DIR=/home/bot/cache
EXPOSE 8000
CMD ["uvicorn", "--factory", "bot.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
