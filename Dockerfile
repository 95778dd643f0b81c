# Clearline web / worker / beat image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    GUNICORN_BIND=0.0.0.0:8000

WORKDIR /app
RUN useradd --create-home --uid 10001 clearline
COPY requirements/ requirements/
RUN pip install -r requirements/base.txt
COPY . .
# collectstatic needs settings to import; the build uses throwaway values only.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost TWILIO_AUTH_TOKEN=build-only \
    TWILIO_ACCOUNT_SID=ACbuild PUBLIC_BASE_URL=https://build.invalid FIELD_ENCRYPTION_SALT_KEYS=build \
    CALLER_HASH_KEY=build python manage.py collectstatic --noinput --verbosity 0
USER clearline
EXPOSE 8000
# Workers, threads, timeout and the access log format (no query strings): config/gunicorn.conf.py.
CMD ["gunicorn", "-c", "config/gunicorn.conf.py"]
