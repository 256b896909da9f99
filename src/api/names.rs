//! Names and ARNs as Step Functions checks them: which names are allowed for state machines,
//! executions and activities, how ARNs are built, and how a request's ARN is taken apart into
//! the errors AWS answers (`InvalidArn` when it is not an ARN of the right kind, `InvalidName`
//! for a bad name).

use super::error::ApiError;

/// The longest state machine, execution or activity name (80 characters).
pub const MAX_NAME_CHARS: usize = 80;

/// Why a name is not allowed, or `None` when it is fine. AWS allows 1–80 characters, none of
/// them whitespace, brackets `< > { } [ ]`, wildcards `? *`, the specials
/// `" # % \ ^ | ~ ` $ & , ; : /`, or control characters (U+0000–001F, U+007F–009F).
pub fn name_problem(name: &str) -> Option<String> {
    let count = name.chars().count();
    if count == 0 {
        return Some("the name is empty".to_string());
    }
    if count > MAX_NAME_CHARS {
        return Some(format!(
            "the name has {count} characters; at most {MAX_NAME_CHARS} are allowed"
        ));
    }
    for c in name.chars() {
        let bad = c.is_whitespace()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || (c as u32) <= 0x1f
            || (0x7f..=0x9f).contains(&(c as u32));
        if bad {
            return Some(format!("the character {c:?} is not allowed in a name"));
        }
    }
    None
}

/// `InvalidName` for a bad name.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    match name_problem(name) {
        None => Ok(()),
        Some(why) => Err(ApiError::bad_request(
            "InvalidName",
            format!("Invalid Name: '{name}' ({why})"),
        )),
    }
}

/// The parts of an `arn:PARTITION:states:REGION:ACCOUNT:TYPE:...` ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatesArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    /// `stateMachine`, `execution`, `express`, `activity`, ...
    pub resource_type: &'a str,
    /// What follows the resource type, split on `:`.
    pub rest: Vec<&'a str>,
}

/// Splits a Step Functions ARN, or explains why it is not one.
pub fn parse_states_arn(arn: &str) -> Result<StatesArn<'_>, ApiError> {
    let invalid = |why: &str| {
        Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: '{why}: {arn}'"),
        ))
    };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "states" {
        return invalid("Unable to parse Step Functions ARN");
    }
    if parts[1].is_empty() || parts[3].is_empty() || parts[4].is_empty() {
        return invalid("Partition, Region and account must not be empty");
    }
    Ok(StatesArn {
        region: parts[3],
        account: parts[4],
        resource_type: parts[5],
        rest: parts[6..].to_vec(),
    })
}

/// What a `stateMachine` ARN names: the machine, one of its versions (`:7`) or an alias
/// (`:prod`). `base` is the machine's own ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineRef<'a> {
    Machine,
    Version(u64),
    Alias(&'a str),
}

/// Splits a `stateMachine` ARN into the machine's ARN and what its qualifier names.
pub fn machine_ref(arn: &str) -> Result<(&str, MachineRef<'_>), ApiError> {
    let a = parse_states_arn(arn)?;
    if a.resource_type != "stateMachine" {
        return Err(ApiError::bad_request(
            "InvalidArn",
            format!(
                "Invalid Arn: 'Resource type not valid in this context: {}'",
                a.resource_type
            ),
        ));
    }
    let invalid = || {
        ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
        )
    };
    match a.rest.as_slice() {
        [name] if !name.is_empty() => Ok((arn, MachineRef::Machine)),
        [name, q] if !name.is_empty() && !q.is_empty() => {
            let base = &arn[..arn.len() - q.len() - 1];
            if q.bytes().all(|b| b.is_ascii_digit()) {
                let n = q.parse::<u64>().map_err(|_| invalid())?;
                Ok((base, MachineRef::Version(n)))
            } else {
                Ok((base, MachineRef::Alias(q)))
            }
        }
        _ => Err(invalid()),
    }
}

/// The state machine name of an unqualified `stateMachine` ARN (`InvalidArn` otherwise). A
/// version or alias ARN (`:1`, `:prod`) is refused with `ValidationException`: the action
/// takes the machine itself.
pub fn state_machine_name(arn: &str) -> Result<&str, ApiError> {
    let a = parse_states_arn(arn)?;
    if a.resource_type != "stateMachine" {
        return Err(ApiError::bad_request(
            "InvalidArn",
            format!(
                "Invalid Arn: 'Resource type not valid in this context: {}'",
                a.resource_type
            ),
        ));
    }
    match a.rest.as_slice() {
        [name] if !name.is_empty() => Ok(name),
        [_, _] => Err(ApiError::validation(format!(
            "The state machine ARN '{arn}' names a version or an alias; this action takes the \
             state machine's own ARN"
        ))),
        _ => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
        )),
    }
}

/// Checks that an ARN is a map run ARN (`mapRun:{machine}/{label}:{id}`).
pub fn check_map_run_arn(arn: &str) -> Result<(), ApiError> {
    let a = parse_states_arn(arn)?;
    match (a.resource_type, a.rest.as_slice()) {
        ("mapRun", [run, id]) if !run.is_empty() && !id.is_empty() => Ok(()),
        ("mapRun", _) => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
        )),
        (other, _) => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: {other}'"),
        )),
    }
}

/// Checks that an ARN is an execution ARN (`execution:` or `express:`).
pub fn check_execution_arn(arn: &str) -> Result<(), ApiError> {
    let a = parse_states_arn(arn)?;
    match (a.resource_type, a.rest.len()) {
        ("execution", 2) | ("express", 3) => Ok(()),
        ("execution" | "express", _) => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
        )),
        (other, _) => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: {other}'"),
        )),
    }
}

/// The activity name of an `activity` ARN.
pub fn activity_name(arn: &str) -> Result<&str, ApiError> {
    let a = parse_states_arn(arn)?;
    match (a.resource_type, a.rest.as_slice()) {
        ("activity", [name]) if !name.is_empty() => Ok(name),
        ("activity", _) => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
        )),
        (other, _) => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: {other}'"),
        )),
    }
}

/// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`.
pub fn state_machine_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{account}:stateMachine:{name}")
}

/// `arn:aws:states:REGION:ACCOUNT:activity:NAME`.
pub fn activity_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{account}:activity:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_problem("step5-execution-1753127540").is_none());
        assert!(name_problem("team2-COSMIC-AI-7078ea12").is_none());
        assert!(name_problem("ünïcode_ok.1").is_none());
        assert!(name_problem(&"a".repeat(80)).is_none());
        assert!(name_problem(&"a".repeat(81)).is_some());
        assert!(name_problem("").is_some());
        for bad in [
            "a b", "a/b", "a:b", "a*", "a\u{7}", "a\u{85}", "x{y}", "a$b", "a\tb",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        let e = check_name("a b").unwrap_err();
        assert_eq!(e.code, "InvalidName");
    }

    #[test]
    fn arns() {
        let arn = "arn:aws:states:us-east-1:211125778552:stateMachine:team2-COSMIC-AI-7078ea12";
        assert_eq!(state_machine_name(arn).unwrap(), "team2-COSMIC-AI-7078ea12");
        assert_eq!(state_machine_name("nope").unwrap_err().code, "InvalidArn");
        assert_eq!(
            state_machine_name("arn:aws:states:us-east-1:1:execution:a:b")
                .unwrap_err()
                .code,
            "InvalidArn"
        );
        assert_eq!(
            state_machine_name("arn:aws:states:us-east-1:1:stateMachine:a:1")
                .unwrap_err()
                .code,
            "ValidationException"
        );
        let base = "arn:aws:states:us-east-1:1:stateMachine:a";
        assert_eq!(machine_ref(base).unwrap(), (base, MachineRef::Machine));
        assert_eq!(
            machine_ref(&format!("{base}:12")).unwrap(),
            (base, MachineRef::Version(12))
        );
        assert_eq!(
            machine_ref(&format!("{base}:prod")).unwrap(),
            (base, MachineRef::Alias("prod"))
        );
        for bad in [
            format!("{base}:"),
            format!("{base}:1:2"),
            format!("{base}:99999999999999999999999"),
        ] {
            assert_eq!(machine_ref(&bad).unwrap_err().code, "InvalidArn", "{bad}");
        }
        assert!(check_map_run_arn("arn:aws:states:us-east-1:1:mapRun:a/M:x").is_ok());
        assert!(check_map_run_arn("arn:aws:states:us-east-1:1:mapRun:a/M").is_err());
        assert!(check_execution_arn("arn:aws:states:us-east-1:1:execution:sm:e").is_ok());
        assert!(check_execution_arn("arn:aws:states:us-east-1:1:express:sm:e:u").is_ok());
        assert!(check_execution_arn("arn:aws:states:us-east-1:1:execution:sm").is_err());
        assert!(check_execution_arn("arn:aws:states:us-east-1:1:stateMachine:sm").is_err());
        assert_eq!(
            activity_name("arn:aws:states:us-east-1:1:activity:work").unwrap(),
            "work"
        );
    }
}
