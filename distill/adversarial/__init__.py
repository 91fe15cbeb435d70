"""Discriminators and what they look at: shared by adversarial methods (ADML,
TADML; later ANC, TSANC, KSANC)."""
