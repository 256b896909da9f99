//! The Lambda API subset (REST-JSON under `/2015-03-31/functions`): ListFunctions,
//! GetFunction, GetFunctionConfiguration, CreateFunction, UpdateFunctionConfiguration,
//! UpdateFunctionCode, DeleteFunction and Invoke.
//!
//! A function created with a `Code.ZipFile`, a `Handler` that is not a handler kind and a
//! python3.x, nodejs or provided.* `Runtime` runs the uploaded code (see `lambda_code.rs`).
//! Otherwise a function created through the API is bound to a handler kind of the catalog: `Environment.Variables.STEPSIM_HANDLER` names
//! the kind (or `Handler` does, when it is exactly a kind's name), and
//! `Environment.Variables.STEPSIM_PARAMS` holds the kind's parameters as a JSON object. The
//! uploaded `Code` is accepted and ignored. `Environment.Variables.STEPSIM_HANDLER_CPU_MS`
//! sets the function's fixed handler work (`handler_cpu_ms` of a functions file; default 0).
//!
//! An `Invoke` runs on a fresh simulated world (so it is always a cold start), on the same
//! S3 store the executions see. A function error answers 200 with `X-Amz-Function-Error:
//! Unhandled` and the error document as the payload, as Lambda does; a service error
//! (unknown function, throttle) answers its HTTP status and code.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::sim::function::valid_function_name;
use crate::sim::{Architecture, FunctionConfig, FunctionSpec, FunctionTarget, PackageType};

use super::error::ApiError;
use super::lambda_code;
use super::request::Req;
use super::runner;
use super::state::{wall_now, ApiState, FunctionMeta, Functions};

/// The path prefix of the functions API.
pub const PREFIX: &str = "/2015-03-31/functions";
/// Lambda's limit on a synchronous invocation's request payload (6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// The environment variable that binds a function to a handler kind.
pub const HANDLER_VARIABLE: &str = "STEPSIM_HANDLER";
/// The environment variable that holds the handler kind's parameters (a JSON object).
pub const PARAMS_VARIABLE: &str = "STEPSIM_PARAMS";
/// The environment variable that sets `handler_cpu_ms` (CPU-ms at one vCPU per invocation).
pub const HANDLER_CPU_VARIABLE: &str = "STEPSIM_HANDLER_CPU_MS";

/// The fixed handler work the environment asks for (0 when the variable is absent).
fn handler_cpu_ms(env: &Map<String, Value>) -> Result<f64, ApiError> {
    match env.get(HANDLER_CPU_VARIABLE).and_then(Value::as_str) {
        None => Ok(0.0),
        Some(text) => match text.trim().parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => Ok(ms),
            _ => Err(invalid(format!(
                "{HANDLER_CPU_VARIABLE} must be a non-negative number of CPU milliseconds, \
                 not \"{text}\""
            ))),
        },
    }
}

/// Answers one request under [`PREFIX`]. `rest` is the path after the prefix, still
/// percent-encoded. Returns the operation's name (for the request log) and the answer.
pub async fn handle(
    state: &Arc<ApiState>,
    method: &Method,
    rest: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> (&'static str, Result<Response<Body>, ApiError>) {
    let decoded: Option<Vec<String>> = rest
        .trim_matches('/')
        .split('/')
        .map(super::url::percent_decode)
        .collect();
    let Some(decoded) = decoded else {
        return (
            "?",
            Err(ApiError::validation(
                "The function name in the path is not valid percent-encoded UTF-8",
            )),
        );
    };
    let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (method, parts.as_slice()) {
        (&Method::GET, [""]) => ("ListFunctions", list_functions(state, query)),
        (&Method::POST, [""]) => ("CreateFunction", create_function(state, body)),
        (&Method::GET, [name]) => ("GetFunction", get_function(state, name)),
        (&Method::DELETE, [name]) => ("DeleteFunction", delete_function(state, name)),
        (&Method::GET, [name, "configuration"]) => {
            ("GetFunctionConfiguration", get_configuration(state, name))
        }
        (&Method::PUT, [name, "configuration"]) => (
            "UpdateFunctionConfiguration",
            update_configuration(state, name, body),
        ),
        (&Method::PUT, [name, "code"]) => ("UpdateFunctionCode", update_code(state, name, body)),
        (&Method::POST, [name, "invocations"]) => {
            ("Invoke", invoke(state, name, query, headers, body).await)
        }
        _ => (
            "?",
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("stepsim does not serve {method} {PREFIX}{rest}"),
            )),
        ),
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn not_found(state: &ApiState, name: &str) -> ApiError {
    let s = &state.settings;
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{name}",
            s.region, s.account
        ),
    )
}

/// The function `name`, or Lambda's `ResourceNotFoundException`.
fn lookup<'a>(
    state: &ApiState,
    f: &'a Functions,
    name: &str,
) -> Result<&'a Arc<FunctionSpec>, ApiError> {
    f.registry.get(name).ok_or_else(|| not_found(state, name))
}

/// The configuration document of function `name`, answered with `status`.
fn configuration_response(
    state: &ApiState,
    f: &Functions,
    name: &str,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let spec = lookup(state, f, name)?;
    let v = configuration(state, spec, f.meta.get(name));
    Ok(json_response(status, &v))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidParameterValueException", message)
}

/// The function a path names (a name, a partial ARN or an ARN).
fn target(name: &str) -> Result<FunctionTarget, ApiError> {
    FunctionTarget::parse(name).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?\
             (function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        ))
    })
}

/// Lambda's `LastModified` format: `2025-07-21T19:45:00.000+0000`.
fn lambda_time(t: crate::engine::SimTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// A function's `Configuration`, as GetFunction shows it.
pub fn configuration(state: &ApiState, spec: &FunctionSpec, meta: Option<&FunctionMeta>) -> Value {
    let s = &state.settings;
    let c = &spec.config;
    let mut m = Map::new();
    m.insert("FunctionName".into(), spec.name.clone().into());
    m.insert(
        "FunctionArn".into(),
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            s.region, s.account, spec.name
        )
        .into(),
    );
    m.insert("Runtime".into(), c.runtime.clone().into());
    let role = meta.map_or_else(
        || format!("arn:aws:iam::{}:role/stepsim-lambda", s.account),
        |m| m.role.clone(),
    );
    m.insert("Role".into(), role.into());
    let handler = meta.map_or_else(|| spec.kind.clone(), |m| m.handler.clone());
    m.insert("Handler".into(), handler.into());
    m.insert("CodeSize".into(), 0.into());
    m.insert(
        "Description".into(),
        meta.map_or_else(String::new, |m| m.description.clone())
            .into(),
    );
    m.insert("Timeout".into(), c.timeout.as_secs().into());
    m.insert("MemorySize".into(), c.memory_mb.into());
    let modified = meta.map_or(state.started, |m| m.last_modified);
    m.insert("LastModified".into(), lambda_time(modified).into());
    m.insert("CodeSha256".into(), "".into());
    m.insert("Version".into(), "$LATEST".into());
    if let Some(meta) = meta.filter(|m| !m.environment.is_empty()) {
        m.insert(
            "Environment".into(),
            json!({"Variables": Value::Object(meta.environment.clone())}),
        );
    }
    m.insert("TracingConfig".into(), json!({"Mode": "PassThrough"}));
    m.insert(
        "RevisionId".into(),
        format!("stepsim-{}", meta.map_or(0, |m| m.revision)).into(),
    );
    m.insert("State".into(), "Active".into());
    m.insert("LastUpdateStatus".into(), "Successful".into());
    m.insert(
        "PackageType".into(),
        match c.package_type {
            PackageType::Zip => "Zip",
            PackageType::Image => "Image",
        }
        .into(),
    );
    m.insert("Architectures".into(), json!([c.architecture.as_str()]));
    m.insert(
        "EphemeralStorage".into(),
        json!({"Size": c.ephemeral_storage_mb}),
    );
    m.insert(
        "LoggingConfig".into(),
        json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", spec.name)}),
    );
    Value::Object(m)
}

fn list_functions(
    state: &Arc<ApiState>,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let max = match param("MaxItems") {
        None => 50,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(invalid(format!(
                    "MaxItems must be between 1 and 10000, got {v}"
                )))
            }
        },
    };
    let marker = param("Marker");
    let f = state.functions_read();
    let all: Vec<&Arc<FunctionSpec>> = f
        .registry
        .iter()
        .filter(|s| marker.is_none_or(|m| s.name.as_str() > m))
        .collect();
    let page: Vec<Value> = all
        .iter()
        .take(max)
        .map(|s| configuration(state, s, f.meta.get(&s.name)))
        .collect();
    let mut out = Map::new();
    if all.len() > max {
        if let Some(last) = all.get(max - 1) {
            out.insert("NextMarker".into(), last.name.clone().into());
        }
    }
    out.insert("Functions".into(), Value::Array(page));
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

fn get_function(state: &Arc<ApiState>, name: &str) -> Result<Response<Body>, ApiError> {
    let t = target(name)?;
    let f = state.functions_read();
    let spec = lookup(state, &f, &t.name)?;
    let mut out = Map::new();
    out.insert(
        "Configuration".into(),
        configuration(state, spec, f.meta.get(&t.name)),
    );
    out.insert(
        "Code".into(),
        json!({"RepositoryType": "S3", "Location": format!("stepsim://handler/{}", spec.kind)}),
    );
    out.insert("Tags".into(), json!({}));
    if let Some(r) = spec.config.reserved_concurrency {
        out.insert(
            "Concurrency".into(),
            json!({"ReservedConcurrentExecutions": r}),
        );
    }
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

fn get_configuration(state: &Arc<ApiState>, name: &str) -> Result<Response<Body>, ApiError> {
    let t = target(name)?;
    configuration_response(state, &state.functions_read(), &t.name, StatusCode::OK)
}

fn delete_function(state: &Arc<ApiState>, name: &str) -> Result<Response<Body>, ApiError> {
    let t = target(name)?;
    let mut f = state.functions_write();
    lookup(state, &f, &t.name)?;
    let mut kept = crate::sim::FunctionRegistry::new();
    for spec in f.registry.iter().filter(|s| s.name != t.name) {
        // Every kept spec was valid when it was registered.
        let _ = kept.register_spec(FunctionSpec::clone(spec));
    }
    f.registry = kept;
    f.meta.remove(&t.name);
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

fn get_u32(m: &Map<String, Value>, key: &str) -> Result<Option<u32>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be a positive integer, got {n}"))),
        Some(_) => Err(ApiError::bad_request(
            "SerializationException",
            format!("The member '{key}' must be an integer"),
        )),
    }
}

/// The environment variables of a request, when it gives them.
fn environment(m: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match m.get("Environment") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(env)) => match env.get("Variables") {
            None | Some(Value::Null) => Ok(Some(Map::new())),
            Some(Value::Object(vars)) => {
                if let Some((k, _)) = vars.iter().find(|(_, v)| !v.is_string()) {
                    return Err(invalid(format!(
                        "the environment variable {k} must be a string"
                    )));
                }
                Ok(Some(vars.clone()))
            }
            Some(_) => Err(invalid(
                "Environment.Variables must be an object of strings",
            )),
        },
        Some(_) => Err(invalid("Environment must be an object")),
    }
}

/// The handler kind and parameters a function is bound to.
fn binding(
    state: &ApiState,
    handler_field: Option<&str>,
    env: &Map<String, Value>,
) -> Result<(String, Value), ApiError> {
    let kinds = state.catalog.kinds().join(", ");
    let kind = match env.get(HANDLER_VARIABLE).and_then(Value::as_str) {
        Some(k) => k.to_string(),
        None => match handler_field {
            Some(h) if state.catalog.contains(h) => h.to_string(),
            _ => {
                return Err(invalid(format!(
                    "stepsim runs built-in handlers, not uploaded code: set \
                     Environment.Variables.{HANDLER_VARIABLE} (or Handler) to a handler kind \
                     (known: {kinds}) and put its parameters in {PARAMS_VARIABLE} as a JSON \
                     object"
                )))
            }
        },
    };
    let params = match env.get(PARAMS_VARIABLE).and_then(Value::as_str) {
        None => Value::Object(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(invalid(format!(
                    "{PARAMS_VARIABLE} must hold a JSON object of the handler's parameters"
                )))
            }
        },
    };
    Ok((kind, params))
}

/// The `Handler` and zip of a function whose uploaded code runs (a zip, a `Handler` that is
/// not a built-in kind, no STEPSIM_HANDLER, a runtime stepsim runs); `None` binds a kind.
fn uploaded_code<'a>(
    state: &ApiState,
    req: &'a Req,
    handler_field: Option<&'a str>,
    env: &Map<String, Value>,
    runtime: &str,
) -> Result<Option<(&'a str, Vec<u8>)>, ApiError> {
    let Some(zip) = lambda_code::zip_file(req.members())? else {
        return Ok(None);
    };
    match handler_field {
        Some(h)
            if !env.contains_key(HANDLER_VARIABLE)
                && !state.catalog.contains(h)
                && lambda_code::runs_code(runtime) =>
        {
            Ok(Some((h, zip)))
        }
        _ => Ok(None),
    }
}

/// UpdateFunctionCode: a new zip for a function that runs uploaded code.
fn update_code(state: &Arc<ApiState>, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let req = Req::object(body)?;
    let t = target(name)?;
    let zip = req
        .opt_str("ZipFile")?
        .ok_or_else(|| invalid("stepsim takes code as ZipFile (base64)"))?;
    let zip = base64::engine::general_purpose::STANDARD
        .decode(zip.trim())
        .map_err(|e| invalid(format!("ZipFile is not base64: {e}")))?;
    let mut f = state.functions_write();
    let old = lookup(state, &f, &t.name)?.clone();
    let mut meta = f
        .meta
        .get(&t.name)
        .cloned()
        .ok_or_else(|| not_found(state, &t.name))?;
    if !lambda_code::runs_code(&old.config.runtime) {
        return Err(invalid(format!(
            "stepsim runs uploaded code on python3.x, nodejs and provided.* runtimes, not {}",
            old.config.runtime
        )));
    }
    lambda_code::install(state, &t.name, &zip)?;
    let handler = lambda_code::handler(
        state,
        &t.name,
        &old.config.runtime,
        &meta.handler,
        &meta.environment,
    )?;
    f.registry
        .register_spec(FunctionSpec {
            name: t.name.clone(),
            kind: "code".to_string(),
            config: old.config.clone(),
            handler,
        })
        .map_err(|e| invalid(e.to_string()))?;
    meta.last_modified = wall_now();
    meta.revision += 1;
    f.meta.insert(t.name.clone(), meta);
    configuration_response(state, &f, &t.name, StatusCode::OK)
}

/// Applies the configuration members of a request to `config`.
fn apply_config(req: &Req, config: &mut FunctionConfig) -> Result<(), ApiError> {
    let m = req.members();
    if let Some(mb) = get_u32(m, "MemorySize")? {
        config.memory_mb = mb;
    }
    if let Some(s) = get_u32(m, "Timeout")? {
        config.timeout = Duration::from_secs(u64::from(s));
    }
    if let Some(r) = req.opt_str("Runtime")? {
        config.runtime = r.to_string();
    }
    match m.get("EphemeralStorage") {
        None | Some(Value::Null) => {}
        Some(Value::Object(e)) => {
            if let Some(size) = get_u32(e, "Size")? {
                config.ephemeral_storage_mb = size;
            }
        }
        Some(_) => return Err(invalid("EphemeralStorage must be an object with Size")),
    }
    match m.get("Architectures") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => match a.as_slice() {
            [Value::String(s)] if s == "x86_64" => config.architecture = Architecture::X86_64,
            [Value::String(s)] if s == "arm64" => config.architecture = Architecture::Arm64,
            _ => return Err(invalid("Architectures must be [\"x86_64\"] or [\"arm64\"]")),
        },
        Some(_) => return Err(invalid("Architectures must be a list")),
    }
    match req.opt_str("PackageType")? {
        None | Some("Zip") => {}
        Some("Image") => config.package_type = PackageType::Image,
        Some(other) => return Err(invalid(format!("unknown PackageType {other}"))),
    }
    Ok(())
}

fn create_function(state: &Arc<ApiState>, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let req = Req::object(body)?;
    let name = req
        .opt_str("FunctionName")?
        .ok_or_else(|| ApiError::validation("FunctionName is required"))?;
    let role = req
        .opt_str("Role")?
        .ok_or_else(|| ApiError::validation("Role is required"))?;
    if !req.members().get("Code").is_some_and(Value::is_object) {
        return Err(ApiError::validation(
            "Code is required (it is ignored: see Handler)",
        ));
    }
    let t = target(name)?;
    if !valid_function_name(&t.name) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy \
             constraint: Member must have length less than or equal to 64"
        )));
    }
    let env = environment(req.members())?.unwrap_or_default();
    let handler_field = req.opt_str("Handler")?;
    let mut config = FunctionConfig::default();
    apply_config(&req, &mut config)?;
    config.handler_cpu_ms = handler_cpu_ms(&env)?;
    // The handler's AWS calls are checked against it (when IAM knows it).
    config.role = Some(role.to_string());
    let (kind, handler) = match uploaded_code(state, &req, handler_field, &env, &config.runtime)? {
        Some((h, zip)) => {
            lambda_code::install(state, &t.name, &zip)?;
            let handler = lambda_code::handler(state, &t.name, &config.runtime, h, &env)?;
            ("code".to_string(), handler)
        }
        None => {
            let (kind, params) = binding(state, handler_field, &env)?;
            let handler = state.catalog.build(&kind, &params).map_err(invalid)?;
            (kind, handler)
        }
    };
    let spec = FunctionSpec {
        name: t.name.clone(),
        kind: kind.clone(),
        config,
        handler,
    };
    let meta = FunctionMeta {
        handler: handler_field.unwrap_or(&kind).to_string(),
        role: role.to_string(),
        description: req.opt_str("Description")?.unwrap_or_default().to_string(),
        environment: env,
        last_modified: wall_now(),
        revision: 1,
    };
    let mut f = state.functions_write();
    if f.registry.get(&t.name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("Function already exist: {}", t.name),
        ));
    }
    f.registry
        .register_spec(spec)
        .map_err(|e| invalid(e.to_string()))?;
    f.meta.insert(t.name.clone(), meta);
    configuration_response(state, &f, &t.name, StatusCode::CREATED)
}

fn update_configuration(
    state: &Arc<ApiState>,
    name: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let req = Req::object(body)?;
    let t = target(name)?;
    let mut f = state.functions_write();
    let old = lookup(state, &f, &t.name)?.clone();
    let old_meta = f.meta.get(&t.name).cloned();
    let mut config = old.config.clone();
    apply_config(&req, &mut config)?;
    if let Some(role) = req.opt_str("Role")? {
        config.role = Some(role.to_string());
    }
    let env = environment(req.members())?;
    let handler_field = req.opt_str("Handler")?;
    // The handler is rebuilt when the binding may have changed; otherwise it is kept.
    let rebinding = env.is_some() || handler_field.is_some_and(|h| h != old.kind);
    let effective_env = env
        .clone()
        .or_else(|| old_meta.as_ref().map(|m| m.environment.clone()))
        .unwrap_or_default();
    if env.is_some() {
        // A new Environment replaces every variable, this one included.
        config.handler_cpu_ms = handler_cpu_ms(&effective_env)?;
    }
    let (kind, handler) = if old.kind == "code"
        && (rebinding || config.runtime != old.config.runtime)
    {
        // Uploaded code: the same folder, run with the new Handler, Environment or Runtime.
        let h = handler_field
            .map(str::to_string)
            .or_else(|| old_meta.as_ref().map(|m| m.handler.clone()))
            .unwrap_or_default();
        let handler = lambda_code::handler(state, &t.name, &config.runtime, &h, &effective_env)?;
        ("code".to_string(), handler)
    } else if rebinding {
        let field = handler_field.or(Some(old.kind.as_str()));
        let (kind, params) = binding(state, field, &effective_env)?;
        let h = state.catalog.build(&kind, &params).map_err(invalid)?;
        (kind, h)
    } else {
        (old.kind.clone(), old.handler.clone())
    };
    let spec = FunctionSpec {
        name: t.name.clone(),
        kind: kind.clone(),
        config,
        handler,
    };
    f.registry
        .register_spec(spec)
        .map_err(|e| invalid(e.to_string()))?;
    let meta = FunctionMeta {
        handler: handler_field
            .map(str::to_string)
            .or_else(|| old_meta.as_ref().map(|m| m.handler.clone()))
            .unwrap_or(kind),
        role: req
            .opt_str("Role")?
            .map(str::to_string)
            .or_else(|| old_meta.as_ref().map(|m| m.role.clone()))
            .unwrap_or_else(|| {
                format!(
                    "arn:aws:iam::{}:role/stepsim-lambda",
                    state.settings.account
                )
            }),
        description: req
            .opt_str("Description")?
            .map(str::to_string)
            .or_else(|| old_meta.as_ref().map(|m| m.description.clone()))
            .unwrap_or_default(),
        environment: effective_env,
        last_modified: wall_now(),
        revision: old_meta.as_ref().map_or(1, |m| m.revision + 1),
    };
    f.meta.insert(t.name.clone(), meta);
    configuration_response(state, &f, &t.name, StatusCode::OK)
}

/// Splits a Lambda service error's cause (`message (Service: AWSLambda; Status Code: 404;
/// Error Code: ResourceNotFoundException; ...)`) into status, code and message.
fn service_error(cause: &str) -> Option<(StatusCode, String, String)> {
    let (status, code, message) = crate::sim::lambda::split_service_cause(cause)?;
    Some((StatusCode::from_u16(status).ok()?, code, message))
}

async fn invoke(
    state: &Arc<ApiState>,
    name: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let mut t = target(name)?;
    if t.qualifier.is_none() {
        t.qualifier = query
            .iter()
            .find(|(k, _)| k == "Qualifier")
            .map(|(_, v)| v.clone());
    }
    let invocation_type = header("x-amz-invocation-type").unwrap_or("RequestResponse");
    if !matches!(invocation_type, "RequestResponse" | "Event" | "DryRun") {
        return Err(invalid(format!(
            "1 validation error detected: Value '{invocation_type}' at 'invocationType' failed \
             to satisfy constraint: Member must satisfy enum value set: [Event, \
             RequestResponse, DryRun]"
        )));
    }
    let tail = header("x-amz-log-type") == Some("Tail");
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!(
                "Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction \
                 operation"
            ),
        ));
    }
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(
                "InvalidRequestContentException",
                format!("Could not parse request body into json: {e}"),
            )
        })?
    };
    lookup(state, &state.functions_read(), &t.name)?;
    let version = t.executed_version();
    let mut r = Response::new(Body::empty());
    if let Ok(v) = HeaderValue::from_str(&version) {
        r.headers_mut().insert("x-amz-executed-version", v);
    }
    if invocation_type == "DryRun" {
        *r.status_mut() = StatusCode::NO_CONTENT;
        return Ok(r);
    }
    let reference = match &t.qualifier {
        Some(q) => format!("{}:{q}", t.name),
        None => t.name.clone(),
    };
    let seed = crate::rng::derive_seed(
        state.settings.seed,
        &format!("lambda:{}", state.next_nonce()),
    );
    let pending = runner::invoke_function(state.clone(), reference, payload, wall_now(), seed);
    if invocation_type == "Event" {
        // Queued: the invocation runs in the background, as an asynchronous invoke does.
        *r.status_mut() = StatusCode::ACCEPTED;
        return Ok(r);
    }
    let done = super::pool::outcome(pending).await?;
    if tail {
        let mut text = done.logs.join("\n");
        text.push('\n');
        // Lambda returns the last 4 KB of the log.
        let cut = text.len().saturating_sub(4096);
        let start = (cut..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        let encoded = base64::engine::general_purpose::STANDARD.encode(&text[start..]);
        if let Ok(v) = HeaderValue::from_str(&encoded) {
            r.headers_mut().insert("x-amz-log-result", v);
        }
    }
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    match done.result {
        Ok(ok) => {
            *r.body_mut() = Body::from(ok.payload.to_string());
            Ok(r)
        }
        Err(f) => {
            if let Some((status, code, message)) = service_error(&f.cause) {
                return Err(ApiError::new(status, code, message));
            }
            r.headers_mut().insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            *r.body_mut() = Body::from(f.cause);
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_split() {
        let cause = "Function not found: arn:aws:lambda:us-east-1:1:function:x:$LATEST \
                     (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; \
                     Request ID: abc; Proxy: null)";
        let (status, code, message) = service_error(cause).unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code, "ResourceNotFoundException");
        assert!(message.starts_with("Function not found"));
        assert!(service_error(r#"{"errorMessage":"x","errorType":"ValueError"}"#).is_none());
    }

    #[test]
    fn lambda_timestamps() {
        let t = crate::engine::clock::default_origin();
        assert_eq!(lambda_time(t), "2025-07-21T19:45:00.000+0000");
    }
}
