"""The emulator's Responses and Conversations APIs, beside its Assistants API: `store` holds responses and
conversations and the REST operations on them (built of `model`, the kept state; `items`, reading and
writing items; `requests`, reading a create-response request; `lifecycle`, the deterministic model and how
a response advances), `stream` its server-sent events, `routes` the handlers the app mounts.
"""
