//! The registry of Lambda functions ([`FunctionRegistry`], binding names to [`FunctionSpec`]s),
//! the catalog of handler kinds a functions file can name ([`HandlerCatalog`]), and the
//! functions file itself. The configuration types are in `config.rs`, `FunctionSpec` is in
//! `handler.rs`; both are re-exported here.
//!
//! A functions file is TOML:
//!
//! ```toml
//! [functions.inference]
//! handler = "identity"        # a handler kind from the catalog
//! memory_mb = 128
//! timeout_seconds = 60
//! runtime = "python3.13"
//! [functions.inference.params] # the handler's parameters (kind-specific)
//! ```
//!
//! A function whose table has `code = "folder"` runs the user's own code instead (see
//! [`crate::sim::runtime`]): `handler` is then `module.function`, `runtime` picks python, node or
//! a `provided.*` bootstrap, and `environment = { K = "v" }` and `duration = "model"|"measured"`
//! apply. The folder is relative to the functions file's.
//!
//! Every key is checked: an unknown key, a value out of AWS's range, or an unknown handler kind is
//! an error that names the function and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use toml::Spanned;

use crate::sim::config_file::{self, number, opt_string, opt_u32, string, u32_value};
// `FunctionSpec` is defined with the handler contract (an invocation runs one); it stays
// reachable here, where functions are registered.
pub use crate::sim::handler::FunctionSpec;
use crate::sim::handler::Handler;

// The configuration types live in `config.rs` (below the handler contract); they stay
// reachable here, where functions are registered.
use crate::sim::config::{
    check_ephemeral_storage_mb, check_handler_cpu_ms, check_memory_mb, check_timeout,
};
pub use crate::sim::config::{
    Architecture, ConfigError, FunctionConfig, InitSpec, PackageType, RuntimeFamily,
    MAX_HANDLER_CPU_MS, MAX_VCPUS, MB_PER_VCPU,
};

/// Builds handlers of one kind from their parameters.
pub type HandlerFactory = dyn Fn(&Value) -> Result<Arc<dyn Handler>, String> + Send + Sync;

/// The handler kinds a functions file can name. Empty when created; `crate::handlers` fills in
/// the built-in kinds (and workload packs add theirs), so the world model never depends on
/// workload code.
#[derive(Clone, Default)]
pub struct HandlerCatalog {
    factories: BTreeMap<String, Arc<HandlerFactory>>,
}

impl fmt::Debug for HandlerCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

impl HandlerCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        HandlerCatalog::default()
    }

    /// Adds (or replaces) a kind. The factory receives the function's `params` table as JSON
    /// (an empty object when absent) and returns the handler or a message saying what is wrong.
    pub fn register<F>(&mut self, kind: impl Into<String>, factory: F)
    where
        F: Fn(&Value) -> Result<Arc<dyn Handler>, String> + Send + Sync + 'static,
    {
        self.factories.insert(kind.into(), Arc::new(factory));
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// Whether a kind is registered.
    pub fn contains(&self, kind: &str) -> bool {
        self.factories.contains_key(kind)
    }

    /// Builds a handler of `kind` from `params`.
    pub fn build(&self, kind: &str, params: &Value) -> Result<Arc<dyn Handler>, String> {
        match self.factories.get(kind) {
            Some(f) => f(params),
            None => Err(format!(
                "unknown handler kind `{kind}` (known: {})",
                self.kinds().join(", ")
            )),
        }
    }
}

/// The functions a world knows, by name. Shared (cheaply cloned) by sweep workers.
#[derive(Clone, Debug, Default)]
pub struct FunctionRegistry {
    functions: BTreeMap<String, Arc<FunctionSpec>>,
}

/// Whether `name` is a valid Lambda function name (1–64 of `A-Za-z0-9-_`).
pub fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl FunctionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        FunctionRegistry::default()
    }

    /// Registers a function with a handler written in code.
    pub fn register(
        &mut self,
        name: &str,
        config: FunctionConfig,
        handler: impl Handler + 'static,
    ) -> Result<(), ConfigError> {
        self.register_spec(FunctionSpec {
            name: name.to_string(),
            kind: "code".to_string(),
            config,
            handler: Arc::new(handler),
        })
    }

    /// Registers a fully built function (replacing one of the same name).
    pub fn register_spec(&mut self, spec: FunctionSpec) -> Result<(), ConfigError> {
        if !valid_function_name(&spec.name) {
            return Err(ConfigError::Invalid {
                function: spec.name.clone(),
                key: "name".to_string(),
                message: "a function name has 1 to 64 letters, digits, '-' or '_'".to_string(),
            });
        }
        spec.config.validate(&spec.name)?;
        self.functions.insert(spec.name.clone(), Arc::new(spec));
        Ok(())
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<FunctionSpec>> {
        self.functions.get(name)
    }

    /// All functions, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<FunctionSpec>> {
        self.functions.values()
    }

    /// How many functions there are.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// Reads a functions file.
    pub fn load(path: &Path, catalog: &HandlerCatalog) -> Result<FunctionRegistry, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            source_name: path.display().to_string(),
            line: None,
            message: e.to_string(),
        })?;
        let mut reg = FunctionRegistry::new();
        // User code folders (`code = ...`) are relative to the functions file's folder.
        let base = path.parent().unwrap_or(Path::new(""));
        reg.add_toml_in(&text, &path.display().to_string(), base, catalog)?;
        Ok(reg)
    }

    /// Parses functions-file text (`source_name` labels errors).
    pub fn from_toml_str(
        text: &str,
        source_name: &str,
        catalog: &HandlerCatalog,
    ) -> Result<FunctionRegistry, ConfigError> {
        let mut reg = FunctionRegistry::new();
        reg.add_toml(text, source_name, catalog)?;
        Ok(reg)
    }

    /// Adds the functions of a functions file to this registry. A problem is a
    /// [`ConfigError::File`] naming the line, and the function and key when it is about one.
    pub fn add_toml(
        &mut self,
        text: &str,
        source_name: &str,
        catalog: &HandlerCatalog,
    ) -> Result<(), ConfigError> {
        self.add_toml_in(text, source_name, Path::new(""), catalog)
    }

    /// [`FunctionRegistry::add_toml`], with `code` folders relative to `base`.
    pub fn add_toml_in(
        &mut self,
        text: &str,
        source_name: &str,
        base: &Path,
        catalog: &HandlerCatalog,
    ) -> Result<(), ConfigError> {
        let at = |line: Option<usize>, message: String| ConfigError::File {
            source_name: source_name.to_string(),
            line,
            message,
        };
        let file: FunctionsFile =
            config_file::parse(text).map_err(|p| at(p.line, problem_message(&p)))?;
        for (name, entry) in file.functions {
            let line = Some(config_file::line_at(text, entry.span().start));
            let spec = entry
                .into_inner()
                .build(&name, base, catalog)
                .and_then(|spec| self.register_spec(spec));
            spec.map_err(|e| at(line, e.to_string()))?;
        }
        Ok(())
    }
}

/// What a functions-file problem says: the function and the key when it is about one.
fn problem_message(p: &config_file::Problem) -> String {
    match p.path.as_slice() {
        [functions, name, key @ ..] if functions == "functions" => ConfigError::Invalid {
            function: name.clone(),
            key: if key.is_empty() {
                name.clone()
            } else {
                key.join(".")
            },
            message: p.message.clone(),
        }
        .to_string(),
        [key] if key != "functions" && p.message.starts_with("unknown key") => format!(
            "unknown top-level key `{key}` (a functions file has only [functions.NAME] tables)"
        ),
        _ => p.to_string(),
    }
}

/// A functions file: `[functions.NAME]` tables, in file order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionsFile {
    #[serde(default)]
    functions: IndexMap<String, Spanned<FunctionEntry>>,
}

/// One `[functions.NAME]` table. Range checks that need no other key run as each value is read,
/// with AWS's wording; the rest run in [`FunctionConfig::validate`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([functions.NAME])")]
struct FunctionEntry {
    #[serde(default, deserialize_with = "opt_string")]
    handler: Option<String>,
    #[serde(default, deserialize_with = "memory_mb")]
    memory_mb: Option<u32>,
    #[serde(default, deserialize_with = "timeout_seconds")]
    timeout_seconds: Option<Duration>,
    #[serde(default, deserialize_with = "opt_string")]
    runtime: Option<String>,
    #[serde(default, deserialize_with = "architecture")]
    architecture: Option<Architecture>,
    #[serde(default, deserialize_with = "package_type")]
    package_type: Option<PackageType>,
    #[serde(default, deserialize_with = "opt_u32")]
    reserved_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "opt_u32")]
    provisioned_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "ephemeral_storage_mb")]
    ephemeral_storage_mb: Option<u32>,
    #[serde(default)]
    init: Option<InitSpec>,
    #[serde(default, deserialize_with = "handler_cpu_ms")]
    handler_cpu_ms: Option<f64>,
    #[serde(default, deserialize_with = "opt_string")]
    role: Option<String>,
    /// The handler's parameters: free form, checked by the handler kind's factory.
    #[serde(default)]
    params: Option<toml::Value>,
    /// User code: the folder holding it (then `handler` is `module.function`).
    #[serde(default, deserialize_with = "opt_string")]
    code: Option<String>,
    /// User code: the function's environment variables.
    #[serde(default)]
    environment: Option<BTreeMap<String, String>>,
    /// User code: `model` (default) or `measured`.
    #[serde(default, deserialize_with = "opt_string")]
    duration: Option<String>,
}

impl FunctionEntry {
    /// The function this entry describes, its handler built from the catalog.
    fn build(
        self,
        name: &str,
        base: &Path,
        catalog: &HandlerCatalog,
    ) -> Result<FunctionSpec, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            function: name.to_string(),
            key: key.to_string(),
            message,
        };
        let defaults = FunctionConfig::default();
        let config = FunctionConfig {
            memory_mb: self.memory_mb.unwrap_or(defaults.memory_mb),
            timeout: self.timeout_seconds.unwrap_or(defaults.timeout),
            runtime: self.runtime.unwrap_or(defaults.runtime),
            architecture: self.architecture.unwrap_or(defaults.architecture),
            package_type: self.package_type.unwrap_or(defaults.package_type),
            reserved_concurrency: self.reserved_concurrency,
            provisioned_concurrency: self
                .provisioned_concurrency
                .unwrap_or(defaults.provisioned_concurrency),
            ephemeral_storage_mb: self
                .ephemeral_storage_mb
                .unwrap_or(defaults.ephemeral_storage_mb),
            init: self.init,
            handler_cpu_ms: self.handler_cpu_ms.unwrap_or(defaults.handler_cpu_ms),
            role: self.role,
        };
        let kind = self.handler.ok_or_else(|| {
            invalid(
                "handler",
                format!(
                    "missing: say which handler kind runs this function (known: {})",
                    catalog.kinds().join(", ")
                ),
            )
        })?;
        config.validate(name)?;
        if let Some(code) = &self.code {
            return user_code(
                name,
                base,
                code,
                kind,
                config,
                self.environment,
                self.duration,
            );
        }
        for (key, given) in [
            ("environment", self.environment.is_some()),
            ("duration", self.duration.is_some()),
        ] {
            if given {
                return Err(invalid(
                    key,
                    "applies only to user code (a function with `code = \"folder\"`)".into(),
                ));
            }
        }
        let params = self
            .params
            .as_ref()
            .map(toml_to_json)
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        let handler = catalog.build(&kind, &params).map_err(|m| {
            invalid(
                if catalog.contains(&kind) {
                    "params"
                } else {
                    "handler"
                },
                m,
            )
        })?;
        Ok(FunctionSpec {
            name: name.to_string(),
            kind,
            config,
            handler,
        })
    }
}

/// A function whose handler is the user's code in `base/code` (see [`crate::sim::runtime`]).
fn user_code(
    name: &str,
    base: &Path,
    code: &str,
    handler: String,
    config: FunctionConfig,
    environment: Option<BTreeMap<String, String>>,
    duration: Option<String>,
) -> Result<FunctionSpec, ConfigError> {
    use crate::sim::runtime::{DurationMode, ProcessHandler, UserCode};
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        function: name.to_string(),
        key: key.to_string(),
        message,
    };
    let duration = match duration.as_deref() {
        None | Some("model") => DurationMode::Model,
        Some("measured") => DurationMode::Measured,
        Some(other) => {
            return Err(invalid(
                "duration",
                format!("`{other}` is not `model` or `measured`"),
            ))
        }
    };
    let user = UserCode {
        runtime: config.runtime.clone(),
        handler,
        code_dir: base.join(code),
        environment: environment.unwrap_or_default(),
        duration,
    };
    let handler = ProcessHandler::new(user).map_err(|(key, m)| invalid(key, m))?;
    Ok(FunctionSpec {
        name: name.to_string(),
        kind: "code".to_string(),
        config,
        handler: Arc::new(handler),
    })
}

// Readers of single values (see `FunctionEntry`), present or absent.

fn memory_mb<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let mb = u32_value(d)?;
    check_memory_mb(mb).map_err(D::Error::custom)?;
    Ok(Some(mb))
}

fn timeout_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let t = Duration::from_secs(u64::from(u32_value(d)?));
    check_timeout(t).map_err(D::Error::custom)?;
    Ok(Some(t))
}

fn ephemeral_storage_mb<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let mb = u32_value(d)?;
    check_ephemeral_storage_mb(mb).map_err(D::Error::custom)?;
    Ok(Some(mb))
}

fn handler_cpu_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let ms = number(d)?;
    check_handler_cpu_ms(ms).map_err(D::Error::custom)?;
    Ok(Some(ms))
}

fn architecture<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Architecture>, D::Error> {
    match string(d)?.as_str() {
        "x86_64" => Ok(Some(Architecture::X86_64)),
        "arm64" => Ok(Some(Architecture::Arm64)),
        other => Err(D::Error::custom(format!(
            "`{other}` is not `x86_64` or `arm64`"
        ))),
    }
}

/// `zip` or `image`, in any case (AWS's API spells them `Zip` and `Image`).
fn package_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PackageType>, D::Error> {
    match string(d)?.to_ascii_lowercase().as_str() {
        "zip" => Ok(Some(PackageType::Zip)),
        "image" => Ok(Some(PackageType::Image)),
        other => Err(D::Error::custom(format!(
            "`{other}` is not `zip` or `image`"
        ))),
    }
}

/// Converts TOML to JSON (datetimes become their RFC 3339 text).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dist::QuantileDist;
    use crate::sim::handler::{handler_fn, FunctionError, Invocation};

    fn catalog() -> HandlerCatalog {
        let mut c = HandlerCatalog::new();
        c.register("echo", |params: &Value| {
            if params.as_object().is_some_and(|m| !m.is_empty()) {
                return Err("echo takes no parameters".to_string());
            }
            let h = handler_fn(|event: Value, _ctx: &mut Invocation| Ok::<_, FunctionError>(event));
            Ok(Arc::new(h) as Arc<dyn Handler>)
        });
        c
    }

    fn parse(text: &str) -> Result<FunctionRegistry, ConfigError> {
        FunctionRegistry::from_toml_str(text, "functions.toml", &catalog())
    }

    #[test]
    fn parses_a_full_entry() {
        let reg = parse(
            r#"
            [functions.inference]
            handler = "echo"
            memory_mb = 10240
            timeout_seconds = 60
            runtime = "python3.12"
            architecture = "arm64"
            package_type = "Image"
            reserved_concurrency = 5
            provisioned_concurrency = 2
            ephemeral_storage_mb = 1024
            init = { p50_ms = 900, p99_ms = 1300.5 }
            "#,
        )
        .unwrap();
        let f = reg.get("inference").unwrap();
        assert_eq!(f.kind, "echo");
        assert_eq!(f.config.memory_mb, 10240);
        assert_eq!(f.config.timeout, Duration::from_secs(60));
        assert_eq!(f.config.architecture, Architecture::Arm64);
        assert_eq!(f.config.package_type, PackageType::Image);
        assert_eq!(f.config.reserved_concurrency, Some(5));
        assert_eq!(f.config.provisioned_concurrency, 2);
        assert_eq!(f.config.init.as_ref().unwrap().p99_ms, 1300.5);
    }

    #[test]
    fn defaults_are_aws_defaults() {
        let reg = parse("[functions.f]\nhandler = \"echo\"\n").unwrap();
        let c = &reg.get("f").unwrap().config;
        assert_eq!(c.memory_mb, 128);
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.ephemeral_storage_mb, 512);
        assert!((c.cpu_share() - 128.0 / 1769.0).abs() < 1e-12);
        // 128 MB runs about 13.8x slower than one vCPU.
        assert!((1.0 / c.cpu_share() - 13.82).abs() < 0.01);
    }

    fn err_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_function_and_key() {
        let e = err_of("[functions.big]\nhandler = \"echo\"\nmemory_mb = 20000\n");
        assert!(
            e.contains("`big`") && e.contains("`memory_mb`") && e.contains("10,240"),
            "{e}"
        );
        // File, line, function and key.
        assert!(
            e.starts_with("functions.toml:3: function `big`, key `memory_mb`: "),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"echo\"\nmemroy_mb = 1\n");
        assert!(e.contains("expected one of `handler`, `memory_mb`"), "{e}");
        let e = err_of("[functions.f]\nreserved_concurrency = 1\nprovisioned_concurrency = 2\n");
        assert!(
            e.starts_with("functions.toml:1: function `f`, key `handler`"),
            "{e}"
        );
        let e = err_of("[functions.slow]\nhandler = \"echo\"\ntimeout_seconds = 901\n");
        assert!(
            e.contains("`slow`") && e.contains("`timeout_seconds`") && e.contains("900"),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"nope\"\n");
        assert!(
            e.contains("`handler`")
                && e.contains("unknown handler kind `nope`")
                && e.contains("echo"),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"echo\"\nmemroy_mb = 1\n");
        assert!(
            e.contains("`memroy_mb`") && e.contains("unknown key"),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"echo\"\nruntime = \"cobol\"\n");
        assert!(e.contains("`runtime`") && e.contains("cobol"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\n[functions.f.params]\nx = 1\n");
        assert!(e.contains("`params`") && e.contains("no parameters"), "{e}");
        let e = err_of("[functions.f]\nmemory_mb = 256\n");
        assert!(e.contains("`handler`") && e.contains("missing"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\nmemory_mb = \"big\"\n");
        assert!(e.contains("expected an integer"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\nreserved_concurrency = 1\nprovisioned_concurrency = 2\n");
        assert!(e.contains("`provisioned_concurrency`"), "{e}");
        let e = err_of("[function.f]\nhandler = \"echo\"\n");
        assert!(e.contains("unknown top-level key `function`"), "{e}");
        let e = err_of("[functions.\"bad name!\"]\nhandler = \"echo\"\n");
        assert!(e.contains("`name`"), "{e}");
        let e = err_of("not toml = = =");
        assert!(e.starts_with("functions.toml:"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\ninit = { p50_ms = 100 }\n");
        assert!(e.contains("`init`") && e.contains("p99_ms"), "{e}");
    }

    #[test]
    fn runtime_families() {
        assert_eq!(RuntimeFamily::of("python3.13"), Some(RuntimeFamily::Python));
        assert_eq!(RuntimeFamily::of("nodejs22.x"), Some(RuntimeFamily::Node));
        assert_eq!(
            RuntimeFamily::of("provided.al2023"),
            Some(RuntimeFamily::Provided)
        );
        assert_eq!(RuntimeFamily::of("cobol"), None);
        assert!(!RuntimeFamily::Provided.is_managed());
        for f in [
            RuntimeFamily::Python,
            RuntimeFamily::Node,
            RuntimeFamily::Java,
            RuntimeFamily::Dotnet,
            RuntimeFamily::Ruby,
            RuntimeFamily::Provided,
        ] {
            assert!(QuantileDist::from_percentiles(&f.init_percentiles_ms()).is_ok());
        }
    }
}
