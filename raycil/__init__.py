"""raycil: a Ray-native engine for class-incremental learning experiments and sweeps."""

__version__ = "0.1.0"
