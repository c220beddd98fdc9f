"""``python -m rigl_np ...``: see ``rigl_np.cli``."""
import sys

from rigl_np.cli import main

sys.exit(main())
