"""One trainer for every force field."""

from egraffbench.training.trainer import TrainingResult, train_force_field

__all__ = ["TrainingResult", "train_force_field"]
