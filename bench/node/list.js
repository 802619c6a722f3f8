#!/usr/bin/env node
// The Node.js clients of the benchmarks: read every run of a thread, through the gateway with @grpc/grpc-js
// (ListRuns, one stream message per upstream page) or straight from the REST API with openai-node's
// auto-pagination (`for await` over `beta.threads.runs.list`), and say how long it took.
//
// A long-lived worker driven by bench/nodeclient.py: one JSON command per line on stdin, one JSON answer per
// line on stdout, so the interpreter's start, the module loading and the JIT's warm-up stay out of every
// measurement, and the Python side can read the gateway's and the emulator's CPU around each command.
//
//   {"client": "gateway", "target": "127.0.0.1:PORT", "thread_id": "thread_...", "limit": 0}
//   {"client": "sdk", "base_url": "http://127.0.0.1:PORT/v1", "api_key": "sk-...", "thread_id": "...",
//    "limit": 100}                                           (limit 0: the SDK's default, no `limit` sent)
//   -> {"items": 10000, "messages": 100, "elapsed_s": 0.41, "cpu_s": 0.39, "ids_sha256": "...",
//       "first_id": "run_...", "last_id": "run_..."}       or {"error": "..."}
//   ("messages": the stream messages the gateway sent; null for the SDK, whose pages are its own business)
// A command may say what the list is, {"expect": {"items": 10000, "ids_sha256": "..."}}: a read that got
// anything else answers an error.
//
// Each read is in ascending order. `elapsed_s` and `cpu_s` (process.cpuUsage(): user + system of this
// process) cover the read only: from the request to the last item. Ids are collected as they arrive; their
// SHA-256 (joined with "\n") is computed afterwards: the caller checks the whole list, in order, cheaply.
// The gateway's `limit` 0 is unset: the gateway then asks for pages of 100.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const readline = require('node:readline');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const OpenAI = require('openai');

const PROTOS = path.resolve(__dirname, '..', '..', 'protos');
const READ_DEADLINE_MS = 600_000;
const READY_DEADLINE_MS = 10_000;
// The emulator, like OpenAI until December 2024, serves Assistants v1; the SDK asks for v2 by default.
const SDK_HEADERS = { 'OpenAI-Beta': 'assistants=v1' };

// The same loader options as the example client (examples/node/client.js): what a Node user of the gateway
// would write.
function loadService() {
  const definition = protoLoader.loadSync('runs_gateway/assistants/v1/runs_service.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTOS],
  });
  return grpc.loadPackageDefinition(definition).runs_gateway.assistants.v1.RunsService;
}

const RunsService = loadService();
const gateways = new Map(); // target -> grpc client, kept for the worker's life (one HTTP/2 connection)
const sdks = new Map(); // base URL + key -> OpenAI client, kept too (its keep-alive connections)

function gatewayClient(target) {
  if (!gateways.has(target)) {
    gateways.set(target, new RunsService(target, grpc.credentials.createInsecure()));
  }
  return gateways.get(target);
}

function sdkClient(baseURL, apiKey) {
  const key = `${baseURL} ${apiKey}`;
  if (!sdks.has(key)) {
    sdks.set(key, new OpenAI({ apiKey, baseURL, maxRetries: 0 }));
  }
  return sdks.get(key);
}

function waitForReady(client) {
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + READY_DEADLINE_MS, (error) => (error ? reject(error) : resolve()));
  });
}

// Every run of the thread through the gateway: each stream message holds the runs of one upstream page.
async function readGateway(command, ids) {
  const client = gatewayClient(command.target);
  await waitForReady(client);
  const request = { thread_id: command.thread_id, limit: command.limit || 0, order: 'LIST_ORDER_ASC' };
  return timed(async () => {
    let messages = 0;
    const stream = client.ListRuns(request, { deadline: Date.now() + READ_DEADLINE_MS });
    for await (const message of stream) {
      messages += 1;
      for (const run of message.runs) {
        ids.push(run.id);
      }
    }
    return messages;
  });
}

// Every run of the thread through openai-node's auto-pagination (iterating the list follows the cursors).
async function readSdk(command, ids) {
  const client = sdkClient(command.base_url, command.api_key);
  const query = command.limit ? { limit: command.limit, order: 'asc' } : { order: 'asc' };
  return timed(async () => {
    const runs = client.beta.threads.runs.list(command.thread_id, query, { headers: SDK_HEADERS });
    for await (const run of runs) {
      ids.push(run.id);
    }
    return null;
  });
}

async function timed(read) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const messages = await read();
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { messages, elapsed_s: elapsed, cpu_s: (used.user + used.system) / 1e6 };
}

const READERS = { gateway: readGateway, sdk: readSdk };

async function handle(command) {
  const read = READERS[command.client];
  if (read === undefined) {
    throw new Error(`unknown client ${JSON.stringify(command.client)}`);
  }
  const ids = [];
  const measured = await read(command, ids);
  const answer = {
    items: ids.length,
    ...measured,
    ids_sha256: crypto.createHash('sha256').update(ids.join('\n')).digest('hex'),
    first_id: ids[0] ?? null,
    last_id: ids[ids.length - 1] ?? null,
  };
  const expected = command.expect;
  if (expected && (answer.items !== expected.items || answer.ids_sha256 !== expected.ids_sha256)) {
    throw new Error(
      `read ${answer.items} runs (${answer.first_id} ... ${answer.last_id}), not the ${expected.items} ` +
        `runs of thread ${command.thread_id}`,
    );
  }
  return answer;
}

function describe(error) {
  if (typeof error.code === 'number' && error.details !== undefined) {
    const name = Object.keys(grpc.status).find((key) => grpc.status[key] === error.code) ?? error.code;
    return `gRPC ${name}: ${error.details}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) {
      continue;
    }
    let answer;
    try {
      answer = await handle(JSON.parse(line));
    } catch (error) {
      answer = { error: describe(error) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
  for (const client of gateways.values()) {
    client.close();
  }
}

process.stdout.write(`${JSON.stringify({ ready: true, node: process.version })}\n`);
main().catch((error) => {
  process.stderr.write(`error: ${describe(error)}\n`);
  process.exitCode = 1;
});
