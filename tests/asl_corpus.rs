//! The validator over the whole conformance corpus: every definition AWS rejected is rejected,
//! every other definition is accepted, and nothing panics.

mod support;

#[test]
fn validator_agrees_with_aws_on_the_corpus() {
    let Some(cases) = support::corpus_cases("validator_agrees_with_aws_on_the_corpus") else {
        return;
    };
    assert!(cases.len() > 100, "only {} cases found", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let text = serde_json::to_string_pretty(case.definition()).unwrap();
        let result = stepsim::asl::load_str(&text);
        let should_reject = case.expected_status() == "CREATE_FAILED";
        match (should_reject, result) {
            (true, Ok(_)) => wrong.push(format!("{}: accepted, AWS rejected it", case.name)),
            (false, Err(e)) => wrong.push(format!("{}: rejected: {e}", case.name)),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
