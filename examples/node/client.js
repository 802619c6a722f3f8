#!/usr/bin/env node
// A Node.js client of runs-gateway: drives a run through requires_action on each version of the service.
//
// It loads the project's own protos/ at run time with @grpc/proto-loader (no generated code), then:
// 1. Assistants v1 (runs_gateway.assistants.v1.RunsService): CreateRun; WatchRun, one server stream that
//    brings each change of the run until it ends, with SubmitToolOutputs for every required tool call (on a
//    call of its own) when a message shows REQUIRES_ACTION, reading on the same stream until it ends; and
//    ListRuns (server-streaming, every page). Each change of the run's status is printed on stderr.
// 2. Assistants v2 (runs_gateway.assistants.v2.RunsService), on an assistant and a thread of its own:
//    CreateRunStream, the run's server-sent events one message each, until the stream ends (after
//    thread.run.requires_action, here); SubmitToolOutputsStream with an output for every required tool
//    call, whose stream brings the rest of the run, the reply in thread.message.delta events, until it ends
//    (after thread.run.completed). Each event's name is printed on stdout as it arrives (`event NAME`), and
//    the text of the deltas as it comes, one after the other on one line, so the reply appears as written.
// Last on stdout, one JSON summary line of both runs. It exits 0 only if both runs completed; any gRPC or
// HTTP error is printed on stderr and exits 1.
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
//   ASSISTANT_ID, THREAD_ID   use these for the v1 run instead of creating an assistant and a thread
//   V2_ASSISTANT_ID, V2_THREAD_ID   the same for the streamed v2 run (else it creates its own, with
//                     `OpenAI-Beta: assistants=v2`): over a Responses upstream, an assistant of the gateway's
//                     --assistants file and a conversation
//   VERSIONS          which runs to make: `v1,v2` (default) or `v2` alone (a gateway over Responses serves v2)
//   LIST_PAGE_SIZE    ListRuns `limit`, the page size of each upstream request (default 0: upstream default)
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS = path.resolve(__dirname, '..', '..', 'protos');
const UNARY_DEADLINE_MS = 10_000;
const WATCH_DEADLINE_MS = 60_000;
const STREAM_DEADLINE_MS = 60_000; // each streamed call, from the request to the stream's end

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

// The client classes of both versions of RunsService, which the gateway serves on the same port.
function loadServices() {
  const files = ['v1', 'v2'].map((version) => `runs_gateway/assistants/${version}/runs_service.proto`);
  const definition = protoLoader.loadSync(files, {
    keepCase: true, // field names as in the protos and the REST API: thread_id, required_action ...
    longs: String, // int64 timestamps arrive as decimal strings
    enums: String, // RUN_STATUS_REQUIRES_ACTION, not 5
    defaults: true,
    oneofs: true, // a oneof's name holds the name of its field that is set: event.data === 'run'
    includeDirs: [PROTOS],
  });
  const { v1, v2 } = grpc.loadPackageDefinition(definition).runs_gateway.assistants;
  return { RunsServiceV1: v1.RunsService, RunsServiceV2: v2.RunsService };
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

async function rest(baseUrl, apiKey, version, route, body) {
  const response = await fetch(`${baseUrl}${route}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'OpenAI-Beta': `assistants=${version}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`POST ${route}: HTTP ${response.status} ${await response.text()}`);
  }
  return response.json();
}

// An assistant with the weather tool and an empty thread, created over REST in the given API version.
async function createAssistantAndThread(env, version, model) {
  const baseUrl = (env.OPENAI_BASE_URL || 'http://127.0.0.1:8080/v1').replace(/\/$/, '');
  const apiKey = env.OPENAI_API_KEY || 'sk-emulator';
  const assistant = await rest(baseUrl, apiKey, version, '/assistants', { model, tools: [WEATHER_TOOL] });
  const thread = await rest(baseUrl, apiKey, version, '/threads', {});
  return { assistantId: assistant.id, threadId: thread.id };
}

async function assistantAndThread(env) {
  if (env.ASSISTANT_ID && env.THREAD_ID) {
    return { assistantId: env.ASSISTANT_ID, threadId: env.THREAD_ID };
  }
  return createAssistantAndThread(env, 'v1', 'gpt-4');
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

function toolOutputs(toolCalls) {
  return toolCalls.map((toolCall) => ({ tool_call_id: toolCall.id, output: answer(toolCall) }));
}

// Prints a streamed run on stdout as it arrives: `event NAME` on a line of its own for each event, except
// that a message's text deltas share one line, `event thread.message.delta: ` and then each delta's text as
// it comes (the reply appears as it is written), ended by the number of deltas once another event arrives.
function streamPrinter(out = process.stdout) {
  let deltas = 0;
  const endReply = () => {
    if (deltas > 0) {
      out.write(` (${deltas} deltas)\n`);
      deltas = 0;
    }
  };
  return {
    event(name) {
      endReply();
      out.write(`event ${name}\n`);
    },
    delta(name, text) {
      out.write(deltas === 0 ? `event ${name}: ${text}` : text);
      deltas += 1;
    },
    line(text) {
      endReply();
      out.write(`${text}\n`);
    },
  };
}

// The text a thread.message.delta event adds to the message: its text parts, in order.
function deltaText(event) {
  const parts = event.message_delta.delta.content;
  return parts.map((part) => (part.part === 'text' ? part.text.value : '')).join('');
}

// Reads one stream of a run's events to its end (the gateway ends it OK after the upstream's `done`, or with
// the status of what stopped it), printing each event and recording its name, and the text of the deltas,
// in `seen`. Returns the run as the last event that carried it showed it.
async function readEvents(stream, seen, printer) {
  let run = null;
  try {
    for await (const event of stream) {
      seen.events.push(event.event);
      if (event.data === 'message_delta') {
        const text = deltaText(event);
        seen.text += text;
        printer.delta(event.event, text);
        continue;
      }
      printer.event(event.event);
      if (event.data === 'run') {
        ({ run } = event);
      }
    }
  } finally {
    stream.cancel(); // nothing once the stream has ended; otherwise (an error above) it stops the call
  }
  return run;
}

// Creates a run on v2 and streams its events to the end: each time a stream ends with the run requiring
// action, SubmitToolOutputsStream answers every tool call it requires and streams what follows. Returns the
// run as it ended, with every event's name in order, the reply's text and the tool calls answered.
async function streamRun(client, { assistantId, threadId }, metadata, printer) {
  const seen = { events: [], text: '', toolCalls: [] };
  const request = { thread_id: threadId, assistant_id: assistantId };
  let stream = client.CreateRunStream(request, metadata, deadline(STREAM_DEADLINE_MS));
  for (;;) {
    const run = await readEvents(stream, seen, printer);
    if (run === null) {
      throw new Error('the run stream ended without the run');
    }
    if (run.status !== 'RUN_STATUS_REQUIRES_ACTION') {
      return { run, ...seen };
    }
    const required = requiredCalls(run);
    if (required.some((toolCall) => seen.toolCalls.some((answered) => answered.id === toolCall.id))) {
      throw new Error(`run ${run.id} requires tool calls it was given the outputs of`);
    }
    const tool_outputs = toolOutputs(required);
    required.forEach((toolCall, i) =>
      printer.line(`submit ${toolCall.id} ${toolCall.function.name} -> ${tool_outputs[i].output}`),
    );
    seen.toolCalls.push(...required);
    const submitRequest = { thread_id: run.thread_id, run_id: run.id, tool_outputs };
    stream = client.SubmitToolOutputsStream(submitRequest, metadata, deadline(STREAM_DEADLINE_MS));
  }
}

function toolCallSummary(toolCalls) {
  return toolCalls.map((toolCall) => ({ id: toolCall.id, name: toolCall.function.name }));
}

// The v1 run, followed over one WatchRun and answered on calls of their own, then the thread's runs listed.
async function watchedRun(client, env, metadata) {
  const { assistantId, threadId } = await assistantAndThread(env);
  const createRequest = { thread_id: threadId, assistant_id: assistantId };
  let { run } = await call(client, 'CreateRun', createRequest, metadata);
  const statuses = [run.status];
  process.stderr.write(`run ${run.id} ${run.status}\n`);
  const toolCalls = [];
  run = await watchRun(client, run, metadata, statuses, async (waiting) => {
    const required = requiredCalls(waiting);
    const tool_outputs = toolOutputs(required);
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
  return {
    assistant_id: assistantId,
    thread_id: threadId,
    run_id: run.id,
    statuses,
    final_status: run.status,
    tool_calls: toolCallSummary(toolCalls),
    listed: listed.length,
    listed_ids: listed.map((r) => r.id),
  };
}

async function main(argv, env) {
  const address = argv[2] || env.GATEWAY_ADDR || '127.0.0.1:50051';
  const { RunsServiceV1, RunsServiceV2 } = loadServices();
  const client = new RunsServiceV1(address, grpc.credentials.createInsecure());
  const clientV2 = new RunsServiceV2(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (env.OPENAI_API_KEY) {
    metadata.set('authorization', `Bearer ${env.OPENAI_API_KEY}`);
  }
  try {
    const versions = (env.VERSIONS || 'v1,v2').split(',');
    const summary = versions.includes('v1') ? await watchedRun(client, env, metadata) : {};
    const printer = streamPrinter();
    const streamIds =
      env.V2_ASSISTANT_ID && env.V2_THREAD_ID
        ? { assistantId: env.V2_ASSISTANT_ID, threadId: env.V2_THREAD_ID }
        : await createAssistantAndThread(env, 'v2', 'gpt-4o');
    const streamed = await streamRun(clientV2, streamIds, metadata, printer);
    printer.line(`run ${streamed.run.id} ${streamed.run.status}`);
    summary.stream = {
      assistant_id: streamIds.assistantId,
      thread_id: streamIds.threadId,
      run_id: streamed.run.id,
      events: streamed.events,
      text: streamed.text,
      final_status: streamed.run.status,
      tool_calls: toolCallSummary(streamed.toolCalls),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    const runs = [{ id: summary.run_id, status: summary.final_status }, streamed.run];
    const unfinished = runs.filter((r) => r.id !== undefined && r.status !== 'RUN_STATUS_COMPLETED');
    unfinished.forEach((r) => process.stderr.write(`error: run ${r.id} ended ${r.status}\n`));
    return unfinished.length === 0 ? 0 : 1;
  } finally {
    client.close();
    clientV2.close();
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
