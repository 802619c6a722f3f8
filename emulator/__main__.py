"""`python -m emulator`: the emulator's command line."""

from emulator.server import main

main()
