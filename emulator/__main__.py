"""`python -m emulator`: the runs-emulator command."""

from emulator.server import main

main()
