"""runs-gateway: a gRPC gateway in front of the OpenAI Assistants v1 Runs REST API.

Modules, one responsibility each: `routes` (RPC → REST route, as data), `validate` (requests refused before
any REST call), `convert` (REST JSON ↔ protobuf), `upstream` (the HTTP client), `pagination` (cursor
following), `errors` (the status table and the gRPC boundary), `core` (the machinery, no gRPC), `servicer`
(the thin gRPC adapter), `config` and `server` (settings, wiring and the CLI).
"""
