'use strict';
// lamina's Node.js runtime client: loads the handler, then loops on the Runtime API 2018-06-01.
//
// Installed at /var/runtime/runtime.js and started by /var/runtime/bootstrap. Node's standard library only.
// Behaves like AWS's nodejs runtime: handler `file.export` (also `dir/file.export` and nested
// `file.obj.fn`), loaded at init (failures go to /runtime/init/error, then the process exits), callback,
// async and Promise styles, context.done/succeed/fail, errors reported as {errorType, errorMessage, trace}
// (AWS's Node field name), console output prefixed with time, request id and level.

const net = require('net');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { Writable } = require('stream');
const { pathToFileURL } = require('url');

const API = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const HOST = API.slice(0, API.lastIndexOf(':'));
const PORT = Number(API.slice(API.lastIndexOf(':') + 1));
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const PREFIX = '/2018-06-01/runtime';

let currentRequestId;
let currentInvocation = null; // { requestId, settled }

// ------------------------------------------------------------------ logging

// LoggingConfig JSON (AWS_LAMBDA_LOG_FORMAT): one JSON record per call, as AWS's runtime writes them, and
// the calls under AWS_LAMBDA_LOG_LEVEL dropped.
const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };

function jsonRecord(level, args) {
  const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId };
  const [first] = args;
  if (args.length === 1 && first instanceof Error) {
    record.message = first.message;
    record.errorType = first.name;
    record.errorMessage = first.message;
    record.stackTrace = String(first.stack || '').split('\n');
  } else {
    record.message = util.format(...args);
  }
  try {
    return JSON.stringify(record);
  } catch (err) {
    return JSON.stringify({ ...record, message: String(record.message) });
  }
}

function patchConsole() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
  const threshold = json ? (LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase()] ?? 2) : 0;
  const make = (level) => {
    if (LEVELS[level] < threshold) return () => {};
    if (json) return (...args) => process.stdout.write(`${jsonRecord(level, args)}\n`);
    return (...args) => {
      const message = util.format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${message}\n`);
    };
  };
  console.log = make('INFO');
  console.info = make('INFO');
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.debug = make('DEBUG');
  console.trace = make('TRACE');
  console.fatal = make('FATAL');
}

// ------------------------------------------------------------------ Runtime API client

// One kept-alive connection, written and parsed here: Node's http module costs several times the CPU per
// call, and at 128 MB every call spends the function's share (the agent always sends Content-Length).
class RuntimeConnection {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.sock = null;
    this.buf = null;
    this.pending = null;
  }

  open() {
    const sock = net.createConnection({ host: this.host, port: this.port });
    sock.setNoDelay(true);
    sock.on('data', (data) => this.onData(sock, data));
    sock.on('error', (err) => this.drop(sock, err));
    sock.on('close', () => this.drop(sock, new Error('Runtime API connection closed')));
    this.sock = sock;
    this.buf = null;
    return sock;
  }

  drop(sock, err) {
    if (this.sock !== sock) return;
    this.sock = null;
    const pending = this.pending;
    this.pending = null;
    if (pending) pending.reject(err);
  }

  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const sock = this.sock || this.open();
      this.pending = { resolve, reject };
      let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
      if (headers) for (const name of Object.keys(headers)) head += `${name}: ${headers[name]}\r\n`;
      const payload = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      head += `Content-Length: ${payload ? payload.length : 0}\r\n\r\n`;
      sock.ref(); // a call in flight keeps the process alive; an idle connection does not
      if (payload) sock.write(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
      else sock.write(head, 'latin1');
    });
  }

  onData(sock, data) {
    this.buf = this.buf ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.toString('latin1', 0, end).split('\r\n');
      const headers = {};
      for (let i = 1; i < lines.length; i += 1) {
        const colon = lines[i].indexOf(':');
        if (colon > 0) headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] || 0);
      if (this.buf.length < end + 4 + length) return;
      const body = this.buf.subarray(end + 4, end + 4 + length);
      this.buf = this.buf.length > end + 4 + length ? this.buf.subarray(end + 4 + length) : null;
      const pending = this.pending;
      this.pending = null;
      sock.unref();
      if (headers.connection === 'close') {
        this.sock = null;
        sock.destroy();
      }
      if (pending) pending.resolve({ status: Number(lines[0].split(' ')[1]), headers, body });
      if (!this.buf) return;
    }
  }
}

const runtimeApi = new RuntimeConnection(HOST, PORT);

function request(method, urlPath, body, headers) {
  return runtimeApi.request(method, urlPath, body, headers);
}

// ------------------------------------------------------------------ response streaming

// AWS's globals for streaming handlers: awslambda.streamifyResponse(handler) and
// awslambda.HttpResponseStream.from(stream, {statusCode, headers, cookies}) (a function URL's status and
// headers, then 8 NUL bytes, then the body). The stream is collected and posted once the handler has ended
// it (lamina's agent takes one response per invocation); clients get it as Lambda's event stream.
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

class ResponseStream extends Writable {
  constructor() {
    super();
    this.chunks = [];
    this.contentType = 'application/octet-stream';
  }

  _write(chunk, encoding, done) {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
    done();
  }

  setContentType(value) {
    this.contentType = String(value);
  }

  body() {
    return Buffer.concat(this.chunks);
  }
}

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = true;
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION);
      stream.write(JSON.stringify(prelude || {}));
      stream.write(Buffer.alloc(8));
      return stream;
    },
  },
};

async function runStreamingHandler(handler, event, headers) {
  const stream = new ResponseStream();
  const ended = new Promise((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  const context = makeContext(headers, () => {});
  const ret = await handler(event, stream, context);
  if (!stream.writableEnded) {
    // The handler returned without ending the stream: what it returned is the rest of it (AWS's rule).
    if (ret !== undefined && ret !== null) stream.write(typeof ret === 'string' ? ret : JSON.stringify(ret));
    stream.end();
  }
  await ended;
  return stream;
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
  if (process.env.AWS_LAMBDA_LOG_FORMAT !== 'JSON') {
    console.error(label, JSON.stringify(doc));
    return;
  }
  const threshold = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase()] ?? 2;
  if (LEVELS.ERROR < threshold) return;
  process.stdout.write(`${JSON.stringify({
    timestamp: new Date().toISOString(), level: 'ERROR', requestId: currentRequestId, message: label,
    errorType: doc.errorType, errorMessage: doc.errorMessage, stackTrace: doc.trace,
  })}\n`);
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
    tenantId: headers['lambda-runtime-aws-tenant-id'],
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
    if (handler[STREAMING]) {
      const stream = await runStreamingHandler(handler, event, headers);
      if (invocation.settled) return;
      invocation.settled = true;
      await request('POST', `${PREFIX}/invocation/${requestId}/response`, stream.body(), {
        'Content-Type': stream.contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
      });
      return;
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
