"""Distillery's distillation engine: models, data, losses, methods and the
training loop. It imports neither ray nor optuna and runs on its own
(``python -m distill.train --config FILE``)."""
