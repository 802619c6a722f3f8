#!/usr/bin/env node
// A Node.js client of runs-gateway: drives one run through requires_action over gRPC and lists the thread.
//
// It loads the project's own protos/ at run time with @grpc/proto-loader (no generated code), then:
// CreateRun; WatchRun, one server stream that brings each change of the run until it ends, with
// SubmitToolOutputs for every required tool call (on a call of its own) when a message shows
// REQUIRES_ACTION, reading on the same stream until it ends; and ListRuns (server-streaming, every page).
// Each change of the run's status is printed on stderr as it arrives; one JSON summary line goes to stdout.
// It exits 0 only if the run completed; any gRPC or HTTP error is printed on stderr and exits 1.
//
//   node client.js [GATEWAY_ADDR]
//
// Environment:
//   GATEWAY_ADDR      the gateway, host:port (default 127.0.0.1:50051; the first argument wins)
//   OPENAI_BASE_URL   the REST API, used only to create an assistant and a thread (the gateway fronts runs
//                     only); default http://127.0.0.1:8080/v1, the emulator of `make emulator`
//   OPENAI_API_KEY    sent as the REST Authorization header and as gRPC `authorization` metadata, which the
//                     gateway forwards upstream; unset, the gateway's own key is used (default for REST:
//                     sk-emulator)
//   ASSISTANT_ID, THREAD_ID   use these instead of creating an assistant and a thread
//   LIST_PAGE_SIZE    ListRuns `limit`, the page size of each upstream request (default 0: upstream default)
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS = path.resolve(__dirname, '..', '..', 'protos');
const UNARY_DEADLINE_MS = 10_000;
const WATCH_DEADLINE_MS = 60_000;

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

function loadService() {
  const definition = protoLoader.loadSync('runs_gateway/assistants/v1/runs_service.proto', {
    keepCase: true, // field names as in the protos and the REST API: thread_id, required_action ...
    longs: String, // int64 timestamps arrive as decimal strings
    enums: String, // RUN_STATUS_REQUIRES_ACTION, not 5
    defaults: true,
    oneofs: true,
    includeDirs: [PROTOS],
  });
  return grpc.loadPackageDefinition(definition).runs_gateway.assistants.v1.RunsService;
}

function deadline(ms = UNARY_DEADLINE_MS) {
  return { deadline: Date.now() + ms };
}

// Promisified unary call: resolves with the response, rejects with the grpc-js ServiceError.
function call(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, deadline(), (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

// Every run of the thread: one stream message per page of runs, the gateway follows the page cursors.
async function listRuns(client, request, metadata) {
  const runs = [];
  for await (const page of client.ListRuns(request, metadata, deadline(60_000))) {
    runs.push(...page.runs);
  }
  return runs;
}

async function rest(baseUrl, apiKey, route, body) {
  const response = await fetch(`${baseUrl}${route}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'OpenAI-Beta': 'assistants=v1',
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`POST ${route}: HTTP ${response.status} ${await response.text()}`);
  }
  return response.json();
}

async function assistantAndThread(env) {
  if (env.ASSISTANT_ID && env.THREAD_ID) {
    return { assistantId: env.ASSISTANT_ID, threadId: env.THREAD_ID };
  }
  const baseUrl = (env.OPENAI_BASE_URL || 'http://127.0.0.1:8080/v1').replace(/\/$/, '');
  const apiKey = env.OPENAI_API_KEY || 'sk-emulator';
  const assistant = await rest(baseUrl, apiKey, '/assistants', { model: 'gpt-4', tools: [WEATHER_TOOL] });
  const thread = await rest(baseUrl, apiKey, '/threads', {});
  return { assistantId: assistant.id, threadId: thread.id };
}

function answer(toolCall) {
  const args = JSON.parse(toolCall.function.arguments || '{}');
  return JSON.stringify({ city: args.city ?? null, forecast: 'sunny', celsius: 21 });
}

// Follows the run over one WatchRun stream until it ends (the gateway polls the run for every watcher, and
// the stream ends OK after the run's final state, or with the status of what stopped it). Records each change
// of status; `onRequiresAction(run)` is awaited for each new set of tool calls the run requires, while the
// stream stays open. Returns the run as it ended.
async function watchRun(client, run, metadata, statuses, onRequiresAction) {
  const request = { thread_id: run.thread_id, run_id: run.id };
  const stream = client.WatchRun(request, metadata, deadline(WATCH_DEADLINE_MS));
  const answered = new Set();
  try {
    for await (const message of stream) {
      if (message.change !== 'run') {
        continue; // a step (with include_steps): not asked for here
      }
      ({ run } = message);
      if (run.status !== statuses.at(-1)) {
        statuses.push(run.status);
        process.stderr.write(`run ${run.id} ${run.status}\n`);
      }
      const toolCalls = run.status === 'RUN_STATUS_REQUIRES_ACTION' ? requiredCalls(run) : [];
      if (toolCalls.some((toolCall) => !answered.has(toolCall.id))) {
        toolCalls.forEach((toolCall) => answered.add(toolCall.id));
        await onRequiresAction(run);
      }
    }
  } finally {
    stream.cancel(); // nothing once the stream has ended; otherwise (an error above) it stops the watch
  }
  return run;
}

function requiredCalls(run) {
  return run.required_action.submit_tool_outputs.tool_calls;
}

async function main(argv, env) {
  const address = argv[2] || env.GATEWAY_ADDR || '127.0.0.1:50051';
  const RunsService = loadService();
  const client = new RunsService(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (env.OPENAI_API_KEY) {
    metadata.set('authorization', `Bearer ${env.OPENAI_API_KEY}`);
  }
  try {
    const { assistantId, threadId } = await assistantAndThread(env);
    const createRequest = { thread_id: threadId, assistant_id: assistantId };
    let { run } = await call(client, 'CreateRun', createRequest, metadata);
    const statuses = [run.status];
    process.stderr.write(`run ${run.id} ${run.status}\n`);
    const toolCalls = [];
    run = await watchRun(client, run, metadata, statuses, async (waiting) => {
      const required = requiredCalls(waiting);
      const tool_outputs = required.map((toolCall) => ({
        tool_call_id: toolCall.id,
        output: answer(toolCall),
      }));
      const submitRequest = { thread_id: threadId, run_id: waiting.id, tool_outputs };
      await call(client, 'SubmitToolOutputs', submitRequest, metadata);
      toolCalls.push(...required);
    });
    if (toolCalls.length === 0) {
      throw new Error(`run ${run.id} ended ${run.status} without requiring action`);
    }
    const listed = await listRuns(
      client,
      { thread_id: threadId, limit: Number(env.LIST_PAGE_SIZE || 0), order: 'LIST_ORDER_ASC' },
      metadata,
    );
    const summary = {
      assistant_id: assistantId,
      thread_id: threadId,
      run_id: run.id,
      statuses,
      final_status: run.status,
      tool_calls: toolCalls.map((toolCall) => ({ id: toolCall.id, name: toolCall.function.name })),
      listed: listed.length,
      listed_ids: listed.map((r) => r.id),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    if (run.status !== 'RUN_STATUS_COMPLETED') {
      process.stderr.write(`error: run ${run.id} ended ${run.status}\n`);
      return 1;
    }
    return 0;
  } finally {
    client.close();
  }
}

function describe(error) {
  if (typeof error.code === 'number' && error.details !== undefined) {
    const name = Object.keys(grpc.status).find((key) => grpc.status[key] === error.code) ?? error.code;
    return `gRPC ${name}: ${error.details}`;
  }
  const cause = error instanceof Error && error.cause ? ` (${error.cause.message ?? error.cause})` : '';
  return `${error instanceof Error ? error.message : String(error)}${cause}`;
}

main(process.argv, process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`error: ${describe(error)}\n`);
    process.exitCode = 1;
  },
);
