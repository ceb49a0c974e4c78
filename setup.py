"""Build filterkit's Cython core.

OpenMP is used when the compiler supports it (probed by compiling a tiny
program); set ``FILTERKIT_NO_OPENMP=1`` to force a serial build.  Runtime
CPU dispatch (AVX-512 / AVX2+FMA / baseline) is done in the C header with
GCC's ``target_clones``, so the default build stays portable.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup


def _compiler() -> str:
    return os.environ.get("CC") or sysconfig.get_config_var("CC").split()[0] or "cc"


def _has_openmp() -> bool:
    if os.environ.get("FILTERKIT_NO_OPENMP", "") not in ("", "0"):
        return False
    if sys.platform == "win32":
        return True  # MSVC: /openmp
    code = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as fh:
            fh.write(code)
        res = subprocess.run(
            [_compiler(), "-fopenmp", src, "-o", os.path.join(tmp, "t")],
            capture_output=True,
        )
        return res.returncode == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


openmp = _has_openmp()
if sys.platform == "win32":
    cflags = ["/O2"] + (["/openmp"] if openmp else [])
    lflags: list = []
else:
    # -fno-trapping-math: no FP exceptions are relied on, and it lets the
    # compiler vectorise branch-free selects (the colour transfer functions)
    cflags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-Wno-unused-function"]
    lflags = []
    if openmp:
        cflags.append("-fopenmp")
        lflags.append("-fopenmp")

print(f"filterkit: building the core {'with' if openmp else 'without'} OpenMP")

extensions = [
    Extension(
        "filterkit._core",
        sources=["src_c/_core.pyx"],
        include_dirs=["src_c", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=cflags,
        extra_link_args=lflags,
        depends=["src_c/fk_kernels.h", "src_c/fk_plan.h", "src_c/fk_box.h", "src_c/fk_color.h"],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
