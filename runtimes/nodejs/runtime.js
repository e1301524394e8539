'use strict';
// lamina's Node.js runtime client: loads the handler, then loops on the Runtime API 2018-06-01.
//
// Installed at /var/runtime/runtime.js and started by /var/runtime/bootstrap. Node's standard library only.
// Behaves like AWS's nodejs runtime: handler `file.export` (also `dir/file.export` and nested
// `file.obj.fn`), loaded at init (failures go to /runtime/init/error, then the process exits), callback,
// async and Promise styles, context.done/succeed/fail, errors reported as {errorType, errorMessage, trace}
// (AWS's Node field name), console output prefixed with time, request id and level.

const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const HOST = API.slice(0, API.lastIndexOf(':'));
const PORT = Number(API.slice(API.lastIndexOf(':') + 1));
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const PREFIX = '/2018-06-01/runtime';
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

let currentRequestId;
let currentInvocation = null; // { requestId, settled }

// ------------------------------------------------------------------ logging

function patchConsole() {
  const make = (level) => (...args) => {
    const message = util.format(...args).replace(/\n/g, '\r');
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${message}\n`);
  };
  console.log = make('INFO');
  console.info = make('INFO');
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.debug = make('DEBUG');
  console.trace = make('TRACE');
}

// ------------------------------------------------------------------ Runtime API client

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const hdrs = Object.assign({}, headers || {});
    if (body !== undefined) hdrs['Content-Length'] = Buffer.byteLength(body);
    const req = http.request(
      { host: HOST, port: PORT, method, path: urlPath, agent: httpAgent, headers: hdrs },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setNoDelay(true);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

// ------------------------------------------------------------------ errors

class FaultError extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.name = errorType;
    this.errorType = errorType;
    if (cause && cause.stack) this.stack = cause.stack;
  }
}

function errorDocument(err) {
  if (err instanceof Error) {
    const name = err.errorType || err.name || (err.constructor && err.constructor.name) || 'Error';
    const stack = typeof err.stack === 'string' ? err.stack.split('\n') : [];
    return { errorType: name, errorMessage: err.message, trace: stack };
  }
  if (typeof err === 'string') return { errorType: 'string', errorMessage: err, trace: [] };
  let message;
  try {
    message = JSON.stringify(err);
  } catch (_) {
    message = String(err);
  }
  return { errorType: typeof err, errorMessage: message, trace: [] };
}

function logError(label, doc) {
  console.error(label, JSON.stringify(doc));
}

// ------------------------------------------------------------------ handler loading

function splitHandler(handler) {
  const slash = handler.lastIndexOf('/');
  const dir = handler.slice(0, slash + 1);
  const rest = handler.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (!handler || dot < 1 || dot === rest.length - 1) {
    throw new FaultError('Runtime.MalformedHandlerName', `Bad handler ${handler}`);
  }
  return [dir + rest.slice(0, dot), rest.slice(dot + 1)];
}

async function loadModule(moduleBase) {
  const full = path.resolve(TASK_ROOT, moduleBase);
  const importFile = (file) => import(pathToFileURL(file).href);
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const file = full + ext;
    if (!fs.existsSync(file)) continue;
    if (ext === '.mjs') return importFile(file);
    try {
      return require(file);
    } catch (err) {
      if (err && err.code === 'ERR_REQUIRE_ESM') return importFile(file);
      throw err;
    }
  }
  // A package directory (index.js / package.json "main").
  if (fs.existsSync(full)) return require(full);
  throw new FaultError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleBase}'`);
}

async function loadHandler(handler) {
  const [moduleBase, handlerPath] = splitHandler(handler || '');
  let mod;
  try {
    mod = await loadModule(moduleBase);
  } catch (err) {
    if (err instanceof FaultError) throw err;
    if (err instanceof SyntaxError) throw new FaultError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new FaultError('Runtime.ImportModuleError', `Error: ${err.message}`, err);
    }
    throw err;
  }
  let fn = mod;
  for (const part of handlerPath.split('.')) {
    fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== 'function' && mod && mod.default && typeof mod.default === 'object') {
    fn = mod.default;
    for (const part of handlerPath.split('.')) fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== 'function') {
    throw new FaultError('Runtime.HandlerNotFound', `${moduleBase}.${handlerPath} is undefined or not exported`);
  }
  return fn;
}

// ------------------------------------------------------------------ invocation

function parseJsonHeader(value, name) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new FaultError('Runtime.LambdaContextUnmarshalError', `Unable to parse ${name} JSON: ${err.message}`);
  }
}

function makeContext(headers, settle) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const context = {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'Client Context'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'Cognito Identity'),
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: (err, result) => settle(err, result),
    succeed: (result) => settle(null, result),
    fail: (err) => settle(err === undefined || err === null ? 'handled' : err),
  };
  return context;
}

function runHandler(handler, event, headers) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onEmptyLoop = () => settle(null, null);
    function settle(err, result) {
      if (settled) return;
      settled = true;
      process.removeListener('beforeExit', onEmptyLoop);
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    }
    let context;
    try {
      context = makeContext(headers, settle);
    } catch (err) {
      settle(err);
      return;
    }
    // Neither a promise nor a callback call: like AWS, answer null once the event loop is empty
    // (the keep-alive socket to the Runtime API is unref'd while idle, so it does not count).
    process.on('beforeExit', onEmptyLoop);
    let ret;
    try {
      ret = handler(event, context, settle);
    } catch (err) {
      settle(err);
      return;
    }
    if (ret && typeof ret.then === 'function') {
      ret.then(
        (value) => settle(null, value),
        (err) => settle(err === undefined || err === null ? new Error(String(err)) : err),
      );
    }
  });
}

async function postError(requestId, err) {
  const doc = errorDocument(err);
  logError('Invoke Error', doc);
  await request('POST', `${PREFIX}/invocation/${requestId}/error`, JSON.stringify(doc), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': doc.errorType,
  });
}

async function handleOne(handler, next) {
  const headers = next.headers;
  const requestId = headers['lambda-runtime-aws-request-id'];
  currentRequestId = requestId;
  const invocation = { requestId, settled: false };
  currentInvocation = invocation;
  if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  else delete process.env._X_AMZN_TRACE_ID;
  let result;
  try {
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8'));
    } catch (err) {
      throw new FaultError('Runtime.UnmarshalError', `Unable to unmarshal input: ${err.message}`);
    }
    const value = await runHandler(handler, event, headers);
    try {
      result = JSON.stringify(value === undefined ? null : value);
      if (result === undefined) result = 'null';
    } catch (err) {
      throw new FaultError('Runtime.MarshalError', `Unable to stringify response body: ${err.message}`);
    }
  } catch (err) {
    if (invocation.settled) return;
    invocation.settled = true;
    await postError(requestId, err);
    return;
  }
  if (invocation.settled) return;
  invocation.settled = true;
  const res = await request('POST', `${PREFIX}/invocation/${requestId}/response`, result, {
    'Content-Type': 'application/json',
  });
  if (res.status >= 300) {
    console.error(`Failed to post handler success response. Http response code: ${res.status}. ${res.body}`);
  }
}

async function onFatal(label, err) {
  // An uncaught exception or unhandled rejection: report it on the current invocation, then exit (as AWS does).
  const doc = errorDocument(err);
  logError(label, doc);
  const invocation = currentInvocation;
  if (invocation && !invocation.settled) {
    invocation.settled = true;
    try {
      await request('POST', `${PREFIX}/invocation/${invocation.requestId}/error`, JSON.stringify(doc), {
        'Content-Type': 'application/json',
        'Lambda-Runtime-Function-Error-Type': doc.errorType,
      });
    } catch (_) {
      // the agent reports the exit
    }
  }
  process.exit(129);
}

async function main() {
  patchConsole();
  process.on('uncaughtException', (err) => onFatal('Uncaught Exception', err));
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    err.errorType = 'Runtime.UnhandledPromiseRejection';
    onFatal('Unhandled Promise Rejection', err);
  });
  let handler;
  try {
    handler = await loadHandler(process.argv[2] || process.env._HANDLER);
  } catch (err) {
    const doc = errorDocument(err);
    logError('Init Error', doc);
    await request('POST', `${PREFIX}/init/error`, JSON.stringify(doc), {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Function-Error-Type': doc.errorType,
    });
    process.exit(129);
  }
  for (;;) {
    const next = await request('GET', `${PREFIX}/invocation/next`);
    if (next.status !== 200) {
      console.error(`Runtime API /next answered ${next.status}: ${next.body}`);
      process.exit(1);
    }
    await handleOne(handler, next);
  }
}

main();
