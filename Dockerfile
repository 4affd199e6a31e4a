FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=1 python manage.py collectstatic --noinput
CMD ["gunicorn", "atmr.wsgi:application", "--bind", "0.0.0.0:8000", "-c", "python:atmr.gunicorn_conf"]
