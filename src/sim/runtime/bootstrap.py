# stepsim's bootstrap for python3.x functions: the client side of the Lambda Runtime API,
# standard library only. stepsim writes this file to a temporary folder and runs
# `python3 bootstrap.py` with the variables Lambda sets (AWS_LAMBDA_RUNTIME_API, _HANDLER,
# LAMBDA_TASK_ROOT, ...). It imports the handler module once (module state survives across
# warm invocations, as on Lambda), then loops: GET next, call the handler, POST the response
# or the error. Errors have Lambda's shape: {errorType, errorMessage, stackTrace}.
import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime"
# stepsim reads this line to know that the handler's output of one invocation is complete.
SENTINEL = "\x1estepsim:end:"

_conn = None


def _request(method, path, body=None, headers=None):
    """One request on the kept-alive connection (reconnecting once if the server closed it)."""
    global _conn
    for attempt in (0, 1):
        if _conn is None:
            host, port = API.rsplit(":", 1)
            _conn = http.client.HTTPConnection(host, int(port))
        try:
            _conn.request(method, PREFIX + path, body=body, headers=headers or {})
            resp = _conn.getresponse()
            data = resp.read()
            return resp, data
        except (ConnectionError, http.client.HTTPException):
            _conn.close()
            _conn = None
            if attempt:
                raise


TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())


def _error_body(error_type, message, tb=None, skip=0):
    frames = traceback.extract_tb(tb)[skip:] if tb is not None else []
    # Paths as Lambda shows them (/var/task/...), so traces do not depend on the host folder.
    lines = [l.replace(TASK_ROOT, "/var/task") for l in traceback.format_list(frames)]
    return json.dumps({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "",
        "stackTrace": lines,
    }).encode()


def _flush_output(request_id):
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write(SENTINEL + request_id + "\n")
    sys.stdout.flush()


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _load_handler():
    """The handler function, or (error_type, message, traceback) as Lambda's python runtime
    reports an init failure."""
    spec = os.environ.get("_HANDLER", "")
    if "." not in spec:
        return None, ("Runtime.MalformedHandlerName",
                      "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % spec, None)
    modname, fname = spec.rsplit(".", 1)
    modname = modname.replace("/", ".")
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        return None, ("Runtime.ImportModuleError",
                      "Unable to import module '%s': %s" % (modname, e), None)
    except SyntaxError as e:
        return None, ("Runtime.UserCodeSyntaxError",
                      "Syntax error in module '%s': %s" % (modname, e), None)
    except Exception as e:  # an exception raised while the module initialises
        return None, (type(e).__name__, str(e), e.__traceback__)
    fn = getattr(module, fname, None)
    if fn is None:
        return None, ("Runtime.HandlerNotFound",
                      "Handler '%s' missing on module '%s'" % (fname, modname), None)
    return fn, None


def main():
    sys.path.insert(0, TASK_ROOT)
    handler, init_error = _load_handler()
    if init_error is not None:
        error_type, message, tb = init_error
        _flush_output("init")
        _request("POST", "/init/error", _error_body(error_type, message, tb),
                 {"Lambda-Runtime-Function-Error-Type": error_type})
        sys.exit(1)
    while True:
        resp, data = _request("GET", "/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id", "")
        deadline_ms = int(resp.getheader("Lambda-Runtime-Deadline-Ms", "0") or 0)
        arn = resp.getheader("Lambda-Runtime-Invoked-Function-Arn", "")
        trace = resp.getheader("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        try:
            event = json.loads(data) if data else None
            result = handler(event, LambdaContext(request_id, deadline_ms, arn))
        except Exception as e:  # the handler raised: Lambda reports the exception's class
            body = _error_body(type(e).__name__, str(e), e.__traceback__, skip=1)
            _flush_output(request_id)
            _request("POST", "/invocation/%s/error" % request_id, body,
                     {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            _flush_output(request_id)
            _request("POST", "/invocation/%s/error" % request_id,
                     _error_body("Runtime.MarshalError", "Unable to marshal response: %s" % e),
                     {"Lambda-Runtime-Function-Error-Type": "Runtime.MarshalError"})
            continue
        _flush_output(request_id)
        _request("POST", "/invocation/%s/response" % request_id, body,
                 {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
