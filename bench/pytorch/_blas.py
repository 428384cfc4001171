"""BLAS setup shared by the PyTorch references. Import this module BEFORE numpy and torch (both load libblas.so.3).

Debian's python3-torch 1.13 calls the system BLAS (libblas.so.3 via update-alternatives).
Two facts measured on this VM (2 vCPUs, "Intel(R) Xeon(R) Processor", AVX-512 + AMX flags):
  * with only libblas3 (netlib reference BLAS) a ResFlow-sized step runs ~5k samples/s:
    not a fair peer. Install `libopenblas0-openmp` (OpenMP build, matches torch's libgomp).
  * OpenBLAS 0.3.21 (DYNAMIC_ARCH) identifies cores by CPUID family/model, which this VM
    masks, so it falls back to its `Prescott` (SSE3) kernels: 2048x319x128 sgemm at
    ~29 GFLOP/s instead of ~120 (Cooperlake kernels). We therefore set OPENBLAS_CORETYPE
    from the CPU flags when the caller has not set it. onnxruntime's MLAS detects ISA
    features directly and is not affected.
"""
import ctypes
import os


def _pick_coretype():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
            else:
                return None
    except OSError:
        return None
    if "avx512_bf16" in flags:
        return "COOPERLAKE"
    if "avx512f" in flags and "avx512vl" in flags:
        return "SKYLAKEX"
    if "avx2" in flags and "fma" in flags:
        return "HASWELL"
    return None


if "OPENBLAS_CORETYPE" not in os.environ:
    _c = _pick_coretype()
    if _c:
        os.environ["OPENBLAS_CORETYPE"] = _c


def blas_info():
    """'OpenBLAS <core>' when torch's libblas.so.3 is OpenBLAS, else 'reference/unknown'."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        f = lib.openblas_get_corename
        f.restype = ctypes.c_char_p
        return "OpenBLAS " + f().decode()
    except (OSError, AttributeError):
        return "reference/unknown (install libopenblas0-openmp)"
