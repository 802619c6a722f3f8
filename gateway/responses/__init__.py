"""The v2 Runs contract over OpenAI's Responses and Conversations APIs: the mapping, pure.

A run is a chain of responses created in background mode in the run's conversation (thread = conversation).
This package holds what turns one into the other and nothing that does I/O: the assistants a deployment
configures (`assistants`), the CreateResponse bodies a run's legs send (`requests`), the run record and the
Assistants-v2 run read from a chain (`mapping`), its steps and messages (`steps`), and the translation of a
response's stream into a run's events (`events`). docs/responses.md is the mapping field by field; the
adapter that calls these (the upstream seam, the store) is built apart.
"""
