"""`python -m ofa_deploy.cli` runs the command line (same as `ofa-deploy`)."""
import sys

from . import main

sys.exit(main())
