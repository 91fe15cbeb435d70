"""Define-by-run space over discriminator structures (TADML Table 2 and beyond):
depth 1-4, each hidden width 64-512 (log scale); the structure string is derived."""
from distill.adversarial.discriminator import structure_string

MIN_DEPTH, MAX_DEPTH = 1, 4
MIN_WIDTH, MAX_WIDTH = 64, 512


def discriminator_structure(trial, values):
    depth = trial.suggest_int("search.disc_depth", MIN_DEPTH, MAX_DEPTH)
    widths = [trial.suggest_int(f"search.disc_width_{i}", MIN_WIDTH, MAX_WIDTH, log=True) for i in range(1, depth + 1)]
    return {"method.disc_structure": structure_string(widths)}


def structure_point(structure: str) -> dict:
    """The searched parameters that give ``structure`` (to enqueue a paper structure)."""
    widths = [int(part[:-2]) for part in structure.split("-")]
    point = {"search.disc_depth": len(widths)}
    point.update({f"search.disc_width_{i}": w for i, w in enumerate(widths, start=1)})
    return point
