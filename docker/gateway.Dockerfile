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
RUN pip install --no-cache-dir ".[scale-out]" \
 && groupadd --system --gid 10001 docserve \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/docserve --create-home docserve
# Not root: the gateway and the workers (`docserve worker`, same image) need nothing privileged.
USER 10001

ENV DOCSERVE_HOST=0.0.0.0 \
    DOCSERVE_TRITON_HOST=triton \
    DOCSERVE_DATA_DIR=/var/lib/docserve
EXPOSE 8080 8081
CMD ["uvicorn", "docserve.api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8080"]
