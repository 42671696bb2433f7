"""`python -m tools.adb_test_device --port N --root DIR [--mode …]`."""
from .server import main

main()
