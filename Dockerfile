# syntax=docker/dockerfile:1
# One image for the web server, the Celery worker and Celery beat; docker-compose.yml
# picks the command. Build with `docker compose build` or `docker build -t reptidex .`.

# The pages load htmx from node_modules/htmx.org/dist (settings.STATICFILES_DIRS), so
# the npm packages are installed here and only node_modules is copied on.
FROM node:22-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund


FROM python:3.11-slim

# The settings find templates, static files and node_modules next to the reptidex
# package, so the code runs from /app (PYTHONPATH) rather than from the copy that
# `pip install .` puts in site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# gunicorn puts its control socket in ~/.gunicorn, so `app` gets a home it can write.
# Celery beat keeps its schedule state in /var/lib/celery, which docker-compose.yml
# mounts as a volume. The folder is created here so that a new volume belongs to `app`.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/lib/celery

# The dependencies get a layer of their own, so a change to the code alone reuses it.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
COPY --from=frontend /build/node_modules ./node_modules
RUN pip install -c constraints.txt . \
    && rm -rf build ./*.egg-info

# With DEBUG off the settings require the production variables, although
# collectstatic uses none of them, so placeholders stand in for this one command.
# The real values come from the environment when a container starts.
RUN DEBUG=0 \
    SECRET_KEY=collectstatic-placeholder \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://placeholder@localhost/placeholder \
    REDIS_URL=redis://localhost:6379/0 \
    EMAIL_HOST=localhost \
    DEFAULT_FROM_EMAIL=placeholder@localhost \
    python manage.py collectstatic --no-input -v 0

USER app
EXPOSE 8000
CMD ["gunicorn", "reptidex.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
