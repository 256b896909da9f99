// stepsim's bootstrap for nodejs functions: the client side of the Lambda Runtime API, with
// node's standard library only. stepsim writes this file to a temporary folder and runs
// `node bootstrap.mjs` with the variables Lambda sets (AWS_LAMBDA_RUNTIME_API, _HANDLER,
// LAMBDA_TASK_ROOT, ...). It loads the handler once (ESM .mjs, CommonJS .js/.cjs, or .js under
// "type": "module"), then loops: GET next, call the handler (async, or callback style when it
// takes three arguments), POST the response or the error.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const PREFIX = '/2018-06-01/runtime';
// stepsim reads this line to know that the handler's output of one invocation is complete.
const SENTINEL = '\x1estepsim:end:';
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: HOST, port: Number(PORT), path: PREFIX + p, method, agent,
        headers: data ? { ...headers, 'Content-Length': data.length } : headers,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const errorType = e.errorType || e.name || e.constructor?.name || 'Error';
  return JSON.stringify({
    errorType,
    errorMessage: e.message ?? String(err),
    // Paths as Lambda shows them (/var/task/...), so traces do not depend on the host folder.
    stackTrace: typeof e.stack === 'string'
      ? e.stack.split('\n').map((l) => l.split(TASK_ROOT).join('/var/task'))
      : [],
  });
}

function flushOutput(requestId) {
  process.stdout.write(SENTINEL + requestId + '\n');
}

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.errorType = type;
    this.name = type;
  }
}

async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const spec = process.env._HANDLER || '';
  const slash = spec.lastIndexOf('/') + 1;
  const dot = spec.indexOf('.', slash);
  if (dot < 0) throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  const modPath = spec.slice(0, dot);
  const fnPath = spec.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs']
    .map((ext) => path.resolve(root, modPath + ext))
    .find((f) => fs.existsSync(f));
  if (!file) {
    throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${modPath}'`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    }
    throw e;
  }
  const lookup = (obj) => fnPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const fn = lookup(mod) ?? lookup(mod.default);
  if (typeof fn !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${modPath}.${fnPath} is undefined or not exported`);
  }
  return fn;
}

function context(requestId, deadlineMs, arn) {
  const env = process.env;
  return {
    awsRequestId: requestId,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    invokedFunctionArn: arn,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
}

function call(fn, event, ctx) {
  if (fn.length >= 3) {
    // Callback style: the first of the callback and a returned promise wins.
    return new Promise((resolve, reject) => {
      const callback = (err, data) => (err ? reject(err) : resolve(data));
      try {
        const r = fn(event, ctx, callback);
        if (r && typeof r.then === 'function') r.then(resolve, reject);
      } catch (e) {
        reject(e);
      }
    });
  }
  return Promise.resolve().then(() => fn(event, ctx));
}

async function main() {
  let fn;
  try {
    fn = await loadHandler();
  } catch (e) {
    flushOutput('init');
    const body = errorBody(e);
    await request('POST', '/init/error', body, {
      'Lambda-Runtime-Function-Error-Type': JSON.parse(body).errorType,
    });
    process.exit(1);
  }
  for (;;) {
    const next = await request('GET', '/invocation/next');
    const requestId = next.headers['lambda-runtime-aws-request-id'] || '';
    const deadline = Number(next.headers['lambda-runtime-deadline-ms'] || 0);
    const arn = next.headers['lambda-runtime-invoked-function-arn'] || '';
    if (next.headers['lambda-runtime-trace-id']) {
      process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    }
    let result;
    try {
      const event = next.body.length ? JSON.parse(next.body.toString('utf8')) : null;
      result = await call(fn, event, context(requestId, deadline, arn));
    } catch (e) {
      flushOutput(requestId);
      await request('POST', `/invocation/${requestId}/error`, errorBody(e), {
        'Lambda-Runtime-Function-Error-Type': 'Unhandled',
      });
      continue;
    }
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      flushOutput(requestId);
      const err = new RuntimeError('Runtime.MarshalError', `Unable to stringify response body: ${e.message}`);
      await request('POST', `/invocation/${requestId}/error`, errorBody(err), {
        'Lambda-Runtime-Function-Error-Type': 'Runtime.MarshalError',
      });
      continue;
    }
    flushOutput(requestId);
    await request('POST', `/invocation/${requestId}/response`, body, {
      'Content-Type': 'application/json',
    });
  }
}

main().catch((e) => {
  process.stderr.write(`stepsim bootstrap: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
