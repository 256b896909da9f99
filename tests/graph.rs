//! State-machine graphs: the SVG of a definition is the same bytes every time, nested bodies
//! and Choice/Catch edges are drawn, and `stepsim run --graph` colours an execution's states.

use std::process::Command;

use stepsim::graph;

const NESTED: &str = r#"{"StartAt":"C","States":{
  "C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":3,"Next":"P"}],"Default":"Loop"},
  "Loop":{"Type":"Pass","Result":5,"ResultPath":"$.n","Next":"C"},
  "P":{"Type":"Parallel","Branches":[
     {"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A2"},"A2":{"Type":"Wait","Seconds":1,"End":true}}},
     {"StartAt":"B","States":{"B":{"Type":"Fail","Error":"Boom"}}}],
     "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Handle"}],"Next":"M"},
  "Handle":{"Type":"Pass","Result":{"items":[1,2]},"Next":"M"},
  "M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"Next":"Done"},
  "Done":{"Type":"Succeed"}}}"#;

#[test]
fn the_same_definition_gives_the_same_svg_bytes() {
    let m = stepsim::asl::load_str(NESTED).expect("valid definition");
    let a = graph::definition_svg(&m);
    let b = graph::definition_svg(&stepsim::asl::load_str(NESTED).expect("valid"));
    assert_eq!(a, b);
    for name in [
        "C", "Loop", "P", "A", "A2", "B", "Handle", "M", "I", "Done", "Start", "End",
    ] {
        assert!(a.contains(&format!(">{name}</text>")), "{name} is drawn");
    }
    assert!(a.contains("$.n NumericGreaterThan 3"));
    assert!(a.contains("Catch #States.ALL"));
    assert!(a.contains("class=\"edge catch\""));
    // One body box per Parallel branch plus one for the Map.
    assert_eq!(a.matches("class=\"body\"").count(), 3);
    // Uncoloured: no status classes.
    assert!(!a.contains("data-status"));
}

#[test]
fn boxes_hold_their_bodies_and_nothing_overlaps() {
    let m = stepsim::asl::load_str(NESTED).expect("valid definition");
    let g = graph::build(&m);
    let l = graph::layout(&g);
    let id = |name: &str| g.nodes.iter().position(|n| n.label == name).expect(name);
    let inside = |inner: graph::Rect, outer: graph::Rect| {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.right() <= outer.right()
            && inner.bottom() <= outer.bottom()
    };
    let p = l.nodes[id("P")];
    for n in ["A", "A2", "B"] {
        assert!(inside(l.nodes[id(n)], p), "{n} is inside P");
    }
    assert!(inside(l.nodes[id("I")], l.nodes[id("M")]));
    // The top-level states do not overlap, and each is below the one before it.
    let top = ["C", "P", "Handle", "M", "Done"];
    for w in top.windows(2) {
        assert!(l.nodes[id(w[0])].bottom() < l.nodes[id(w[1])].y, "{w:?}");
    }
    for r in &l.nodes {
        assert!(r.right() <= l.width && r.bottom() <= l.height);
    }
}

#[test]
fn run_graph_writes_the_execution_coloured() {
    let dir = std::env::temp_dir().join(format!("stepsim-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let def = dir.join("m.asl.json");
    std::fs::write(&def, NESTED).expect("write definition");
    let svg_path = dir.join("run.svg");
    let run = |out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_stepsim"))
            .args([
                "run",
                def.to_str().unwrap(),
                "--input",
                r#"{"n": 5}"#,
                "--graph",
            ])
            .arg(out)
            .output()
            .expect("stepsim runs")
    };
    let out = run(&svg_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).expect("the SVG is written");
    let status = |name: &str| -> String {
        let key = format!("data-state=\"{name}\" data-status=\"");
        let at = svg
            .find(&key)
            .unwrap_or_else(|| panic!("{name} has a status"))
            + key.len();
        svg[at..].split('"').next().unwrap_or_default().to_string()
    };
    assert_eq!(status("C"), "succeeded");
    assert_eq!(status("Loop"), "not-run");
    assert_eq!(status("P"), "caught");
    assert_eq!(status("B"), "failed");
    assert_eq!(status("A"), "succeeded");
    assert_eq!(status("Handle"), "succeeded");
    assert_eq!(status("I"), "succeeded");
    assert_eq!(status("Done"), "succeeded");
    // Same run, same bytes.
    let again = dir.join("again.svg");
    assert!(run(&again).status.success());
    assert_eq!(std::fs::read(&again).unwrap(), svg.as_bytes());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_report_links_the_definition_graph() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lambda-chain/sweep.toml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(["sweep", spec, "--out"])
        .arg(dir.path())
        .arg("-q")
        .output()
        .expect("stepsim sweep runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    assert!(md.contains("![The state machine](graph.svg)"), "{md}");
    let svg = std::fs::read_to_string(dir.path().join("graph.svg")).expect("graph.svg");
    let project = stepsim::project::Project::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lambda-chain"
    )))
    .expect("the fixture project");
    assert_eq!(svg, graph::definition_svg(&project.machine));
    for s in &project.machine.body.states {
        assert!(
            svg.contains(&format!("data-state=\"{}\"", s.name)),
            "{}",
            s.name
        );
    }
}
