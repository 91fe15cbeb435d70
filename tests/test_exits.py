"""Exits for any staged model: one after every stage but the last, sized from the
model's stage channels, giving the network's embedding width and class logits;
the deepest exit is the network's own head, unchanged."""
import pytest
import torch

from distill.models import build_model
from distill.models.exits import build_exits, exit_outputs


@pytest.mark.parametrize("arch, stages", [("resnet8", 3), ("wrn_16_2", 3), ("resnet164", 3), ("resnet18", 4)])
def test_exits_fit_every_staged_family(arch, stages):
    torch.manual_seed(0)
    model = build_model(arch, 7).eval()
    exits = build_exits(model.stage_channels, model.embedding_dim, 7).eval()
    assert len(exits) == stages - 1
    with torch.no_grad():
        features = model.features(torch.randn(3, 3, 32, 32))
        embeddings, logits = exit_outputs(exits, features)
    assert len(embeddings) == len(logits) == stages
    assert all(e.shape == (3, model.embedding_dim) for e in embeddings)
    assert all(z.shape == (3, 7) for z in logits)
    assert logits[-1] is features["logits"] and embeddings[-1] is features["embedding"]


def test_exit_heads_are_small_next_to_resnet18():
    model = build_model("resnet18", 100)
    exits = build_exits(model.stage_channels, model.embedding_dim, 100)
    assert sum(p.numel() for p in exits.parameters()) < 0.2 * sum(p.numel() for p in model.parameters())
