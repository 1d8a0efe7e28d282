"""lablib: the helper library behind the CNN course labs.

Every lab starts with ``cfg = lablib.setup("NN_lab_name", quick=..., standard=...,
full=...)``; the rest of the library is imported by module where a lab needs it
(``from lablib import checks, datasets, plot``). Importing ``lablib`` itself is cheap:
TensorFlow is only loaded by the modules that need it.
"""

from lablib.lab_setup import setup
from lablib.profiles import PROFILES, LabConfig, ProfileError, profile_name

__version__ = "0.1.0"  # the one place the version lives (pyproject.toml reads it from here)

# Where the instructor notebooks point: this placeholder repository at the tag of this
# version. `lablib release --repo OWNER/NAME --ref TAG` rewrites every badge and install
# line of the student notebooks to the repository and ref that students really open.
SOURCE_REPO = "cnn-course-labs/cnn-labs"
SOURCE_REF = f"v{__version__}"
# Every lab's setup cell names this exact requirement (a unit test checks it).
COLAB_REQUIREMENT = f"lablib @ git+https://github.com/{SOURCE_REPO}@{SOURCE_REF}"

__all__ = ["PROFILES", "LabConfig", "ProfileError", "profile_name", "setup", "__version__"]
