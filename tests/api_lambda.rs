//! The Lambda REST API over HTTP: listing and describing functions, creating and updating
//! functions bound to built-in handlers, and Invoke (RequestResponse, Event, DryRun, function
//! and service errors, log tails).

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use stepsim::handlers::default_catalog;
use stepsim::sim::FunctionRegistry;
use support::api::{config, TestServer};

const FUNCTIONS: &str = r#"
[functions.init]
handler = "identity"
runtime = "python3.13"
memory_mb = 128
timeout_seconds = 3

[functions.fmi_init]
handler = "constant"
runtime = "python3.9"
timeout_seconds = 183
reserved_concurrency = 5
[functions.fmi_init.params]
value = {ready = true}

[functions.broken]
handler = "raise"
[functions.broken.params]
error_type = "ValueError"
error_message = "bad input"
"#;

fn server() -> TestServer {
    let mut c = config();
    c.functions =
        FunctionRegistry::from_toml_str(FUNCTIONS, "functions.toml", &default_catalog()).unwrap();
    TestServer::start(c)
}

const BASE: &str = "/2015-03-31/functions";

async fn get(t: &TestServer, path: &str) -> (u16, Value) {
    let r = t
        .client
        .get(format!("{}{path}", t.url))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn send(t: &TestServer, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
    let r = t
        .client
        .request(method, format!("{}{path}", t.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn list_and_get_functions() {
    let t = server();
    let (status, v) = get(&t, &format!("{BASE}/")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = v["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broken", "fmi_init", "init"]);
    let (_, page) = get(&t, &format!("{BASE}/?MaxItems=2")).await;
    assert_eq!(page["Functions"].as_array().unwrap().len(), 2);
    let marker = page["NextMarker"].as_str().unwrap();
    let (_, rest) = get(&t, &format!("{BASE}/?Marker={marker}")).await;
    assert_eq!(rest["Functions"][0]["FunctionName"], "init");

    // What the notebook prints.
    let (status, f) = get(&t, &format!("{BASE}/fmi_init")).await;
    assert_eq!(status, 200);
    let c = &f["Configuration"];
    assert_eq!(c["Runtime"], "python3.9");
    assert_eq!(c["MemorySize"], 128);
    assert_eq!(c["Timeout"], 183);
    assert_eq!(
        c["FunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:fmi_init"
    );
    assert_eq!(f["Concurrency"]["ReservedConcurrentExecutions"], 5);
    // By ARN (percent-encoded, as the SDKs send it) too.
    let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ainit";
    let (status, f) = get(&t, &format!("{BASE}/{arn}/configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(f["FunctionName"], "init");

    let r = t
        .client
        .get(format!("{}{BASE}/nope", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        r.headers()["x-amzn-errortype"].to_str().unwrap(),
        "ResourceNotFoundException"
    );
    let v: Value = r.json().await.unwrap();
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("Function not found"));
}

async fn invoke(
    t: &TestServer,
    name: &str,
    payload: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = t
        .client
        .post(format!("{}{BASE}/{name}/invocations", t.url))
        .body(payload.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The log tail of an invocation with `X-Amz-Log-Type: Tail`, decoded.
fn tail_log(r: &reqwest::Response) -> String {
    let b64 = r.headers()["x-amz-log-result"].to_str().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn invoke_results_errors_and_modes() {
    let t = server();
    let r = invoke(&t, "init", r#"{"world_size": 4}"#, &[]).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-amz-executed-version"], "$LATEST");
    assert!(r.headers().get("x-amz-function-error").is_none());
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"world_size": 4}));

    let r = invoke(&t, "fmi_init", "", &[("x-amz-log-type", "Tail")]).await;
    assert_eq!(r.status().as_u16(), 200);
    let log = tail_log(&r);
    assert!(log.contains("REPORT"), "{log}");
    assert!(
        log.contains("Init Duration"),
        "a fresh world is a cold start: {log}"
    );
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"ready": true}));

    let r = invoke(&t, "broken", "{}", &[]).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-amz-function-error"], "Unhandled");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["errorMessage"], "bad input");

    let r = invoke(&t, "init", "{}", &[("x-amz-invocation-type", "Event")]).await;
    assert_eq!(r.status().as_u16(), 202);
    let r = invoke(&t, "init", "{}", &[("x-amz-invocation-type", "DryRun")]).await;
    assert_eq!(r.status().as_u16(), 204);
    let r = invoke(&t, "init", "{}", &[("x-amz-invocation-type", "Later")]).await;
    assert_eq!(r.status().as_u16(), 400);

    let r = invoke(&t, "nope", "{}", &[]).await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        r.headers()["x-amzn-errortype"].to_str().unwrap(),
        "ResourceNotFoundException"
    );
    let r = invoke(&t, "init", "{not json", &[]).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.headers()["x-amzn-errortype"].to_str().unwrap(),
        "InvalidRequestContentException"
    );
    let big = format!("\"{}\"", "x".repeat(7 * 1024 * 1024));
    let r = invoke(&t, "init", &big, &[]).await;
    assert_eq!(r.status().as_u16(), 413);
}

#[tokio::test]
async fn create_update_and_delete_functions() {
    let t = server();
    let create = json!({
        "FunctionName": "summarize",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/lambda",
        "Handler": "lambda_function.lambda_handler",
        "Code": {"ZipFile": "UEsDBA=="},
        "Timeout": 150,
        "MemorySize": 256,
        "Environment": {"Variables": {
            "STEPSIM_HANDLER": "constant",
            "STEPSIM_PARAMS": "{\"value\": {\"statusCode\": 200}}"
        }}
    });
    let (status, c) = send(&t, reqwest::Method::POST, BASE, &create).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["Handler"], "lambda_function.lambda_handler");
    assert_eq!(c["Timeout"], 150);
    assert_eq!(c["MemorySize"], 256);
    assert_eq!(c["Runtime"], "python3.12");
    assert_eq!(c["Environment"]["Variables"]["STEPSIM_HANDLER"], "constant");
    let r = invoke(&t, "summarize", "{}", &[]).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"statusCode": 200}));

    let (status, e) = send(&t, reqwest::Method::POST, BASE, &create).await;
    assert_eq!(status, 409, "{e}");
    assert_eq!(e["__type"], "ResourceConflictException");

    // Handler may name a kind directly.
    let (status, _) = send(
        &t,
        reqwest::Method::POST,
        BASE,
        &json!({"FunctionName": "echo", "Role": "r", "Handler": "identity", "Code": {}, "Runtime": "nodejs20.x"}),
    )
    .await;
    assert_eq!(status, 201);
    // Code that stepsim cannot run is refused with a pointer to the binding.
    let (status, e) = send(
        &t,
        reqwest::Method::POST,
        BASE,
        &json!({"FunctionName": "code", "Role": "r", "Handler": "app.handler", "Code": {}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        e["message"].as_str().unwrap().contains("STEPSIM_HANDLER"),
        "{e}"
    );
    let (status, e) = send(
        &t,
        reqwest::Method::POST,
        BASE,
        &json!({"FunctionName": "big", "Role": "r", "Handler": "identity", "Code": {}, "MemorySize": 20000}),
    )
    .await;
    assert_eq!(status, 400, "{e}");

    let (status, u) = send(
        &t,
        reqwest::Method::PUT,
        &format!("{BASE}/summarize/configuration"),
        &json!({"MemorySize": 1024, "Timeout": 30}),
    )
    .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(
        (u["MemorySize"].as_u64(), u["Timeout"].as_u64()),
        (Some(1024), Some(30))
    );
    assert_eq!(u["Runtime"], "python3.12");
    // Rebinding through the environment changes the behaviour.
    let (status, _) = send(
        &t,
        reqwest::Method::PUT,
        &format!("{BASE}/summarize/configuration"),
        &json!({"Environment": {"Variables": {"STEPSIM_HANDLER": "identity"}}}),
    )
    .await;
    assert_eq!(status, 200);
    let r = invoke(&t, "summarize", r#"{"x": 1}"#, &[]).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"x": 1}));

    // Fixed handler work through the environment: 100 CPU-ms at 128 MB is 1,382 ms.
    let (status, c) = send(
        &t,
        reqwest::Method::POST,
        BASE,
        &json!({"FunctionName": "heavy", "Role": "r", "Handler": "identity", "Code": {},
                "Environment": {"Variables": {"STEPSIM_HANDLER_CPU_MS": "100"}}}),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let r = invoke(&t, "heavy", "{}", &[("x-amz-log-type", "Tail")]).await;
    let log = tail_log(&r);
    assert!(log.contains("\tDuration: 138"), "{log}");
    for bad in ["fast", "-1", "1e9"] {
        let (status, e) = send(
            &t,
            reqwest::Method::PUT,
            &format!("{BASE}/heavy/configuration"),
            &json!({"Environment": {"Variables": {"STEPSIM_HANDLER_CPU_MS": bad}}}),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains("handler_cpu_ms")
                || e["message"]
                    .as_str()
                    .unwrap()
                    .contains("STEPSIM_HANDLER_CPU_MS"),
            "{e}"
        );
    }

    let r = t
        .client
        .delete(format!("{}{BASE}/summarize", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (status, _) = get(&t, &format!("{BASE}/summarize")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn executions_call_functions_created_through_the_api() {
    let t = server();
    let (status, _) = send(
        &t,
        reqwest::Method::POST,
        BASE,
        &json!({"FunctionName": "late", "Role": "r", "Handler": "constant", "Code": {},
                "Environment": {"Variables": {"STEPSIM_PARAMS": "{\"value\": 42}"}}}),
    )
    .await;
    assert_eq!(status, 201);
    let def = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:late", "End": true}}});
    let sm = t.create_machine("calls", &def).await;
    let arn = t.start_exec(&sm, "c1", &json!({})).await;
    let d = t.wait_end(&arn, std::time::Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["output"], "42");
}
