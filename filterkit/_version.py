"""The version of filterkit: the one place it is written.

``pyproject.toml`` reads it for the package's metadata (setuptools'
``attr:``, read from this file's text without importing the package);
``filterkit.__version__`` and ``filterkit --version`` report it.
"""

__version__ = "0.1.0"
