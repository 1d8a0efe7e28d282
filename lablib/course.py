"""What makes a notebook a lab of this course: its name, and where the labs are found.

Example:
    >>> bool(LAB_NAME.match("01_convolution_filters")), bool(LAB_NAME.match("lab1"))
    (True, False)
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["LAB_GLOB", "LAB_NAME", "LAB_NAME_PATTERN", "find_labs"]

#: A lab's name: two digits, underscore, snake case (``01_convolution_filters``).
LAB_NAME_PATTERN = r"\d{2}_[a-z0-9_]+"
LAB_NAME = re.compile(rf"^{LAB_NAME_PATTERN}$")
LAB_GLOB = "[0-9][0-9]_*.ipynb"


def find_labs(folder: Path | str) -> list[Path]:
    """The lab notebooks ``NN_name.ipynb`` directly in ``folder``, in course order."""
    return [p for p in sorted(Path(folder).glob(LAB_GLOB)) if LAB_NAME.match(p.stem)]
