"""Examples of calling the gateway: a Python client and the end-to-end demo."""
