//! Handler parameters: every kind reads its `params` table (JSON, from functions.toml) into a
//! typed struct that denies unknown keys, so a misspelt parameter is an error naming the kind.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads a kind's parameters; a missing table (`null`) reads as an empty one.
pub fn parse<T: DeserializeOwned>(kind: &str, params: &Value) -> Result<T, String> {
    let params = if params.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        params.clone()
    };
    serde_json::from_value(params).map_err(|e| format!("{kind} handler parameters: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct P {
        #[serde(default)]
        n: u32,
    }

    #[test]
    fn null_is_empty_and_unknown_keys_name_the_kind() {
        assert_eq!(parse::<P>("k", &Value::Null).unwrap(), P { n: 0 });
        assert_eq!(parse::<P>("k", &json!({"n": 3})).unwrap(), P { n: 3 });
        let e = parse::<P>("k", &json!({"m": 1})).unwrap_err();
        assert!(
            e.starts_with("k handler parameters: unknown field `m`"),
            "{e}"
        );
    }
}
