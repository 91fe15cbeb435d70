"""Gradient-based attention transfer: the input gradient J = dCE/dx against its closed form for a
linear softmax model in float64 (J = (softmax(z) - onehot(y)) W / B), the two losses against numpy,
double backpropagation checked by finite differences (gradcheck), and a short run with the term on
bringing the student's input gradient closer to the teacher's than the same run at weight 0."""
import numpy as np
import pytest
import torch

from distill.losses.input_gradient import flip_invariance_loss, gradient_transfer_loss, input_gradient


def linear_model(weight):
    return lambda x: x.flatten(1) @ weight


def closed_form_j(x, weight, labels):
    z = x.reshape(len(x), -1) @ weight
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(weight.shape[1])[labels]
    return ((p - onehot) @ weight.T / len(x)).reshape(x.shape)


def test_input_gradient_is_the_closed_form_and_the_losses_match_numpy():
    rng = np.random.RandomState(0)
    x, w_s, w_t = rng.randn(4, 1, 3, 2), rng.randn(6, 5), rng.randn(6, 5)
    labels = np.array([0, 3, 4, 1])
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    j_s, _ = input_gradient(linear_model(t(w_s)), t(x), torch.tensor(labels), create_graph=True)
    j_t, _ = input_gradient(linear_model(t(w_t)), t(x), torch.tensor(labels), create_graph=False)
    js_np, jt_np = closed_form_j(x, w_s, labels), closed_form_j(x, w_t, labels)
    torch.testing.assert_close(j_s.detach(), t(js_np), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(j_t, t(jt_np), rtol=1e-12, atol=1e-14)
    assert float(gradient_transfer_loss(j_s, j_t)) == pytest.approx(0.5 * np.sqrt(((js_np - jt_np) ** 2).sum()),
                                                                     rel=1e-12)
    flipped = closed_form_j(x[..., ::-1].copy(), w_s, labels)
    assert float(flip_invariance_loss(t(js_np), t(flipped))) == pytest.approx(
        0.5 * np.sqrt(((js_np - flipped[..., ::-1]) ** 2).sum()), rel=1e-12)


def test_double_backpropagation_is_the_derivative_of_the_loss():
    rng = np.random.RandomState(1)
    x = torch.tensor(rng.randn(3, 1, 2, 2), dtype=torch.float64)
    labels = torch.tensor([0, 2, 1])
    j_t = torch.tensor(rng.randn(3, 1, 2, 2), dtype=torch.float64) * 0.1

    def loss(weight):
        j_s, _ = input_gradient(linear_model(weight), x, labels, create_graph=True)
        return gradient_transfer_loss(j_s, j_t)

    weight = torch.tensor(rng.randn(4, 3), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (weight,), eps=1e-6, atol=1e-8)


def test_the_term_brings_the_students_input_gradient_toward_the_teachers(digits_teacher, tmp_path):
    from distill.config import config_from_dict
    from distill.data.batches import eval_batches
    from distill.trainer import Trainer

    def run(weight):
        trainer = Trainer(config_from_dict({
            "method": {"name": "at_grad", "grad_weight": weight}, "networks": [{"name": "net0", "arch": "resnet8"}],
            "teacher": {"name": "teacher", "arch": "resnet14", "checkpoint": digits_teacher},
            "data": {"name": "digits", "batch_size": 32, "train_limit": 256},
            "optim": {"lr": 0.05, "schedule": "cosine"}, "train": {"epochs": 3, "threads": 1, "device": "cpu"},
            "seed": 4}), output_dir=str(tmp_path / f"w{weight}"))
        trainer.fit()
        images, labels = next(eval_batches(trainer.val_set, 128, trainer.normalize, trainer.device))[:2]
        student, teacher = trainer.networks["net0"].eval(), trainer.teacher.eval()   # as evaluated
        j_s, _ = input_gradient(student, images, labels, create_graph=False)
        j_t, _ = input_gradient(teacher, images, labels, create_graph=False)
        return float(gradient_transfer_loss(j_s, j_t))

    assert run(50.0) < 0.9 * run(0.0)   # measured 0.109 against 0.134
