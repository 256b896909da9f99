//! What an execution costs: the price table, exact money, and the bill.
//!
//! # Money
//!
//! [`Money`] counts integer **pico-dollars** (10⁻¹² USD). Every price in the us-east-1 table is a
//! whole number of pico-dollars (Lambda's $0.0000166667 per GB-s is 16,666,700 p$), so prices are
//! exact. Quantities are exact integers too (requests, transitions, MB·ms). The only rounding is
//! the conversion of MB·ms to GB-s (÷ 1,024,000): each bill line is computed as
//! `round_half_up(MB·ms × price-per-GB-s ÷ 1,024,000)` once, so a line is within half a
//! pico-dollar of the exact value, and the total is the exact sum of the lines. A `u64` of
//! pico-dollars holds up to about $18 million.
//!
//! # Rules
//!
//! - Standard: $0.025 per 1,000 state transitions (the engine counts them).
//! - Express: $1.00 per million requests, plus GB-s with memory rounded up to 64 MB and duration
//!   rounded up to 100 ms.
//! - Lambda: $0.20 per million requests, plus GB-s on *configured* memory with each invocation's
//!   duration rounded up to 1 ms; INIT is billed as AWS does since 2025-08-01
//!   ([`InitBilling::Since2025_08_01`]), or by the older rule where zip packages on managed
//!   runtimes had free INIT ([`InitBilling::Legacy`]). Ephemeral storage above 512 MB is billed
//!   per GB-s. Provisioned-concurrency charges are not modelled: provisioned invocations are
//!   priced like on-demand ones.
//! - S3: PUT/COPY/POST/LIST requests, and GET requests (HEAD counts as GET).
//! - Free tiers and the Lambda volume tiers are monthly and account-wide, so a per-execution bill
//!   does not apply them (the first tier's prices are used).
//!
//! [`MemoryBasis::MaxUsed`] prices Lambda GB-s on *max memory used* instead. AWS never bills that
//! way; the mode exists only to compare with published tables that priced that way, and the bill
//! says so.

use std::fmt;
use std::path::Path;

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sim::config::Architecture;
use crate::sim::config_file::{self, string};
use crate::sim::ledger::{ExecutionUsage, ExpressUsage, WorkflowKind};

/// Pico-dollars in one US dollar.
pub const PICODOLLARS_PER_USD: u64 = 1_000_000_000_000;

/// An amount of money in integer pico-dollars (10⁻¹² USD).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// An amount in pico-dollars.
    pub const fn from_picodollars(p: u64) -> Money {
        Money(p)
    }

    /// The amount in pico-dollars.
    pub const fn picodollars(self) -> u64 {
        self.0
    }

    /// A dollar amount, rounded to the nearest pico-dollar; `None` if negative, not finite or
    /// too large.
    pub fn from_usd(usd: f64) -> Option<Money> {
        let p = (usd * PICODOLLARS_PER_USD as f64).round();
        (p.is_finite() && p >= 0.0 && p < u64::MAX as f64).then_some(Money(p as u64))
    }

    /// Parses an exact decimal dollar amount such as `0.0000166667`.
    pub fn parse_usd(text: &str) -> Option<Money> {
        let t = text.trim().trim_start_matches('$');
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 12 {
            return None;
        }
        let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut f: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..12 {
            f *= 10;
        }
        whole
            .checked_mul(PICODOLLARS_PER_USD)?
            .checked_add(f)
            .map(Money)
    }

    /// The amount in dollars, as a float (for display and charts only).
    pub fn usd(self) -> f64 {
        self.0 as f64 / PICODOLLARS_PER_USD as f64
    }

    /// The exact amount in dollars as decimal text, with all 12 decimals (`0.000016666700`).
    pub fn usd_exact(self) -> String {
        format!(
            "{}.{:012}",
            self.0 / PICODOLLARS_PER_USD,
            self.0 % PICODOLLARS_PER_USD
        )
    }

    /// Sum, saturating at the maximum.
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    /// `self × n`, saturating.
    pub fn times(self, n: u64) -> Money {
        Money(self.0.saturating_mul(n))
    }

    /// `price-per-GB-s × MB·ms`, rounded half up to a pico-dollar.
    pub fn per_gb_second(self, mb_ms: u128) -> Money {
        let exact = mb_ms.saturating_mul(u128::from(self.0));
        let rounded = (exact + 512_000) / 1_024_000;
        Money(u64::try_from(rounded).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Money {
    /// `$` and the exact decimal amount, without trailing zeros beyond two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.usd_exact();
        let trimmed = s.trim_end_matches('0');
        let (int, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
        write!(f, "${int}.{frac:0<2}")
    }
}

impl Serialize for Money {
    /// Serialized as its integer pico-dollars.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// Unit prices. The default is us-east-1, read from CALIBRATION.md ("Prices"); any of them can
/// be overridden from a TOML file (see [`PriceTable::from_toml_str`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "PriceTable::us_east_1")]
pub struct PriceTable {
    #[serde(deserialize_with = "string")]
    pub region: String,
    /// When the prices were read, and from where.
    #[serde(deserialize_with = "string")]
    pub read_on: String,
    /// Per Lambda request.
    #[serde(deserialize_with = "usd_price")]
    pub lambda_request: Money,
    /// Per GB-s, x86_64 (first tier).
    #[serde(deserialize_with = "usd_price")]
    pub lambda_gb_second_x86_64: Money,
    /// Per GB-s, arm64 (first tier).
    #[serde(deserialize_with = "usd_price")]
    pub lambda_gb_second_arm64: Money,
    /// Per GB-s of ephemeral storage above 512 MB.
    #[serde(deserialize_with = "usd_price")]
    pub lambda_ephemeral_gb_second: Money,
    /// Per Standard state transition.
    #[serde(deserialize_with = "usd_price")]
    pub standard_transition: Money,
    /// Per Express request (execution started).
    #[serde(deserialize_with = "usd_price")]
    pub express_request: Money,
    /// Per Express GB-s (first tier).
    #[serde(deserialize_with = "usd_price")]
    pub express_gb_second: Money,
    /// Per S3 PUT, COPY, POST or LIST request.
    #[serde(deserialize_with = "usd_price")]
    pub s3_put_request: Money,
    /// Per S3 GET (or HEAD) request.
    #[serde(deserialize_with = "usd_price")]
    pub s3_get_request: Money,
    /// Per DynamoDB on-demand read request unit.
    #[serde(deserialize_with = "usd_price")]
    pub dynamodb_read_unit: Money,
    /// Per DynamoDB on-demand write request unit.
    #[serde(deserialize_with = "usd_price")]
    pub dynamodb_write_unit: Money,
    /// Per SQS request (standard queue).
    #[serde(deserialize_with = "usd_price")]
    pub sqs_request: Money,
    /// Per SQS request to a FIFO queue.
    #[serde(deserialize_with = "usd_price")]
    pub sqs_fifo_request: Money,
    /// Per SNS publish.
    #[serde(deserialize_with = "usd_price")]
    pub sns_publish: Money,
    /// Per EventBridge custom event.
    #[serde(deserialize_with = "usd_price")]
    pub eventbridge_event: Money,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::us_east_1()
    }
}

const fn usd_p(picodollars: u64) -> Money {
    Money::from_picodollars(picodollars)
}

impl PriceTable {
    /// us-east-1 list prices, from CALIBRATION.md "Prices (us-east-1, read 2025–2026)".
    pub fn us_east_1() -> PriceTable {
        PriceTable {
            region: "us-east-1".to_string(),
            read_on: "2025-2026 (CALIBRATION.md, Prices)".to_string(),
            // row "Lambda requests": $0.20 per 1M = $0.0000002
            lambda_request: usd_p(200_000),
            // row "Lambda compute, x86": $0.0000166667 per GB-s, first 6 B GB-s a month
            lambda_gb_second_x86_64: usd_p(16_666_700),
            // row "Lambda compute, arm64": $0.0000133334 per GB-s, first 7.5 B
            lambda_gb_second_arm64: usd_p(13_333_400),
            // row "Lambda ephemeral storage": $0.0000000309 per GB-s above 512 MB
            lambda_ephemeral_gb_second: usd_p(30_900),
            // row "Step Functions Standard": $0.025 per 1,000 transitions = $0.000025
            standard_transition: usd_p(25_000_000),
            // row "Step Functions Express": $1.00 per 1M requests = $0.000001
            express_request: usd_p(1_000_000),
            // same row: $0.00001667 per GB-s (first tier)
            express_gb_second: usd_p(16_670_000),
            // row "S3 requests": PUT/COPY/POST/LIST $0.005 per 1,000 = $0.000005
            s3_put_request: usd_p(5_000_000),
            // same row: GET $0.0004 per 1,000 = $0.0000004
            s3_get_request: usd_p(400_000),
            // DynamoDB pricing page, on-demand, us-east-1 (since 2024-11-01): $0.125 per
            // million read request units, $0.625 per million write request units.
            dynamodb_read_unit: usd_p(125_000),
            dynamodb_write_unit: usd_p(625_000),
            // SQS pricing page, standard queues beyond the free tier: $0.40 per million requests.
            sqs_request: usd_p(400_000),
            // Same page, FIFO queues: $0.50 per million requests.
            sqs_fifo_request: usd_p(500_000),
            // SNS pricing page, standard topics beyond the free tier: $0.50 per million publishes.
            sns_publish: usd_p(500_000),
            // EventBridge pricing page, custom events: $1.00 per million events.
            eventbridge_event: usd_p(1_000_000),
        }
    }

    /// Reads overrides from a TOML file on top of the us-east-1 table; a problem reads
    /// `FILE:LINE: KEY: MESSAGE`.
    pub fn load(path: &Path) -> Result<PriceTable, String> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
        config_file::parse(&text).map_err(|p| p.located(&file))
    }

    /// Overrides from TOML text, on top of the us-east-1 table. Prices are in dollars, as
    /// numbers or (for exactness) decimal strings:
    ///
    /// ```toml
    /// region = "eu-west-1"
    /// read_on = "2026-01-15"
    /// lambda_gb_second_x86_64 = "0.0000166667"
    /// s3_get_request = 0.0000004
    /// ```
    ///
    /// A problem reads `line N: KEY: MESSAGE`.
    pub fn from_toml_str(text: &str) -> Result<PriceTable, String> {
        config_file::parse(text).map_err(|p| match p.line {
            Some(n) => format!("line {n}: {p}"),
            None => p.to_string(),
        })
    }
}

/// Reads a price: dollars as a decimal string (exact), a float, or a whole number.
fn usd_price<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
    let m = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Money::parse_usd(&s),
        toml::Value::Float(f) => Money::from_usd(f),
        toml::Value::Integer(i) => u64::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(PICODOLLARS_PER_USD))
            .map(Money),
        _ => None,
    };
    m.ok_or_else(|| {
        D::Error::custom("a price must be a non-negative dollar amount, like \"0.0000002\"")
    })
}

/// How Lambda's INIT phase is billed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum InitBilling {
    /// AWS's rule since 2025-08-01: INIT is billed for every on-demand function.
    /// CALIBRATION.md, row "Lambda INIT phase".
    #[default]
    #[serde(rename = "since-2025-08-01")]
    Since2025_08_01,
    /// The older rule: INIT was free for zip packages on managed runtimes (container images and
    /// custom runtimes paid for it).
    #[serde(rename = "legacy")]
    Legacy,
}

/// Which memory Lambda GB-s are priced on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum MemoryBasis {
    /// Configured memory, as AWS bills.
    #[default]
    #[serde(rename = "configured")]
    Configured,
    /// Max memory used: not how AWS bills; only for comparing with published tables that
    /// priced that way.
    #[serde(rename = "max-memory-used")]
    MaxUsed,
}

/// Choices that change a bill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BillingOptions {
    pub init: InitBilling,
    pub memory: MemoryBasis,
}

/// One component of a bill.
#[derive(Clone, Debug, PartialEq)]
pub struct BillLine {
    /// A stable identifier: `sfn.transitions`, `lambda.duration.x86_64`, `s3.get`, ...
    pub component: String,
    /// Readable description.
    pub description: String,
    /// How many units (exact for counts; GB-s shown as a float).
    pub quantity: f64,
    /// The unit: `transition`, `request`, `GB-s`.
    pub unit: String,
    pub unit_price: Money,
    pub amount: Money,
}

impl Serialize for BillLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("BillLine", 7)?;
        st.serialize_field("component", &self.component)?;
        st.serialize_field("description", &self.description)?;
        st.serialize_field("quantity", &self.quantity)?;
        st.serialize_field("unit", &self.unit)?;
        st.serialize_field("unit_price_usd", &self.unit_price.usd_exact())?;
        st.serialize_field("amount_usd", &self.amount.usd_exact())?;
        st.serialize_field("amount_picodollars", &self.amount)?;
        st.end()
    }
}

/// The bill of one execution.
#[derive(Clone, Debug, PartialEq)]
pub struct Bill {
    pub execution_arn: String,
    pub region: String,
    pub prices_read_on: String,
    pub options: BillingOptions,
    /// Set when the bill is not priced the way AWS bills (max-memory mode).
    pub note: Option<String>,
    pub lines: Vec<BillLine>,
    pub total: Money,
}

impl Serialize for Bill {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Bill", 9)?;
        st.serialize_field("execution_arn", &self.execution_arn)?;
        st.serialize_field("region", &self.region)?;
        st.serialize_field("prices_read_on", &self.prices_read_on)?;
        st.serialize_field("init_billing", &self.options.init)?;
        st.serialize_field("memory_basis", &self.options.memory)?;
        if let Some(n) = &self.note {
            st.serialize_field("note", n)?;
        }
        st.serialize_field("lines", &self.lines)?;
        st.serialize_field("total_usd", &self.total.usd_exact())?;
        st.serialize_field("total_picodollars", &self.total)?;
        st.end()
    }
}

/// The note a max-memory bill carries.
pub const MAX_MEMORY_NOTE: &str = "Lambda GB-s priced on max memory used, NOT on configured \
     memory as AWS bills: for comparison with published tables that priced that way only";

impl BillLine {
    /// A line priced per unit (`n` transitions, requests, ...).
    fn count(component: &str, description: &str, n: u64, unit: &str, price: Money) -> BillLine {
        BillLine {
            component: component.to_string(),
            description: description.to_string(),
            quantity: n as f64,
            unit: unit.to_string(),
            unit_price: price,
            amount: price.times(n),
        }
    }

    /// A line priced per GB-s, from exact MB·ms.
    fn gb_seconds(component: &str, description: &str, mb_ms: u128, price: Money) -> BillLine {
        BillLine {
            component: component.to_string(),
            description: description.to_string(),
            quantity: mb_ms as f64 / 1_024_000.0,
            unit: "GB-s".to_string(),
            unit_price: price,
            amount: price.per_gb_second(mb_ms),
        }
    }
}

/// The memory (MB) and duration (ms) an Express execution is billed for: 64 MB steps, and
/// the duration rounded up to the next 100 ms, at least 100 ms (CALIBRATION.md, row "Step
/// Functions Express"). StartSyncExecution's `billingDetails` shows the same two numbers.
pub fn express_billed(ex: &ExpressUsage) -> (u64, u64) {
    let mb = ex.memory_mb.max(1).div_ceil(64) * 64;
    let ms = ex.duration_ms.div_ceil(100).max(1).saturating_mul(100);
    (mb, ms)
}

/// [`express_billed`] with the MB·ms product.
fn express_mb_ms(ex: &ExpressUsage) -> (u64, u64, u128) {
    let (mb, ms) = express_billed(ex);
    (mb, ms, u128::from(mb) * u128::from(ms))
}

/// Lambda usage summed over compute classes, on the basis the options choose.
#[derive(Default)]
struct LambdaTotals {
    requests: u64,
    x86_mb_ms: u128,
    arm_mb_ms: u128,
    ephemeral_mb_ms: u128,
}

impl LambdaTotals {
    fn of(usage: &ExecutionUsage, options: &BillingOptions) -> LambdaTotals {
        let legacy = options.init == InitBilling::Legacy;
        let max_used = options.memory == MemoryBasis::MaxUsed;
        let mut t = LambdaTotals::default();
        for (class, c) in &usage.compute {
            t.requests += c.requests;
            let billed = if legacy {
                c.billed_ms_legacy_init
            } else {
                c.billed_ms
            };
            let mb_ms = if max_used {
                u128::from(if legacy {
                    c.used_mb_ms_legacy_init
                } else {
                    c.used_mb_ms
                })
            } else {
                u128::from(class.memory_mb) * u128::from(billed)
            };
            match class.architecture {
                Architecture::X86_64 => t.x86_mb_ms += mb_ms,
                Architecture::Arm64 => t.arm_mb_ms += mb_ms,
            }
            t.ephemeral_mb_ms +=
                u128::from(class.ephemeral_storage_mb.saturating_sub(512)) * u128::from(billed);
        }
        t
    }
}

impl Bill {
    /// Prices one execution's usage.
    pub fn for_execution(
        usage: &ExecutionUsage,
        prices: &PriceTable,
        options: &BillingOptions,
    ) -> Bill {
        let mut lines = workflow_lines(usage, prices);
        lines.extend(express_children_lines(usage, prices));
        lines.extend(lambda_lines(usage, prices, options));
        lines.extend(s3_lines(usage, prices));
        lines.extend(service_lines(usage, prices));
        let total = lines
            .iter()
            .fold(Money::ZERO, |acc, l| acc.saturating_add(l.amount));
        Bill {
            execution_arn: usage.execution_arn.clone(),
            region: prices.region.clone(),
            prices_read_on: prices.read_on.clone(),
            options: *options,
            note: (options.memory == MemoryBasis::MaxUsed).then(|| MAX_MEMORY_NOTE.to_string()),
            lines,
            total,
        }
    }

    /// The amount of one component, if the bill has it.
    pub fn line(&self, component: &str) -> Option<&BillLine> {
        self.lines.iter().find(|l| l.component == component)
    }
}

/// Step Functions itself: Standard transitions, or an Express request and its duration.
fn workflow_lines(usage: &ExecutionUsage, prices: &PriceTable) -> Vec<BillLine> {
    match usage.kind {
        WorkflowKind::Standard => vec![BillLine::count(
            "sfn.transitions",
            "Step Functions Standard state transitions",
            usage.transitions,
            "transition",
            prices.standard_transition,
        )],
        WorkflowKind::Express => {
            let mut lines = vec![BillLine::count(
                "sfn.express.requests",
                "Step Functions Express requests",
                1,
                "request",
                prices.express_request,
            )];
            if let Some(ex) = &usage.express {
                let (mb, ms, mb_ms) = express_mb_ms(ex);
                lines.push(BillLine::gb_seconds(
                    "sfn.express.duration",
                    &format!("Step Functions Express duration ({mb} MB, {ms} ms)"),
                    mb_ms,
                    prices.express_gb_second,
                ));
            }
            lines
        }
    }
}

/// Distributed Map child executions run as Express: requests, and each child's duration billed
/// on its own, in 64 MB and 100 ms steps.
fn express_children_lines(usage: &ExecutionUsage, prices: &PriceTable) -> Vec<BillLine> {
    if usage.express_children.is_empty() {
        return Vec::new();
    }
    let mb_ms: u128 = usage
        .express_children
        .iter()
        .map(|ex| express_mb_ms(ex).2)
        .sum();
    vec![
        BillLine::count(
            "sfn.express_children.requests",
            "Step Functions Express requests (Distributed Map child executions)",
            usage.express_children.len() as u64,
            "request",
            prices.express_request,
        ),
        BillLine::gb_seconds(
            "sfn.express_children.duration",
            "Step Functions Express duration (Distributed Map child executions)",
            mb_ms,
            prices.express_gb_second,
        ),
    ]
}

/// Lambda: requests, GB-s per architecture (x86_64 always shown when there is no arm64), and
/// ephemeral storage above 512 MB.
fn lambda_lines(
    usage: &ExecutionUsage,
    prices: &PriceTable,
    options: &BillingOptions,
) -> Vec<BillLine> {
    let t = LambdaTotals::of(usage, options);
    if t.requests == 0 {
        return Vec::new();
    }
    let mut lines = vec![BillLine::count(
        "lambda.requests",
        "Lambda requests",
        t.requests,
        "request",
        prices.lambda_request,
    )];
    let basis = match options.memory {
        MemoryBasis::MaxUsed => "max memory used",
        MemoryBasis::Configured => "configured memory",
    };
    // (shown?, component, description, MB·ms, price); x86_64 shows even at zero when there is
    // no arm64, so every Lambda bill has a duration line.
    let durations = [
        (
            t.x86_mb_ms > 0 || t.arm_mb_ms == 0,
            "lambda.duration.x86_64",
            format!("Lambda duration, x86_64, on {basis}"),
            t.x86_mb_ms,
            prices.lambda_gb_second_x86_64,
        ),
        (
            t.arm_mb_ms > 0,
            "lambda.duration.arm64",
            format!("Lambda duration, arm64, on {basis}"),
            t.arm_mb_ms,
            prices.lambda_gb_second_arm64,
        ),
        (
            t.ephemeral_mb_ms > 0,
            "lambda.ephemeral_storage",
            "Lambda ephemeral storage above 512 MB".to_string(),
            t.ephemeral_mb_ms,
            prices.lambda_ephemeral_gb_second,
        ),
    ];
    lines.extend(durations.into_iter().filter(|d| d.0).map(
        |(_, component, description, mb_ms, price)| {
            BillLine::gb_seconds(component, &description, mb_ms, price)
        },
    ));
    lines
}

/// DynamoDB request units, SQS requests, SNS publishes and EventBridge events.
fn service_lines(usage: &ExecutionUsage, prices: &PriceTable) -> Vec<BillLine> {
    let s = &usage.services;
    let mut lines = Vec::new();
    if s.dynamodb_read_half_units > 0 {
        // Eventually consistent reads cost half a unit: bill halves exactly.
        let half = s.dynamodb_read_half_units;
        let mut line = BillLine::count(
            "dynamodb.read",
            "DynamoDB on-demand read request units",
            half,
            "read unit",
            prices.dynamodb_read_unit,
        );
        line.quantity = half as f64 / 2.0;
        line.amount = Money(prices.dynamodb_read_unit.0.saturating_mul(half) / 2);
        lines.push(line);
    }
    lines.extend(
        [
            (
                "dynamodb.write",
                "DynamoDB on-demand write request units",
                s.dynamodb_write_units,
                "write unit",
                prices.dynamodb_write_unit,
            ),
            (
                "sqs.requests",
                "SQS requests",
                s.sqs_requests,
                "request",
                prices.sqs_request,
            ),
            (
                "sqs.fifo_requests",
                "SQS FIFO queue requests",
                s.sqs_fifo_requests,
                "request",
                prices.sqs_fifo_request,
            ),
            (
                "sns.publishes",
                "SNS publishes",
                s.sns_publishes,
                "publish",
                prices.sns_publish,
            ),
            (
                "eventbridge.events",
                "EventBridge custom events",
                s.events,
                "event",
                prices.eventbridge_event,
            ),
        ]
        .into_iter()
        .filter(|(_, _, n, _, _)| *n > 0)
        .map(|(component, description, n, unit, price)| {
            BillLine::count(component, description, n, unit, price)
        }),
    );
    lines
}

/// S3 requests: PUT/COPY/POST/LIST at one price, GET (and HEAD) at another.
fn s3_lines(usage: &ExecutionUsage, prices: &PriceTable) -> Vec<BillLine> {
    let s3 = &usage.s3;
    [
        (
            "s3.put",
            "S3 PUT, COPY, POST and LIST requests",
            s3.put_requests + s3.list_requests,
            prices.s3_put_request,
        ),
        (
            "s3.get",
            "S3 GET requests",
            s3.get_requests,
            prices.s3_get_request,
        ),
    ]
    .into_iter()
    .filter(|(_, _, n, _)| *n > 0)
    .map(|(component, description, n, price)| {
        BillLine::count(component, description, n, "request", price)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ledger::{ComputeClass, ComputeTotals};

    fn class(mb: u32) -> ComputeClass {
        ComputeClass {
            architecture: Architecture::X86_64,
            memory_mb: mb,
            ephemeral_storage_mb: 512,
        }
    }

    #[test]
    fn money_parsing_and_display() {
        assert_eq!(Money::parse_usd("0.0000166667"), Some(Money(16_666_700)));
        assert_eq!(Money::parse_usd("$1.5"), Some(Money(1_500_000_000_000)));
        assert_eq!(Money::parse_usd("0.0000000000001"), None);
        assert_eq!(Money::parse_usd("abc"), None);
        assert_eq!(Money::parse_usd("."), None);
        assert_eq!(Money::from_usd(0.0000166667), Some(Money(16_666_700)));
        assert_eq!(Money::from_usd(-1.0), None);
        assert_eq!(Money::from_usd(f64::NAN), None);
        assert_eq!(Money(16_666_700).to_string(), "$0.0000166667");
        assert_eq!(Money(1_500_000_000_000).to_string(), "$1.50");
        assert_eq!(Money(16_666_700).usd_exact(), "0.000016666700");
    }

    #[test]
    fn every_default_price_is_exact() {
        let t = PriceTable::us_east_1();
        for (text, m) in [
            ("0.0000002", t.lambda_request),
            ("0.0000166667", t.lambda_gb_second_x86_64),
            ("0.0000133334", t.lambda_gb_second_arm64),
            ("0.0000000309", t.lambda_ephemeral_gb_second),
            ("0.000025", t.standard_transition),
            ("0.000001", t.express_request),
            ("0.00001667", t.express_gb_second),
            ("0.000005", t.s3_put_request),
            ("0.0000004", t.s3_get_request),
        ] {
            assert_eq!(Money::parse_usd(text), Some(m), "{text}");
        }
    }

    #[test]
    fn price_overrides() {
        let t = PriceTable::from_toml_str(
            "region = \"eu-west-1\"\nlambda_request = \"0.0000003\"\ns3_get_request = 0.0000005\n",
        )
        .unwrap();
        assert_eq!(t.region, "eu-west-1");
        assert_eq!(t.lambda_request, Money(300_000));
        assert_eq!(t.s3_get_request, Money(500_000));
        assert_eq!(t.standard_transition, Money(25_000_000));
        // "unknown key" with the line, as every config file says it (it said "unknown price").
        let e = PriceTable::from_toml_str("region = \"x\"\nlambda_reqest = 1").unwrap_err();
        assert!(
            e.starts_with(
                "line 2: lambda_reqest: unknown key `lambda_reqest`, expected one of `region`"
            ),
            "{e}"
        );
        assert!(PriceTable::from_toml_str("lambda_request = -1").is_err());
    }

    /// Standard worked example, by hand:
    /// - 9 transitions × $0.000025 = $0.000225 = 225,000,000 p$
    /// - 3 Lambda requests × $0.0000002 = 600,000 p$
    /// - GB-s: 128 MB × (101 + 57 + 1,234) ms + 1,024 MB × 250 ms
    ///   = 178,176 + 256,000 = 434,176 MB·ms = 0.424 GB-s exactly;
    ///   × 16,666,700 p$ = 7,066,680.8 p$ → 7,066,681 p$
    /// - S3: 2 GETs × 400,000 = 800,000 p$; 1 PUT + 1 LIST × 5,000,000 = 10,000,000 p$
    /// - total 225,000,000 + 600,000 + 7,066,681 + 800,000 + 10,000,000 = 243,466,681 p$
    #[test]
    fn standard_worked_example() {
        let mut u = ExecutionUsage::new("arn:x", WorkflowKind::Standard);
        u.transitions = 9;
        u.compute.insert(
            class(128),
            ComputeTotals {
                requests: 3,
                billed_ms: 101 + 57 + 1234,
                billed_ms_legacy_init: 0,
                used_mb_ms: 0,
                used_mb_ms_legacy_init: 0,
            },
        );
        u.compute.insert(
            class(1024),
            ComputeTotals {
                requests: 0,
                billed_ms: 250,
                ..Default::default()
            },
        );
        u.s3.get_requests = 2;
        u.s3.put_requests = 1;
        u.s3.list_requests = 1;
        let bill = Bill::for_execution(&u, &PriceTable::us_east_1(), &BillingOptions::default());
        assert_eq!(
            bill.line("sfn.transitions").unwrap().amount,
            Money(225_000_000)
        );
        assert_eq!(bill.line("lambda.requests").unwrap().amount, Money(600_000));
        let d = bill.line("lambda.duration.x86_64").unwrap();
        assert_eq!(d.amount, Money(7_066_681));
        assert!((d.quantity - 0.424).abs() < 1e-12);
        assert_eq!(bill.line("s3.get").unwrap().amount, Money(800_000));
        assert_eq!(bill.line("s3.put").unwrap().amount, Money(10_000_000));
        assert_eq!(bill.total, Money(243_466_681));
        assert!(bill.note.is_none());
    }

    /// Express worked example, by hand: one request ($0.000001 = 1,000,000 p$) plus 130 MB
    /// rounded up to 192 MB, and 1,234 ms rounded up to 1,300 ms: 249,600 MB·ms = 0.24375 GB-s;
    /// × 16,670,000 p$ = 4,063,312.5 p$ → 4,063,313 p$. Total 5,063,313 p$.
    #[test]
    fn express_worked_example() {
        let mut u = ExecutionUsage::new("arn:aws:states:r:1:express:m:n:i", WorkflowKind::Express);
        u.transitions = 40; // not billed for Express
        u.express = Some(ExpressUsage {
            duration_ms: 1234,
            memory_mb: 130,
        });
        let bill = Bill::for_execution(&u, &PriceTable::us_east_1(), &BillingOptions::default());
        assert!(bill.line("sfn.transitions").is_none());
        assert_eq!(
            bill.line("sfn.express.requests").unwrap().amount,
            Money(1_000_000)
        );
        let d = bill.line("sfn.express.duration").unwrap();
        assert!((d.quantity - 0.24375).abs() < 1e-12);
        assert_eq!(d.amount, Money(4_063_313));
        assert_eq!(bill.total, Money(5_063_313));
    }

    #[test]
    fn express_children_of_a_standard_execution() {
        // Two Express children of 1,234 ms and 50 ms at 64 MB: 1,300 ms and 100 ms billed.
        let mut u = ExecutionUsage::new("arn:x", WorkflowKind::Standard);
        u.transitions = 3;
        u.express_children = vec![
            ExpressUsage {
                duration_ms: 1234,
                memory_mb: 64,
            },
            ExpressUsage {
                duration_ms: 50,
                memory_mb: 64,
            },
        ];
        let bill = Bill::for_execution(&u, &PriceTable::us_east_1(), &BillingOptions::default());
        assert_eq!(
            bill.line("sfn.express_children.requests").unwrap().amount,
            Money(2_000_000)
        );
        // 64 MB x 1,400 ms = 0.0875 GB-s at $0.00001667 = $0.000001458625.
        let d = bill.line("sfn.express_children.duration").unwrap();
        assert!((d.quantity - 0.0875).abs() < 1e-12);
        assert_eq!(d.amount, Money(1_458_625));
        assert_eq!(bill.total, Money(75_000_000 + 2_000_000 + 1_458_625));
    }

    #[test]
    fn init_rules_and_memory_basis() {
        let mut u = ExecutionUsage::new("arn:x", WorkflowKind::Standard);
        u.compute.insert(
            class(1024),
            ComputeTotals {
                requests: 1,
                billed_ms: 1100,
                billed_ms_legacy_init: 1000,
                used_mb_ms: 100 * 1100,
                used_mb_ms_legacy_init: 100 * 1000,
            },
        );
        let p = PriceTable::us_east_1();
        let gbs = |o: BillingOptions| {
            Bill::for_execution(&u, &p, &o)
                .line("lambda.duration.x86_64")
                .unwrap()
                .quantity
        };
        let current = gbs(BillingOptions::default());
        let legacy = gbs(BillingOptions {
            init: InitBilling::Legacy,
            ..Default::default()
        });
        assert!((current - 1.1).abs() < 1e-12 && (legacy - 1.0).abs() < 1e-12);
        let maxmem = Bill::for_execution(
            &u,
            &p,
            &BillingOptions {
                memory: MemoryBasis::MaxUsed,
                ..Default::default()
            },
        );
        assert!(maxmem
            .note
            .as_deref()
            .unwrap()
            .contains("NOT on configured memory"));
        let json = serde_json::to_string(&maxmem).unwrap();
        assert!(
            json.contains("\"memory_basis\":\"max-memory-used\""),
            "{json}"
        );
    }
}
