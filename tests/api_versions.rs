//! State machine versions, aliases and tags over HTTP: publishing (by action and by
//! `publish`), idempotency and conflicts, starting through a version or an alias (with a
//! weighted split drawn deterministically), listings by version and alias, deletion rules,
//! AWS's error codes, and everything surviving a restart with `--state-dir`.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::api::{boto3_available, config, run_compat_script, TestServer};

fn says(word: &str) -> Value {
    json!({"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": word, "End": true}}})
}

async fn output_of(t: &TestServer, exec: &str) -> (String, Value) {
    let d = t.wait_end(exec, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    (out.as_str().unwrap().to_string(), d)
}

async fn update(t: &TestServer, sm: &str, word: &str, extra: Value) -> Value {
    let mut req = json!({"stateMachineArn": sm, "definition": says(word).to_string()});
    if let (Some(r), Value::Object(e)) = (req.as_object_mut(), extra) {
        r.extend(e);
    }
    t.ok("UpdateStateMachine", req).await
}

#[tokio::test]
async fn versions_are_published_described_started_and_deleted() {
    let t = TestServer::start(config());
    let created = t
        .ok(
            "CreateStateMachine",
            json!({
                "name": "greeter",
                "definition": says("one").to_string(),
                "roleArn": "arn:aws:iam::123456789012:role/test",
                "publish": true,
                "versionDescription": "first",
            }),
        )
        .await;
    let sm = created["stateMachineArn"].as_str().unwrap().to_string();
    let v1 = format!("{sm}:1");
    assert_eq!(created["stateMachineVersionArn"], v1.as_str());

    // Publishing the same revision again returns the same version.
    let again = t
        .ok("PublishStateMachineVersion", json!({"stateMachineArn": sm}))
        .await;
    assert_eq!(again["stateMachineVersionArn"], v1.as_str());
    let e = t
        .err(
            "PublishStateMachineVersion",
            json!({"stateMachineArn": sm, "description": "another"}),
        )
        .await;
    assert_eq!(e.code, "ConflictException");

    let up = update(&t, &sm, "two", json!({"publish": true})).await;
    let v2 = format!("{sm}:2");
    assert_eq!(up["stateMachineVersionArn"], v2.as_str());
    let e = t
        .err(
            "PublishStateMachineVersion",
            json!({"stateMachineArn": sm, "revisionId": "not-the-current-one"}),
        )
        .await;
    assert_eq!(e.code, "ConflictException");
    let e = t
        .err(
            "UpdateStateMachine",
            json!({"stateMachineArn": sm, "definition": says("x").to_string(), "versionDescription": "no publish"}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");

    // A version describes itself; the machine describes its current revision.
    let d1 = t
        .ok("DescribeStateMachine", json!({"stateMachineArn": v1}))
        .await;
    assert_eq!(d1["stateMachineArn"], v1.as_str());
    assert_eq!(d1["description"], "first");
    assert!(d1["definition"].as_str().unwrap().contains("\"one\""));
    let d = t
        .ok("DescribeStateMachine", json!({"stateMachineArn": sm}))
        .await;
    assert!(d["definition"].as_str().unwrap().contains("\"two\""));
    let e = t
        .err(
            "DescribeStateMachine",
            json!({"stateMachineArn": format!("{sm}:9")}),
        )
        .await;
    assert_eq!(e.code, "StateMachineDoesNotExist");

    // Starting through a version runs that version.
    let e1 = t.start_exec(&v1, "via-v1", &json!({})).await;
    let (word, d) = output_of(&t, &e1).await;
    assert_eq!(word, "one");
    assert_eq!(d["stateMachineArn"], sm.as_str());
    assert_eq!(d["stateMachineVersionArn"], v1.as_str());
    assert!(d.get("stateMachineAliasArn").is_none());
    let e2 = t.start_exec(&sm, "current", &json!({})).await;
    let (word, d) = output_of(&t, &e2).await;
    assert_eq!(word, "two");
    assert!(d.get("stateMachineVersionArn").is_none());
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": format!("{sm}:7"), "input": "{}"}),
        )
        .await;
    assert_eq!(e.code, "StateMachineDoesNotExist");

    // ListExecutions by version lists only what was started through it.
    let l = t.ok("ListExecutions", json!({"stateMachineArn": v1})).await;
    let names: Vec<&str> = l["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["via-v1"]);
    assert_eq!(l["executions"][0]["stateMachineVersionArn"], v1.as_str());
    let all = t.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert_eq!(all["executions"].as_array().unwrap().len(), 2);

    // Listing is newest first; deleting keeps numbers from being reused.
    let l = t
        .ok("ListStateMachineVersions", json!({"stateMachineArn": sm}))
        .await;
    let arns: Vec<&str> = l["stateMachineVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["stateMachineVersionArn"].as_str().unwrap())
        .collect();
    assert_eq!(arns, [v2.as_str(), v1.as_str()]);
    t.ok(
        "DeleteStateMachineVersion",
        json!({"stateMachineVersionArn": v2}),
    )
    .await;
    // Deleting it again succeeds, as on AWS.
    t.ok(
        "DeleteStateMachineVersion",
        json!({"stateMachineVersionArn": v2}),
    )
    .await;
    let up = update(&t, &sm, "three", json!({"publish": true})).await;
    assert_eq!(up["stateMachineVersionArn"], format!("{sm}:3").as_str());
    let e = t
        .err(
            "DeleteStateMachineVersion",
            json!({"stateMachineVersionArn": sm}),
        )
        .await;
    assert_eq!(e.code, "InvalidArn");
    // Update and delete take the machine's own ARN.
    let e = t
        .err("DeleteStateMachine", json!({"stateMachineArn": v1}))
        .await;
    assert_eq!(e.code, "ValidationException");
}

#[tokio::test]
async fn aliases_route_executions_by_weight_deterministically() {
    let t = TestServer::start(config());
    let sm = t.create_machine("split", &says("one")).await;
    t.ok("PublishStateMachineVersion", json!({"stateMachineArn": sm}))
        .await;
    update(&t, &sm, "two", json!({"publish": true})).await;
    let (v1, v2) = (format!("{sm}:1"), format!("{sm}:2"));

    let created = t
        .ok(
            "CreateStateMachineAlias",
            json!({"name": "prod", "description": "live",
                   "routingConfiguration": [{"stateMachineVersionArn": v1, "weight": 100}]}),
        )
        .await;
    let alias = format!("{sm}:prod");
    assert_eq!(created["stateMachineAliasArn"], alias.as_str());
    let e = t.start_exec(&alias, "a0", &json!({})).await;
    let (word, d) = output_of(&t, &e).await;
    assert_eq!(word, "one");
    assert_eq!(d["stateMachineAliasArn"], alias.as_str());
    assert_eq!(d["stateMachineVersionArn"], v1.as_str());

    // The same alias again is idempotent; a different one under the name conflicts.
    let same = t
        .ok(
            "CreateStateMachineAlias",
            json!({"name": "prod", "description": "live",
                   "routingConfiguration": [{"stateMachineVersionArn": v1, "weight": 100}]}),
        )
        .await;
    assert_eq!(same["creationDate"], created["creationDate"]);
    let e = t
        .err(
            "CreateStateMachineAlias",
            json!({"name": "prod",
                   "routingConfiguration": [{"stateMachineVersionArn": v2, "weight": 100}]}),
        )
        .await;
    assert_eq!(e.code, "ConflictException");

    t.ok(
        "UpdateStateMachineAlias",
        json!({"stateMachineAliasArn": alias, "routingConfiguration": [
            {"stateMachineVersionArn": v1, "weight": 50},
            {"stateMachineVersionArn": v2, "weight": 50}]}),
    )
    .await;
    let d = t
        .ok(
            "DescribeStateMachineAlias",
            json!({"stateMachineAliasArn": alias}),
        )
        .await;
    assert_eq!(d["name"], "prod");
    assert_eq!(d["description"], "live");
    assert_eq!(
        d["routingConfiguration"][1]["stateMachineVersionArn"],
        v2.as_str()
    );
    assert_eq!(d["routingConfiguration"][1]["weight"], 50);

    let mut split = BTreeMap::new();
    for i in 0..40 {
        let e = t.start_exec(&alias, &format!("s{i}"), &json!({})).await;
        let (word, _) = output_of(&t, &e).await;
        split.insert(i, word);
    }
    let ones = split.values().filter(|w| *w == "one").count();
    assert!((8..=32).contains(&ones), "a 50/50 split gave {ones} of 40");
    let l = t
        .ok("ListExecutions", json!({"stateMachineArn": alias}))
        .await;
    assert_eq!(l["executions"].as_array().unwrap().len(), 41);
    let l = t
        .ok("ListStateMachineAliases", json!({"stateMachineArn": v2}))
        .await;
    assert_eq!(
        l["stateMachineAliases"][0]["stateMachineAliasArn"],
        alias.as_str()
    );

    // The same server seed and names give the same split.
    let u = TestServer::start(config());
    let sm2 = u.create_machine("split", &says("one")).await;
    assert_eq!(sm2, sm);
    u.ok("PublishStateMachineVersion", json!({"stateMachineArn": sm}))
        .await;
    update(&u, &sm, "two", json!({"publish": true})).await;
    u.ok(
        "CreateStateMachineAlias",
        json!({"name": "prod", "routingConfiguration": [
            {"stateMachineVersionArn": v1, "weight": 50},
            {"stateMachineVersionArn": v2, "weight": 50}]}),
    )
    .await;
    for i in 0..40 {
        let e = u.start_exec(&alias, &format!("s{i}"), &json!({})).await;
        let (word, _) = output_of(&u, &e).await;
        assert_eq!(word, split[&i], "execution s{i}");
    }

    // A version an alias routes to cannot be deleted until the alias is.
    let e = t
        .err(
            "DeleteStateMachineVersion",
            json!({"stateMachineVersionArn": v1}),
        )
        .await;
    assert_eq!(e.code, "ConflictException");
    t.ok(
        "DeleteStateMachineAlias",
        json!({"stateMachineAliasArn": alias}),
    )
    .await;
    let e = t
        .err(
            "DeleteStateMachineAlias",
            json!({"stateMachineAliasArn": alias}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFound");
    t.ok(
        "DeleteStateMachineVersion",
        json!({"stateMachineVersionArn": v1}),
    )
    .await;
}

#[tokio::test]
async fn alias_requests_are_checked() {
    let t = TestServer::start(config());
    let sm = t.create_machine("checked", &says("one")).await;
    t.ok("PublishStateMachineVersion", json!({"stateMachineArn": sm}))
        .await;
    let v1 = format!("{sm}:1");
    let route = |w: u64| json!([{"stateMachineVersionArn": v1, "weight": w}]);
    for (name, routes, code) in [
        ("a", route(90), "ValidationException"),
        ("123", route(100), "InvalidName"),
        ("a b", route(100), "InvalidName"),
        ("b", json!([]), "ValidationException"),
        (
            "c",
            json!([{"stateMachineVersionArn": format!("{sm}:5"), "weight": 100}]),
            "ResourceNotFound",
        ),
        (
            "d",
            json!([{"stateMachineVersionArn": sm, "weight": 100}]),
            "ValidationException",
        ),
        (
            "e",
            json!([{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v1, "weight": 50}]),
            "ValidationException",
        ),
    ] {
        let e = t
            .err(
                "CreateStateMachineAlias",
                json!({"name": name, "routingConfiguration": routes}),
            )
            .await;
        assert_eq!(e.code, code, "{name} {routes}: {}", e.message);
    }
    let missing = format!("{sm}:nope");
    let e = t
        .err(
            "DescribeStateMachineAlias",
            json!({"stateMachineAliasArn": missing}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFound");
    let e = t
        .err(
            "DescribeStateMachineAlias",
            json!({"stateMachineAliasArn": v1}),
        )
        .await;
    assert_eq!(e.code, "InvalidArn");
    let e = t
        .err("StartExecution", json!({"stateMachineArn": missing}))
        .await;
    assert_eq!(e.code, "ResourceNotFound");
    t.ok(
        "CreateStateMachineAlias",
        json!({"name": "live", "routingConfiguration": route(100)}),
    )
    .await;
    let e = t
        .err(
            "UpdateStateMachineAlias",
            json!({"stateMachineAliasArn": format!("{sm}:live")}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");
}

#[tokio::test]
async fn tags_on_machines_and_activities() {
    let t = TestServer::start(config());
    let sm = t
        .create_machine_with(
            "tagged",
            &says("one"),
            json!({"tags": [{"key": "team", "value": "astro"}, {"key": "stage", "value": "dev"}]}),
        )
        .await;
    let tags = |v: &Value| -> Vec<(String, String)> {
        v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap().to_string(),
                    t["value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let l = t
        .ok("ListTagsForResource", json!({"resourceArn": sm}))
        .await;
    assert_eq!(
        tags(&l),
        [
            ("stage".into(), "dev".into()),
            ("team".into(), "astro".into())
        ]
    );
    t.ok(
        "TagResource",
        json!({"resourceArn": sm, "tags": [{"key": "stage", "value": "prod"}, {"key": "cost", "value": "42"}]}),
    )
    .await;
    t.ok(
        "UntagResource",
        json!({"resourceArn": sm, "tagKeys": ["team", "absent"]}),
    )
    .await;
    let l = t
        .ok("ListTagsForResource", json!({"resourceArn": sm}))
        .await;
    assert_eq!(
        tags(&l),
        [
            ("cost".into(), "42".into()),
            ("stage".into(), "prod".into())
        ]
    );
    let many: Vec<Value> = (0..49)
        .map(|i| json!({"key": format!("k{i}"), "value": ""}))
        .collect();
    let e = t
        .err("TagResource", json!({"resourceArn": sm, "tags": many}))
        .await;
    assert_eq!(e.code, "TooManyTags");
    let e = t
        .err(
            "TagResource",
            json!({"resourceArn": sm, "tags": [{"key": "", "value": "x"}]}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");

    let act = t
        .ok(
            "CreateActivity",
            json!({"name": "work", "tags": [{"key": "owner", "value": "ci"}]}),
        )
        .await;
    let act = act["activityArn"].as_str().unwrap();
    let l = t
        .ok("ListTagsForResource", json!({"resourceArn": act}))
        .await;
    assert_eq!(tags(&l), [("owner".into(), "ci".into())]);

    let gone = "arn:aws:states:us-east-1:123456789012:stateMachine:gone";
    let e = t
        .err("ListTagsForResource", json!({"resourceArn": gone}))
        .await;
    assert_eq!(e.code, "ResourceNotFound");
    let e = t
        .err(
            "ListTagsForResource",
            json!({"resourceArn": "arn:aws:states:us-east-1:123456789012:execution:a:b"}),
        )
        .await;
    assert_eq!(e.code, "InvalidArn");
}

/// What a restart must keep: versions, an alias, tags, an execution through the alias and
/// a version's description.
async fn kept_state(t: &TestServer, sm: &str, alias: &str, exec: &str) -> Vec<Value> {
    vec![
        t.ok("ListStateMachineVersions", json!({"stateMachineArn": sm}))
            .await,
        t.ok(
            "DescribeStateMachineAlias",
            json!({"stateMachineAliasArn": alias}),
        )
        .await,
        t.ok("ListTagsForResource", json!({"resourceArn": sm}))
            .await,
        t.describe(exec).await,
        t.ok(
            "DescribeStateMachine",
            json!({"stateMachineArn": format!("{sm}:2")}),
        )
        .await,
    ]
}

#[tokio::test]
async fn versions_aliases_and_tags_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut c = config();
        c.state_dir = Some(dir.path().to_path_buf());
        TestServer::start(c)
    };
    let t = start();
    let sm = t
        .create_machine_with(
            "kept",
            &says("one"),
            json!({"publish": true, "tags": [{"key": "team", "value": "astro"}]}),
        )
        .await;
    update(
        &t,
        &sm,
        "two",
        json!({"publish": true, "versionDescription": "second"}),
    )
    .await;
    t.ok(
        "DeleteStateMachineVersion",
        json!({"stateMachineVersionArn": format!("{sm}:1")}),
    )
    .await;
    let alias = format!("{sm}:live");
    t.ok(
        "CreateStateMachineAlias",
        json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": format!("{sm}:2"), "weight": 100}]}),
    )
    .await;
    let e = t.start_exec(&alias, "through-alias", &json!({})).await;
    output_of(&t, &e).await;
    let before = kept_state(&t, &sm, &alias, &e).await;
    t.server.stop();

    let t = start();
    let after = kept_state(&t, &sm, &alias, &e).await;
    assert_eq!(after, before);
    // Numbers are still not reused after the restart.
    let up = update(&t, &sm, "three", json!({"publish": true})).await;
    assert_eq!(up["stateMachineVersionArn"], format!("{sm}:3").as_str());
}

#[test]
fn boto3_and_the_cli_use_versions_aliases_tags_map_runs_and_redrives() {
    if !boto3_available() {
        eprintln!("skipped: python3 with boto3 is not installed");
        return;
    }
    run_compat_script("sfn_more.py", &[]);
}

#[tokio::test]
async fn a_nested_start_runs_the_version_or_alias_it_names() {
    let t = TestServer::start(config());
    let child = t.create_machine("child", &says("one")).await;
    update(&t, &child, "two", json!({"publish": true})).await;
    update(&t, &child, "three", json!({})).await;
    let alias = format!("{child}:stable");
    t.ok(
        "CreateStateMachineAlias",
        json!({"name": "stable", "routingConfiguration": [{"stateMachineVersionArn": format!("{child}:1"), "weight": 100}]}),
    )
    .await;
    let parent = |target: &str| {
        json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": target},
            "OutputPath": "$.Output", "End": true}}})
    };
    for (name, target, word) in [
        ("by-machine", child.clone(), "three"),
        ("by-version", format!("{child}:1"), "two"),
        ("by-alias", alias.clone(), "two"),
    ] {
        let p = t.create_machine(name, &parent(&target)).await;
        let e = t.start_exec(&p, "p", &json!({})).await;
        let (got, _) = output_of(&t, &e).await;
        assert_eq!(got, word, "{name}");
    }
    // The child started through the alias is listed under it, naming its version.
    let l = t
        .ok("ListExecutions", json!({"stateMachineArn": alias}))
        .await;
    let listed = l["executions"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{l}");
    assert_eq!(
        listed[0]["stateMachineVersionArn"],
        format!("{child}:1").as_str()
    );
    // A version that does not exist fails the Task as AWS does.
    let p = t
        .create_machine("by-missing", &parent(&format!("{child}:9")))
        .await;
    let e = t.start_exec(&p, "p", &json!({})).await;
    let d = t.wait_end(&e, Duration::from_secs(20)).await;
    assert_eq!(
        d["error"], "StepFunctions.StateMachineDoesNotExistException",
        "{d}"
    );
}
