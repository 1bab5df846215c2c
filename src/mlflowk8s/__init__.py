"""mlflowk8s: one shared, secure MLflow tracking service for a research lab."""

__version__ = "0.1.0"
