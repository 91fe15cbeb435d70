"""InceptionV1 (GoogLeNet, Szegedy et al. 2015) as torchvision's ``GoogLeNet``: its own
modules, adopted under their own names, so a torchvision GoogLeNet state dict (ImageNet
weights included) loads key for key; random initialisation is torchvision's
``init_weights``. 6,624,904 parameters for 1000 classes without auxiliary heads.

Input scale: torchvision's ImageNet weights (``googlenet(weights=IMAGENET1K_V1)``) are
built with ``transform_input=True``: they were trained on ``(x - 0.5) / 0.5`` per channel,
which torchvision's ``_transform_input`` derives from ImageNet-normalised input. The
re-id pipelines normalise with the ImageNet mean and std, so a 3-channel model here runs
that same transform (torchvision's own code) before ``conv1``: with torchvision's file it
equals torchvision's GoogLeNet built for that file. On data sets normalised otherwise and
trained from scratch the transform is a fixed per-channel affine map the first
convolution absorbs.

``inception_v1_aux`` also has torchvision's two auxiliary classifiers ``aux1`` (after
inception4a) and ``aux2`` (after inception4d), sized for the data set's classes. They
pool adaptively to 4x4, so any input the trunk takes works (256x128: a 16x8 map; the 64x32
smoke size: 4x2, pooled up to 4x4). In training mode every forward (``forward`` and
``features``, return values unchanged) leaves their logits in ``model.aux_logits`` (a
list, ``[]`` in eval mode and without heads), the engine's auxiliary-loss contract
(``distill/methods/auxiliary.py``).

In the feature contract (``distill/models/features.py``):

- ``stem``: conv1 and maxpool1 (64 channels, stride 4);
- ``stages``: after maxpool2 (192 channels, stride 8), inception3b (480, stride 8),
  inception4e (832, stride 16) and inception5b (1024, stride 32); at 256x128 input the
  maps are 32x16, 32x16, 16x8 and 8x4. Every block ends in a ReLU (a concat of ReLU
  branches, or a max pool of one), so ``stages_pre`` == ``stages``;
- ``embedding``: inception5b's map, globally average pooled (1024-d), the input of
  ``dropout`` and ``fc``.

Inputs down to 32x32 work (each max pool needs a map of 2 or more)."""
import functools
from typing import List, Tuple

import torch
from torch import nn

from distill.models.features import StagedNetwork, feature_dict
from distill.models.registry import MODELS

STEM = ("conv1", "maxpool1")
STAGES = (("conv2", "conv3", "maxpool2"),
          ("inception3a", "inception3b"),
          ("maxpool3", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e"),
          ("maxpool4", "inception5a", "inception5b"))
STAGE_CHANNELS = (192, 480, 832, 1024)
AUX_AFTER = {"inception4a": "aux1", "inception4d": "aux2"}   # block -> the auxiliary head reading its map


class Activated(nn.Module):
    """A block whose output is already activated, with ``run_stage``'s interface
    (``residual_sum`` is the output itself, ``activation`` the identity); for the stage
    list ``ModelTail`` reads. Not a submodule of the network: its state dict keys stay torchvision's."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block
        self.activation = nn.Identity()

    def residual_sum(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class InceptionV1(StagedNetwork):
    head_modules = ("dropout", "fc")
    # the auxiliary classifiers this architecture can carry (a pretrained file may hold them either way)
    aux_family: Tuple[str, ...] = tuple(AUX_AFTER.values())

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_heads: bool = False):
        super().__init__()
        # imported here: torchvision costs seconds to import, and most runs build no GoogLeNet
        from torchvision.models.googlenet import BasicConv2d, GoogLeNet

        net = GoogLeNet(num_classes=num_classes, aux_logits=aux_heads, transform_input=False, init_weights=True)
        if in_channels != 3:
            net.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
            nn.init.trunc_normal_(net.conv1.conv.weight, mean=0.0, std=0.01, a=-2, b=2)
        for name, module in net.named_children():   # torchvision's names and order; None heads are skipped
            setattr(self, name, module)
        self.aux_head_names: Tuple[str, ...] = self.aux_family if aux_heads else ()
        # read by torchvision's GoogLeNet._transform_input, which stem_forward runs
        self.transform_input = in_channels == 3
        self.aux_logits: List[torch.Tensor] = []
        # plain attribute (not registered): the same modules under a second name would duplicate state dict keys
        object.__setattr__(self, "_stage_list",
                           [nn.Sequential(*(Activated(getattr(self, n)) for n in names)) for names in STAGES])
        self.stem_channels = 64
        self.stage_channels = STAGE_CHANNELS
        self.embedding_dim = STAGE_CHANNELS[-1]

    @property
    def stages(self) -> List[nn.Sequential]:
        return self._stage_list

    def train(self, mode: bool = True):
        if not mode:
            self.aux_logits = []
        return super().train(mode)

    def __getstate__(self):
        # the last training forward's logits are graph tensors, which deepcopy and pickle refuse
        return {**super().__getstate__(), "aux_logits": []}

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.models.googlenet import GoogLeNet

        return self.maxpool1(self.conv1(GoogLeNet._transform_input(self, x)))

    def head(self, out: torch.Tensor):
        embedding = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return embedding, self.fc(self.dropout(embedding))

    def features(self, x: torch.Tensor) -> dict:
        aux = []
        stem = out = self.stem_forward(x)
        outs = []
        for names in STAGES:
            for name in names:
                out = getattr(self, name)(out)
                head = AUX_AFTER.get(name) if self.training and self.aux_head_names else None
                if head is not None:
                    aux.append(getattr(self, head)(out))
            outs.append(out)
        self.aux_logits = aux
        embedding, logits = self.head(out)
        return feature_dict(logits, embedding, stem, outs, outs, outs)


MODELS.register("inception_v1")(InceptionV1)
MODELS.register("inception_v1_aux")(functools.partial(InceptionV1, aux_heads=True))
