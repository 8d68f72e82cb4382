"""egraffbench: benchmark machine-learned interatomic force fields through molecular dynamics."""

__version__ = "0.1.0"
