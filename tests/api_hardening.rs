//! `stepsim serve` under hostile or careless clients (issue 19): slow and half-sent
//! connections, foreign `Host` headers, SIGTERM, restarts over a `dir:` store, request ids
//! across restarts, and listings of keys that XML 1.0 cannot carry.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stepsim::api::ServerConfig;
use support::api::{config, TestServer};

/// A GET of the bucket list with the given `Host`: the status.
async fn status_with_host(t: &TestServer, host: &str) -> u16 {
    t.client
        .get(format!("{}/", t.url))
        .header("host", host)
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn foreign_host_headers_are_refused() {
    let t = TestServer::start(ServerConfig {
        allow_hosts: vec!["stepsim.test".into()],
        ..config()
    });
    let port = t.server.local_addr().port();
    for ok in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("stepsim.test:{port}"),
    ] {
        assert_eq!(status_with_host(&t, &ok).await, 200, "{ok}");
    }
    // A virtual-hosted bucket name under localhost is answered (here: no such bucket).
    let vhost = format!("my-bucket.localhost:{port}");
    assert_ne!(status_with_host(&t, &vhost).await, 403);
    for refused in [
        format!("attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        "10.9.8.7".to_string(),
    ] {
        assert_eq!(status_with_host(&t, &refused).await, 403, "{refused}");
    }
    let body = t
        .client
        .get(format!("{}/", t.url))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("--allow-host"), "{body}");
}

/// Opens `n` connections that send half a request line and stop.
fn half_sent(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0")
                .expect("write");
            s
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_neither_starve_others_nor_stay_forever() {
    let t = TestServer::start(ServerConfig {
        header_timeout: Duration::from_millis(700),
        ..config()
    });
    let addr = t.server.local_addr();
    let held = tokio::task::spawn_blocking(move || half_sent(addr, 3000))
        .await
        .unwrap();
    // A normal request is answered while the 3,000 half-sent ones are held.
    let started = Instant::now();
    let r = t
        .client
        .get(format!("{}/", t.url))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("answered while slow connections are held");
    assert_eq!(r.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The half-sent ones are closed once the header timeout passes.
    let closed = tokio::task::spawn_blocking(move || {
        let mut closed = 0;
        for mut s in held.into_iter().take(50) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 512];
            // EOF, a reset, or the 408 hyper writes before closing: not an idle hang.
            match s.read(&mut buf) {
                Ok(_) => closed += 1,
                Err(e)
                    if e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut =>
                {
                    closed += 1
                }
                Err(_) => {}
            }
        }
        closed
    })
    .await
    .unwrap();
    assert_eq!(
        closed, 50,
        "half-sent connections must be closed by the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_queues_instead_of_failing() {
    let t = TestServer::start(ServerConfig {
        header_timeout: Duration::from_millis(500),
        max_connections: 4,
        ..config()
    });
    let addr = t.server.local_addr();
    let held = half_sent(addr, 4);
    // All four slots are taken; the request waits in the backlog until the timeout frees one.
    let started = Instant::now();
    let r = t
        .client
        .get(format!("{}/", t.url))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("answered once a slot frees");
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}

/// A `stepsim serve` process and the endpoint it printed.
struct Served {
    child: Child,
    endpoint: String,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepsim"))
            .args(["serve", "--port", "0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("stepsim starts");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("the banner names the endpoint")
                .expect("stdout reads");
            if let Some(rest) = line.split(" on ").nth(1) {
                if rest.starts_with("http://") {
                    break rest.trim().to_string();
                }
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Served { child, endpoint }
    }

    fn request_id(&self) -> String {
        blocking_headers(&self.endpoint)
            .remove("x-amz-request-id")
            .expect("S3 answers carry a request id")
    }

    /// Sends SIGTERM and waits (bounded) for the exit code.
    fn terminate(mut self) -> Option<i32> {
        // SAFETY: kill only sends a signal to the child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

/// The response headers of a plain `GET /` (the tests' reqwest has no blocking client).
fn blocking_headers(endpoint: &str) -> std::collections::HashMap<String, String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let served = Served::start(&[]);
    let _ = served.request_id();
    assert_eq!(
        served.terminate(),
        Some(0),
        "SIGTERM exits 0 as SIGINT does"
    );
}

#[test]
fn request_ids_are_new_at_each_start_unless_the_seed_is_given() {
    let ids = |args: &[&str]| {
        let served = Served::start(args);
        let id = served.request_id();
        served.terminate();
        id
    };
    assert_ne!(ids(&[]), ids(&[]), "two starts without --seed");
    assert_eq!(
        ids(&["--seed", "7"]),
        ids(&["--seed", "7"]),
        "--seed pins them"
    );
}

#[test]
fn a_restart_keeps_objects_users_changed_unless_reseeded() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("dir:{}", dir.path().display());
    let project = concat!(env!("CARGO_MANIFEST_DIR"), "/asl-examples/cosmic-ai");
    let args = ["--store", store.as_str(), "--project", project];
    let served = Served::start(&args);
    served.terminate();
    // Find one seeded object on disk and change it, as a PutObject would.
    let file = walk(dir.path())
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("the project seeds json objects");
    std::fs::write(&file, b"{\"changed\": true}").unwrap();
    let served = Served::start(&args);
    served.terminate();
    assert_eq!(std::fs::read(&file).unwrap(), b"{\"changed\": true}");
    let mut reseed = args.to_vec();
    reseed.push("--reseed");
    let served = Served::start(&reseed);
    served.terminate();
    assert_ne!(std::fs::read(&file).unwrap(), b"{\"changed\": true}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn listings_of_keys_xml_cannot_carry_are_url_encoded() {
    let t = TestServer::start(config());
    let store = t.server.state().store.clone();
    store.create_bucket("bkt").await.unwrap();
    let now = stepsim::engine::clock::default_origin();
    store
        .put("bkt", "bell\u{7}key", bytes::Bytes::from_static(b"x"), now)
        .await
        .unwrap();
    store
        .put("bkt", "plain", bytes::Bytes::from_static(b"y"), now)
        .await
        .unwrap();
    for query in ["?list-type=2", ""] {
        let text = t
            .client
            .get(format!("{}/bkt{query}", t.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains('\u{7}'), "{text}");
        assert!(text.contains("<EncodingType>url</EncodingType>"), "{text}");
        assert!(text.contains("<Key>bell%07key</Key>"), "{text}");
        // The document is well-formed XML.
        let mut reader = quick_xml::Reader::from_str(&text);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}\n{text}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_executions_stay_within_the_memory_budget() {
    let budget: u64 = 4 * 1024 * 1024;
    let t = TestServer::start(ServerConfig {
        max_retained_bytes: budget,
        ..config()
    });
    let machine = t
        .create_machine(
            "Carry",
            &serde_json::json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Pass", "End": true}}}),
        )
        .await;
    // 40 executions of ~200 KB each: about 8 x 200 KB per execution with its history, far
    // over the 4 MiB budget in all.
    let blob = "x".repeat(200 * 1024);
    let mut arns = Vec::new();
    for i in 0..40 {
        let arn = t
            .start_exec(
                &machine,
                &format!("e{i}"),
                &serde_json::json!({"blob": blob, "i": i}),
            )
            .await;
        t.wait_end(&arn, Duration::from_secs(10)).await;
        arns.push(arn);
    }
    let (kept, bytes) = {
        let reg = t.server.state().registry();
        (reg.executions.len(), reg.retained_bytes)
    };
    assert!(
        bytes <= budget,
        "{bytes} bytes kept over a budget of {budget}"
    );
    assert!((2..40).contains(&kept), "{kept} executions kept");
    // The newest is readable; the oldest was dropped.
    let newest = t.describe(arns.last().unwrap()).await;
    assert_eq!(newest["status"], "SUCCEEDED");
    let gone = t
        .err(
            "DescribeExecution",
            serde_json::json!({"executionArn": arns[0]}),
        )
        .await;
    assert_eq!(gone.code, "ExecutionDoesNotExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonata_string_bomb_fails_its_execution_and_the_server_keeps_answering() {
    let t = TestServer::start(config());
    let bomb = "{% ($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; \
                $f('abcdefgh', 40)) %}";
    let machine = t
        .create_machine(
            "Bomb",
            &serde_json::json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
                "A": {"Type": "Pass", "Output": bomb, "End": true}}}),
        )
        .await;
    let arn = t.start_exec(&machine, "boom", &serde_json::json!({})).await;
    let d = t.wait_end(&arn, Duration::from_secs(120)).await;
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "States.QueryEvaluationError");
    // Still serving.
    let listed = t.ok("ListStateMachines", serde_json::json!({})).await;
    assert_eq!(listed["stateMachines"][0]["name"], "Bomb");
}
