"""Put ``tests/syllabus`` on ``sys.path`` so the tests can ``from labcode import lab_code``
(``--import-mode=importlib`` does not do it)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
