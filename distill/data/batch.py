from dataclasses import dataclass, field
from typing import List, Optional

import torch


@dataclass
class Batch:
    """One training batch as a method sees it (see ``DataNeeds``)."""
    images: Optional[torch.Tensor]                 # (B, C, H, W) normalised; None without real data
    labels: Optional[torch.Tensor]
    views: List[torch.Tensor] = field(default_factory=list)   # every augmented view; images is views[0]
    partner_images: Optional[torch.Tensor] = None  # pairs: the partner of sample i at row i
    partner_labels: Optional[torch.Tensor] = None
