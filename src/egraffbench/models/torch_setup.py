"""Process-wide torch set-up that e3nn-based packages need before they are imported."""

import warnings

import torch

# e3nn 0.4.4 loads its bundled constants with torch.load; with weights-only loading (torch ≥ 2.6 default)
# that file needs `slice` allow-listed. Allow-listing one builtin keeps weights-only loading everywhere else.
torch.serialization.add_safe_globals([slice])

# e3nn/mace script their modules; TorchScript warns once per module about instance-level annotations,
# which says nothing to a user of this tool.
warnings.filterwarnings("ignore", message="The TorchScript type system", category=UserWarning)
