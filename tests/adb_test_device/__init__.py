"""An adbd that speaks the adb wire protocol over TCP, for tests of the adb path with the real
adb client; see server.py for usage and modes."""
