from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
for line in (here / "sknet" / "__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        version["v"] = line.split("=")[1].strip().strip('"')

setup(
    name="sknet",
    version=version["v"],
    description="scikit-learn estimators for neural networks on a Lasagne-compatible "
    "layer library, compiled with PyTensor",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sknet", "sknet.*"]),
    python_requires=">=3.11",
    install_requires=[
        "numpy>=2.0",
        "scipy>=1.11",
        "scikit-learn>=1.6",
        "joblib>=1.3",
        "pytensor>=3.0,<4",
        # PyTensor's C backend links this OpenBLAS (see sknet/backend.py)
        "scipy-openblas32>=0.3.27",
        "tqdm>=4.60",
    ],
    extras_require={
        "plot": ["matplotlib>=3.7"],
        # sknet.export: ONNX models, also inside scikit-learn Pipelines
        "export": ["onnx>=1.23", "onnxruntime>=1.32", "skl2onnx>=1.20"],
        # mode='JAX' (CPU; jax[cuda12] instead for the GPU)
        "jax": ["jax>=0.4.30"],
        # joblib.parallel_backend('dask') for searches on a dask.distributed cluster
        "dask": ["dask>=2024.1", "distributed>=2024.1"],
        "test": [
            "pytest>=8",
            "hypothesis>=6.100",
            "pandas>=2.0",
            "matplotlib>=3.7",
            # tests/test_notebook.py runs examples/quickstart.ipynb
            "nbclient>=0.7",
            "nbformat>=5.7",
            "ipykernel>=6.0",
            # tests/test_backends.py and tests/test_dask.py (jax adds ~10 s to the install)
            "jax>=0.4.30",
            "dask>=2024.1",
            "distributed>=2024.1",
            "onnx>=1.23",
            "onnxruntime>=1.32",
            "skl2onnx>=1.20",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
