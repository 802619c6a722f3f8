"""`python -m gateway`: the runs-gateway command."""

from gateway.server import main

main()
