//! The web console of `stepsim serve`: its JSON endpoints against the AWS API's own answers,
//! and the page itself in headless Chromium (Debian's `chromium`) on the COSMIC-AI project.
//!
//! The browser test skips with a message when `chromium` is not installed, unless
//! `STEPSIM_REQUIRE_CHROMIUM` is set (CI sets it), in which case a missing browser fails it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// `stepsim serve --project asl-examples/cosmic-ai` on a free port, killed when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start() -> Serve {
        let project = concat!(env!("CARGO_MANIFEST_DIR"), "/asl-examples/cosmic-ai");
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepsim"))
            .args(["serve", "--port", "0", "-q", "--project", project])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("stepsim serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            // Keep draining: a closed pipe would make the server's next print fail.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address within 30 s");
        let url = line
            .split("http://")
            .nth(1)
            .expect("the banner names the URL")
            .trim();
        Serve {
            child,
            addr: url.parse().expect("HOST:PORT"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// One HTTP/1.1 request with `Connection: close`; (status, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut s =
            TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read the answer");
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").expect("a full answer");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], "")
    }

    fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    fn sfn(&self, action: &str, body: Value) -> Value {
        let target = format!("AWSStepFunctions.{action}");
        let (status, text) = self.request(
            "POST",
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.0"),
            ],
            &body.to_string(),
        );
        assert_eq!(status, 200, "{action}: {text}");
        serde_json::from_str(&text).expect("JSON")
    }

    /// Runs one execution of the project's machine to its end; its ARN.
    fn run_execution(&self, name: &str) -> String {
        let machines = self.sfn("ListStateMachines", json!({}));
        let machine = machines["stateMachines"][0]["stateMachineArn"]
            .as_str()
            .expect("the project's machine")
            .to_string();
        let input = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/asl-examples/cosmic-ai/input.json"
        ))
        .expect("input.json");
        let started = self.sfn(
            "StartExecution",
            json!({"stateMachineArn": machine, "name": name, "input": input}),
        );
        let arn = started["executionArn"]
            .as_str()
            .expect("an ARN")
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = self.sfn("DescribeExecution", json!({"executionArn": arn}));
            if d["status"] != "RUNNING" {
                assert_eq!(d["status"], "SUCCEEDED", "{d}");
                return arn;
            }
            assert!(Instant::now() < deadline, "the execution ends within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const STATES: [&str; 5] = [
    "Lambda Invoke",
    "Distributed",
    "Extract Rank Payload",
    "Lambda Invoke FMI",
    "Summarize",
];

#[test]
fn console_endpoints_read_the_served_state() {
    let serve = Serve::start();
    let arn = serve.run_execution("console-api");
    let (status, page) = serve.get("/console");
    assert_eq!(status, 200);
    assert!(page.contains("/console/app.js"), "{page}");
    assert_eq!(serve.get("/console/app.js").0, 200);
    let machines = serve.get_json("/console/api/machines");
    assert_eq!(machines["machines"][0]["executions"], 1);
    let machine_arn = machines["machines"][0]["arn"].as_str().unwrap().to_string();
    let m = serve.get_json(&format!("/console/api/machine?arn={}", enc(&machine_arn)));
    for s in STATES {
        assert!(
            m["svg"].as_str().unwrap().contains(&format!(">{s}</text>")),
            "{s}"
        );
    }

    let e = serve.get_json(&format!("/console/api/execution?arn={}", enc(&arn)));
    let described = serve.sfn("DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(e["status"], described["status"]);
    for s in STATES {
        assert_eq!(
            e["states"][s]["status"], "succeeded",
            "{s}: {}",
            e["states"][s]
        );
    }
    let total: f64 = e["bill"]["totalUsd"].as_str().unwrap().parse().unwrap();
    assert!(total > 0.0, "{}", e["bill"]);
    let lambdas = e["timeline"]["lambdas"].as_array().unwrap();
    assert!(
        lambdas.iter().any(|l| l["cold"] == true),
        "cold starts are marked"
    );
    assert!(!e["timeline"]["states"].as_array().unwrap().is_empty());
    // The Distributed Map's run, as DescribeMapRun describes it.
    let runs = e["mapRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{}", e["mapRuns"]);
    let described = serve.sfn(
        "DescribeMapRun",
        json!({"mapRunArn": runs[0]["arn"].as_str().unwrap()}),
    );
    assert_eq!(runs[0]["status"], described["status"]);
    assert_eq!(runs[0]["executions"], described["executionCounts"]);
    assert!(runs[0]["executions"]["succeeded"].as_u64().unwrap() > 0);

    // The history table pages what GetExecutionHistory returns.
    let api_history = serve.sfn(
        "GetExecutionHistory",
        json!({"executionArn": arn, "maxResults": 1000}),
    );
    let api_events = api_history["events"].as_array().unwrap();
    let h = serve.get_json(&format!("/console/api/history?arn={}&page=0", enc(&arn)));
    assert_eq!(h["total"].as_u64().unwrap() as usize, api_events.len());
    assert_eq!(h["pageSize"], 100);
    let types: Vec<&Value> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["type"])
        .collect();
    let api_types: Vec<&Value> = api_events.iter().map(|e| &e["type"]).collect();
    assert_eq!(types, api_types);

    // The coloured graph is the same bytes each time.
    let svg = |_: u8| {
        serve
            .get(&format!("/console/api/execution.svg?arn={}", enc(&arn)))
            .1
    };
    assert_eq!(svg(0), svg(1));
    assert!(svg(0).contains("data-status=\"succeeded\""));

    // Functions with their log streams; S3 buckets.
    let f = serve.get_json("/console/api/functions");
    let inference = f["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "inference")
        .expect("the inference function");
    assert!(!inference["streams"].as_array().unwrap().is_empty());
    let b = serve.get_json("/console/api/buckets");
    assert!(!b["buckets"].as_array().unwrap().is_empty());

    // Errors are JSON with a reason; signed requests are S3's, not the console's.
    let (status, body) = serve.get("/console/api/execution?arn=nope");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no execution nope"));
    assert_eq!(serve.get("/console/api/execution").0, 400);
    assert_eq!(serve.get("/console/api/unknown").0, 404);
    let (status, body) = serve.request(
        "GET",
        "/console/x",
        &[("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")],
        "",
    );
    assert_eq!(status, 404);
    assert!(body.contains("NoSuchBucket"), "{body}");
}

#[test]
fn a_map_runs_standard_children_have_pages_of_their_own() {
    let serve = Serve::start();
    let def = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "Label": "Fan", "ItemsPath": "$.items", "ToleratedFailureCount": 3, "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Refuse"}], "Default": "Accept"},
                "Accept": {"Type": "Pass", "End": true},
                "Refuse": {"Type": "Fail", "Error": "Two", "Cause": "two is refused"}}}}}});
    let sm = serve.sfn(
        "CreateStateMachine",
        json!({"name": "fan", "definition": def.to_string(), "roleArn": "arn:aws:iam::211125778552:role/x"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let arn = serve.sfn(
        "StartExecution",
        json!({"stateMachineArn": sm, "input": "{\"items\": [1, 2, 3]}"}),
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while serve.sfn("DescribeExecution", json!({"executionArn": arn}))["status"] == "RUNNING" {
        assert!(Instant::now() < deadline, "the execution ends within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = serve.get_json(&format!("/console/api/execution?arn={}", enc(&arn)));
    let children = e["mapRuns"][0]["children"].as_array().unwrap().clone();
    assert_eq!(children.len(), 3, "{}", e["mapRuns"]);
    assert_eq!(children[0]["status"], "FAILED", "unsuccessful first");
    assert!(children.iter().all(|c| c["described"] == true));

    let child = children[0]["arn"].as_str().unwrap();
    let c = serve.get_json(&format!("/console/api/execution?arn={}", enc(child)));
    assert_eq!(c["status"], "FAILED");
    assert_eq!(c["error"], "Two");
    assert_eq!(c["input"], 2);
    let svg = c["svg"].as_str().unwrap();
    assert!(
        svg.contains(">Refuse</text>"),
        "the graph is the item processor's"
    );
    assert!(!svg.contains(">Fan</text>"));
    assert_eq!(c["states"]["Refuse"]["status"], "failed", "{}", c["states"]);
    let h = serve.get_json(&format!("/console/api/history?arn={}&page=0", enc(child)));
    assert_eq!(h["total"], 5, "{h}");
}

#[test]
fn a_ten_thousand_event_history_is_paged_on_the_server() {
    let serve = Serve::start();
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let created = serve.sfn(
        "CreateStateMachine",
        json!({"name": "big", "definition": definition.to_string(),
               "roleArn": "arn:aws:iam::123456789012:role/big"}),
    );
    let machine = created["stateMachineArn"].as_str().unwrap();
    let items: Vec<u32> = (0..2500).collect();
    let started = serve.sfn(
        "StartExecution",
        json!({"stateMachineArn": machine, "input": json!(items).to_string()}),
    );
    let arn = started["executionArn"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while serve.sfn("DescribeExecution", json!({"executionArn": arn}))["status"] == "RUNNING" {
        assert!(Instant::now() < deadline, "the execution ends within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let asked = Instant::now();
    let e = serve.get_json(&format!("/console/api/execution?arn={}", enc(&arn)));
    assert!(e["events"].as_u64().unwrap() > 10_000, "{}", e["events"]);
    assert_eq!(e["timeline"]["truncated"], true);
    assert_eq!(e["states"]["P"]["entered"], 2500);
    let h = serve.get_json(&format!("/console/api/history?arn={}&page=50", enc(&arn)));
    let ids: Vec<u64> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (5001..=5100).collect::<Vec<u64>>());
    // A page past the end is the last page.
    let last = serve.get_json(&format!(
        "/console/api/history?arn={}&page=100000",
        enc(&arn)
    ));
    assert_eq!(
        last["page"].as_u64().unwrap() + 1,
        last["pages"].as_u64().unwrap()
    );
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
}

/// The `chromium` binary, or `None` (and why) when the test should skip.
fn chromium() -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Some(p.to_string_lossy().to_string()),
        None if std::env::var_os("STEPSIM_REQUIRE_CHROMIUM").is_some() => {
            panic!("STEPSIM_REQUIRE_CHROMIUM is set but `chromium` is not on PATH")
        }
        None => {
            eprintln!(
                "SKIPPED console_in_headless_chromium: `chromium` is not installed \
                 (apt-get install -y chromium)"
            );
            None
        }
    }
}

/// Runs headless Chromium with `extra` arguments on `url`, bounded to 40 s; its stdout.
fn run_chromium(bin: &str, profile: &std::path::Path, extra: &[&str], url: &str) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--window-size=1300,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 40 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("stdout reader")
}

#[test]
fn console_in_headless_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let started = Instant::now();
    let serve = Serve::start();
    let arn = serve.run_execution("console-browser");
    let e = serve.get_json(&format!("/console/api/execution?arn={}", enc(&arn)));
    let total = e["bill"]["totalUsd"].as_str().unwrap().to_string();
    let url = serve.url(&format!("/console/#/execution/{}", enc(&arn)));
    let profile = tempfile::tempdir().expect("a profile folder");

    let dom = run_chromium(&bin, profile.path(), &["--dump-dom"], &url);
    assert!(
        dom.contains("console-browser"),
        "the execution's name: {dom}"
    );
    for s in STATES {
        assert!(
            dom.contains(&format!(">{s}</text>")),
            "{s} is drawn in the graph"
        );
        let row = format!("<tr class=\"state-row\"><td>{s}</td><td class=\"state-status st-succeeded\">SUCCEEDED</td>");
        assert!(dom.contains(&row), "{s} is SUCCEEDED in the states table");
    }
    assert!(
        dom.contains(&format!(
            "<span class=\"total\" id=\"bill-total\">{total}</span>"
        )),
        "the bill total {total} is shown"
    );
    assert!(dom.contains("class=\"gantt\""), "the timeline is drawn");
    assert!(
        dom.contains("class=\"map-run-row\""),
        "the map run is listed"
    );
    assert!(
        dom.contains("class=\"map-run-child\""),
        "its child executions are listed"
    );

    let shot = profile.path().join("console.png");
    let arg = format!("--screenshot={}", shot.display());
    run_chromium(&bin, profile.path(), &[&arg], &url);
    let png = std::fs::read(&shot).expect("the screenshot is written");
    let (colours, non_white) = png_colours(&png);
    assert!(
        colours >= 8,
        "the screenshot has {colours} colours: it looks blank"
    );
    assert!(
        non_white > 0.02,
        "only {non_white} of the screenshot is not white"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the browser test took {:?}",
        started.elapsed()
    );
}

/// Decodes an 8-bit RGB/RGBA PNG just enough to count its distinct colours and the share
/// of pixels that are not (near) white.
fn png_colours(png: &[u8]) -> (usize, f64) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (mut pos, mut idat) = (8, Vec::new());
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "8-bit samples");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("colour type {other}"),
                };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        pos += 12 + len;
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).expect("valid zlib data");
    let stride = width * channels;
    assert_eq!(raw.len(), height * (stride + 1), "scanline bytes");
    let mut prev = vec![0u8; stride];
    let mut colours = std::collections::BTreeSet::new();
    let mut non_white = 0usize;
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels {
                cur[i - channels] as i32
            } else {
                0
            };
            let b = prev[i] as i32;
            let c = if i >= channels {
                prev[i - channels] as i32
            } else {
                0
            };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            cur[i] = line[i].wrapping_add(pred as u8);
        }
        for px in cur.chunks(channels) {
            colours.insert((px[0], px[1], px[2]));
            if px[0] < 240 || px[1] < 240 || px[2] < 240 {
                non_white += 1;
            }
        }
        prev = cur;
    }
    (
        colours.len(),
        non_white as f64 / (width * height).max(1) as f64,
    )
}
