"""feedwatch: follow the TV shows you track across entertainment feeds."""

__version__ = "0.1.0"
