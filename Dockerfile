# One image for web, worker, beat and the Coupa sandbox (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --create-home --uid 1000 spendflo

COPY pyproject.toml README.md ./
COPY spendflo ./spendflo
COPY integrations ./integrations
COPY coupa ./coupa
RUN pip install .

COPY . .
# collectstatic needs settings that are only placeholders at build time.
RUN SECRET_KEY=build-only \
    FIELD_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    SPENDFLO_IGNORE_DOTENV=1 python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var && chown -R spendflo /app/var

USER spendflo
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "spendflo.wsgi", "--bind", "0.0.0.0:8000"]
