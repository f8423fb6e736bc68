# The FastAPI gateway alone, talking to a Triton elsewhere (see compose.yaml).
# Build from the repository root:  docker build -f docker/gateway.Dockerfile -t docserve-gateway .
FROM python:3.11-slim

WORKDIR /opt/docserve
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY processing ./processing
COPY inference ./inference
COPY api ./api
COPY client ./client
COPY export ./export
COPY cli ./cli
RUN pip install --no-cache-dir ".[scale-out]"

ENV DOCSERVE_HOST=0.0.0.0 \
    DOCSERVE_TRITON_HOST=triton \
    DOCSERVE_DATA_DIR=/var/lib/docserve
EXPOSE 8080
CMD ["uvicorn", "docserve.api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8080"]
