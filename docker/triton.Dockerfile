# The same model repository on the official Triton image (GPU or CPU), whose native ONNX Runtime
# backend (CUDA / TensorRT execution providers) serves every `backend: "onnxruntime"` model; the
# Python-based shim in api/triton_backends/ is only for the embedded, wheel-based server.
# Build from the repository root:  docker build -f docker/triton.Dockerfile -t docserve-triton .
# 24.10 ships Triton 2.51, the version bundled in nvidia-pytriton 0.7.0.
FROM nvcr.io/nvidia/tritonserver:24.10-py3

WORKDIR /opt/docserve
COPY pyproject.toml README.md ./
COPY api ./api
COPY client ./client
COPY export ./export
# The python models import docserve's shared pre/post-processing; nvidia-pytriton (the embedded
# server) is not needed inside Triton's own image.
RUN pip install --no-cache-dir --no-deps . \
 && pip install --no-cache-dir "numpy<2" "opencv-python-headless<4.12" onnxruntime loguru pydantic pydantic-settings
COPY model_repository /models/model_repository
COPY ensembles /models/ensembles

EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models/model_repository", "--model-repository=/models/ensembles", \
     "--model-control-mode=explicit", "--load-model=*"]
