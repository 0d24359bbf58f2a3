# Production image: the web server (granian, drportal/serve.py), RQ worker and scheduler all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DRPORTAL_ENV=production
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY drportal drportal
COPY backups backups
COPY scenarios scenarios
COPY notifications notifications
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build-only DATABASE_URL=postgresql://build@localhost/none REDIS_URL=redis://localhost \
    python manage.py collectstatic --noinput
RUN useradd --system --home /app drportal && mkdir -p /app/var && chown drportal /app/var
USER drportal
EXPOSE 8000
CMD ["python", "-m", "drportal.serve", "--host", "0.0.0.0", "--port", "8000"]
