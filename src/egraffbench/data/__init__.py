"""Datasets: registry, loaders (npz, extxyz, DeePMD), verified fetching, and the embedded EMT dataset.

Frames are `ase.Atoms` carrying their reference energy (eV) and forces (eV/Å); positions and cells in Å.
"""

from egraffbench.data.cache import data_root
from egraffbench.data.dataset import load_dataset
from egraffbench.data.download import fetch_dataset
from egraffbench.data.reference import attach_reference, reference_energy, reference_forces
from egraffbench.data.registry import DatasetSpec, SourceSpec, SplitSpec, get_dataset_spec, list_datasets
from egraffbench.data.summary import dataset_info

__all__ = [
    "DatasetSpec",
    "SourceSpec",
    "SplitSpec",
    "attach_reference",
    "data_root",
    "dataset_info",
    "fetch_dataset",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "reference_energy",
    "reference_forces",
]
