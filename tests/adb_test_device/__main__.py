"""`python -m tests.adb_test_device --port N --root DIR [--mode …]`."""
from .server import main

main()
