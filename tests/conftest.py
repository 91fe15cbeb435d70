import os
import sys

# test helpers (sweep_runner) import by plain name
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
