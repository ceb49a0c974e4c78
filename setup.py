"""Build filterkit's Cython core.

OpenMP is used when the compiler supports it (probed by compiling a tiny
program); set ``FILTERKIT_NO_OPENMP=1`` to force a serial build.

Runtime CPU dispatch: the kernels (src_c/fk_impl.h and the files it
includes) are compiled once per instruction set, by one small C file each:
``fk_isa_portable.c`` with the build's default target, and on x86 with GCC
or Clang ``fk_isa_avx2.c`` and ``fk_isa_avx512.c``, which set their target
with ``#pragma GCC target`` (``#pragma clang attribute`` under Clang).  Each
defines one table of function pointers; ``fk_core.c`` picks the best table
the CPU supports (capped by ``FILTERKIT_CPU``) once per call.  No compile
flag here raises the target, so the built module runs on any CPU of its
architecture.
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

# every header the C files include: a change to one rebuilds the module
_C_HEADERS = ["fk_core.h", "fk_impl.h", "fk_convert.h", "fk_convert_dtype.h", "fk_corr.h",
              "fk_tensor.h", "fk_corr_run.h", "fk_int.h", "fk_fft.h", "fk_box.h", "fk_color.h"]

extensions = [
    Extension(
        "filterkit._core",
        sources=["src_c/_core.pyx", "src_c/fk_core.c", "src_c/fk_isa_portable.c",
                 "src_c/fk_isa_avx2.c", "src_c/fk_isa_avx512.c"],
        include_dirs=["src_c", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=cflags,
        extra_link_args=lflags,
        depends=[os.path.join("src_c", name) for name in _C_HEADERS],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
