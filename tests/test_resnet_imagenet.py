"""ResNet-18/34 in torchvision's ImageNet form on the feature contract: the same network as
torchvision's (its weights load tensor for tensor and give the same logits), and four
stages at 1/4 to 1/32 of the input."""
import pytest
import torch
import torchvision

from distill.models import build_model


@pytest.mark.parametrize("arch,reference,parameters", [("resnet18_imagenet", torchvision.models.resnet18, 11_689_512),
                                                       ("resnet34_imagenet", torchvision.models.resnet34, 21_797_672)])
def test_imagenet_resnet_is_torchvisions_network(arch, reference, parameters):
    torch.manual_seed(0)
    ours, theirs = build_model(arch, 1000, 3), reference(weights=None)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == parameters
    mine, source = ours.state_dict(), theirs.state_dict()
    assert [v.shape for v in mine.values()] == [v.shape for v in source.values()]
    ours.load_state_dict(dict(zip(mine, source.values())))   # same tensors, in the same order
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


def test_imagenet_resnet_stages_are_at_a_quarter_to_a_thirty_second_of_the_input():
    net = build_model("resnet18_imagenet", 10, 3).eval()
    with torch.no_grad():
        out = net.features(torch.randn(1, 3, 224, 224))
    assert out["stem"].shape[-2:] == (56, 56)
    assert [tuple(s.shape[1:]) for s in out["stage_outputs"]] == [(64, 56, 56), (128, 28, 28), (256, 14, 14),
                                                                   (512, 7, 7)]
    assert out["logits"].shape == (1, 10) and out["embedding"].shape == (1, 512)
