"""lablib: the helper library behind the CNN course labs.

Every lab starts with ``cfg = lablib.setup("NN_lab_name", quick=..., standard=...,
full=...)``; the rest of the library is imported by module where a lab needs it
(``from lablib import checks, datasets, plot``). Importing ``lablib`` itself is cheap:
TensorFlow is only loaded by the modules that need it.
"""

from lablib.lab_setup import setup
from lablib.profiles import PROFILES, LabConfig, ProfileError, profile_name

__version__ = "0.1.0"

# The release that a Colab setup cell installs. Every lab's setup cell names this exact
# requirement (a unit test checks it), so a new release changes it in one place + the labs.
COLAB_REQUIREMENT = f"lablib @ git+https://github.com/cnn-course-labs/cnn-labs@v{__version__}"

__all__ = ["PROFILES", "LabConfig", "ProfileError", "profile_name", "setup", "__version__"]
