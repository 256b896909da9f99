//! Distributed Map's data plumbing: ItemReader (JSON, JSONL, CSV, S3 inventory manifests,
//! ListObjectsV2 listings), ItemBatcher, and ResultWriter with the files AWS writes
//! (`manifest.json`, `SUCCEEDED_n.json`, `FAILED_n.json`, `PENDING_n.json`).
//!
//! Every S3 access is a [`ServiceCall`] to the `s3` service, so the same store the Lambda
//! handlers see serves the Map, and S3 requests are billed like any other.

use serde_json::{Map, Value};

use super::errors::{names, AslError};
use super::execution::{Exec, Frame, StateRun};
use super::invoker::{
    CallContext, IntegrationPattern, ServiceCall, ServiceRequest, ServiceResponse,
};
use super::io::{as_integer, display_plain};
use super::map::ChildRecord;
use super::plan::{CompiledInt, CompiledItemBatcher, CompiledItemReader, CompiledResultWriter};

/// An S3 failure while reading items, as the ItemReader reports it.
fn reader_failed(e: AslError) -> AslError {
    AslError::new(
        names::ITEM_READER_FAILED,
        e.cause.unwrap_or_else(|| e.error.clone()),
    )
}

/// AWS's ItemBatcher limit on a batch's input (256 KiB).
const MAX_BATCH_BYTES: usize = 262_144;

impl Exec<'_> {
    async fn s3(&self, run: &StateRun<'_>, action: &str, params: Value) -> Result<Value, AslError> {
        let call = ServiceCall {
            resource: format!("arn:aws:states:::s3:{action}"),
            pattern: IntegrationPattern::RequestResponse,
            request: ServiceRequest::Sdk {
                service: "s3".into(),
                action: action.into(),
                parameters: params,
            },
            context: CallContext {
                execution_arn: self.facts.execution_arn.clone(),
                state_name: run.st.name.to_string(),
                ..CallContext::default()
            },
        };
        self.invoker
            .invoke(call)
            .await
            .map(ServiceResponse::into_json)
            .map_err(|f| AslError::new(f.error, f.cause))
    }

    /// Resolves a reader's MaxItems (or MaxItemsPath) to a cap on the items read; JSONata
    /// states pass the evaluated value as `max_items_override`. AWS caps MaxItems at
    /// 100,000,000, and 0 or a larger value means "all".
    pub(crate) fn reader_cap(
        &self,
        run: &StateRun<'_>,
        reader: &CompiledItemReader,
        max_items_override: Option<i64>,
        effective: &Value,
        frame: &Frame,
    ) -> Result<usize, AslError> {
        let max_items = match &reader.max_items {
            _ if max_items_override.is_some() => max_items_override.unwrap_or(0),
            None => 0,
            Some(CompiledInt::Path(p)) => {
                let v = self
                    .ref_value(run, p, effective, frame)
                    .ok_or_else(|| self.no_results(run, p.text()))?;
                match as_integer(&v) {
                    Some(i) if i >= 0 => i,
                    _ => {
                        return Err(self.runtime(
                            run,
                            format!(
                                "The MaxItemsPath field refers to value \"{}\" which is not a valid integer: {}",
                                display_plain(&v),
                                p.text()
                            ),
                        ))
                    }
                }
            }
            Some(f) => self.resolve_int(run, f, effective, frame, "MaxItems")?,
        };
        Ok(if max_items <= 0 || max_items > 100_000_000 {
            usize::MAX
        } else {
            max_items as usize
        })
    }

    /// Reads at most `cap` items once the reader's parameters are known (shared by both query
    /// languages).
    pub(crate) async fn read_items_with(
        &self,
        run: &StateRun<'_>,
        reader: &CompiledItemReader,
        params: Value,
        cap: usize,
    ) -> Result<Vec<Value>, AslError> {
        let failed = |cause: String| AslError::new(names::ITEM_READER_FAILED, cause);
        let mut items = match reader.action.as_str() {
            "listObjectsV2" => self.list_all(run, &params, cap).await?,
            _ => {
                let input_type = reader.config.input_type.as_deref().unwrap_or("JSON");
                let body = self.get_body(run, &params).await?;
                match input_type {
                    "JSON" => parse_json_items(&body).map_err(failed)?,
                    "JSONL" => parse_jsonl(&body).map_err(failed)?,
                    "CSV" => parse_csv_items(
                        &body,
                        reader.config.csv_header_location.as_deref(),
                        reader.config.csv_headers.as_deref(),
                        delimiter(reader.config.csv_delimiter.as_deref()),
                    )
                    .map_err(failed)?,
                    "MANIFEST" => self.read_manifest(run, &body, cap).await?,
                    other => {
                        return Err(failed(format!(
                            "InputType {other} is not supported by stepsim's ItemReader"
                        )))
                    }
                }
            }
        };
        items.truncate(cap);
        Ok(items)
    }

    async fn get_body(&self, run: &StateRun<'_>, params: &Value) -> Result<String, AslError> {
        let mut p = Map::new();
        for k in ["Bucket", "Key", "VersionId"] {
            if let Some(v) = params.get(k) {
                p.insert(k.into(), v.clone());
            }
        }
        let resp = self
            .s3(run, "getObject", Value::Object(p))
            .await
            .map_err(reader_failed)?;
        Ok(match resp.get("Body") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        })
    }

    async fn list_all(
        &self,
        run: &StateRun<'_>,
        params: &Value,
        cap: usize,
    ) -> Result<Vec<Value>, AslError> {
        let mut items = Vec::new();
        let mut token: Option<Value> = None;
        loop {
            let mut p = params.as_object().cloned().unwrap_or_default();
            if let Some(t) = token.take() {
                p.insert("ContinuationToken".into(), t);
            }
            let resp = self
                .s3(run, "listObjectsV2", Value::Object(p))
                .await
                .map_err(reader_failed)?;
            if let Some(Value::Array(contents)) = resp.get("Contents") {
                items.extend(contents.iter().cloned());
            }
            let truncated = resp
                .get("IsTruncated")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match resp.get("NextContinuationToken") {
                Some(t) if truncated && items.len() < cap => token = Some(t.clone()),
                _ => break,
            }
        }
        Ok(items)
    }

    /// An S3 inventory manifest: read each listed CSV data file; rows become objects keyed by
    /// the manifest's `fileSchema`.
    async fn read_manifest(
        &self,
        run: &StateRun<'_>,
        body: &str,
        cap: usize,
    ) -> Result<Vec<Value>, AslError> {
        let failed = |cause: &str| AslError::new(names::ITEM_READER_FAILED, cause);
        let manifest: Value = serde_json::from_str(body)
            .map_err(|_| failed("The manifest file is not valid JSON."))?;
        let schema: Vec<String> = manifest
            .get("fileSchema")
            .and_then(Value::as_str)
            .map(|s| s.split(',').map(|c| c.trim().to_string()).collect())
            .ok_or_else(|| failed("The manifest has no fileSchema."))?;
        let bucket = manifest
            .get("destinationBucket")
            .and_then(Value::as_str)
            .map(|b| b.trim_start_matches("arn:aws:s3:::").to_string())
            .unwrap_or_default();
        let files = manifest
            .get("files")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut items = Vec::new();
        for f in files {
            let Some(key) = f.get("key").and_then(Value::as_str) else {
                continue;
            };
            if key.ends_with(".gz") {
                return Err(failed(
                    "Compressed inventory files (.csv.gz) are not supported by stepsim; store the data files uncompressed.",
                ));
            }
            let mut p = Map::new();
            p.insert("Bucket".into(), Value::String(bucket.clone()));
            p.insert("Key".into(), Value::String(key.to_string()));
            let data = self.get_body(run, &Value::Object(p)).await?;
            let rows = parse_csv_rows(&data, ',').map_err(|e| failed(&e))?;
            for row in rows {
                let obj: Map<String, Value> = schema
                    .iter()
                    .zip(row)
                    .map(|(k, v)| (k.clone(), Value::String(v)))
                    .collect();
                items.push(Value::Object(obj));
                if items.len() >= cap {
                    return Ok(items);
                }
            }
        }
        Ok(items)
    }

    /// Groups items into batches: `{"Items": [...], "BatchInput": ...}`.
    pub(crate) fn batch_items(
        &self,
        run: &StateRun<'_>,
        b: &CompiledItemBatcher,
        items: Vec<Value>,
        effective: &Value,
        frame: &Frame,
    ) -> Result<Vec<Value>, AslError> {
        // A JSONata Map evaluates `{% %}` limits against `$states.input`, as BatchInput.
        let jsonata = super::jsonata::is_jsonata(run);
        let states = if jsonata {
            super::jsonata::input_states(self, run, effective)
        } else {
            Value::Null
        };
        let limit = |f: &CompiledInt, field: &str| -> Result<i64, AslError> {
            if jsonata {
                self.jint(run, f, &format!("ItemBatcher/{field}"), &states, frame)
            } else {
                self.resolve_int(run, f, effective, frame, field)
            }
        };
        let max_items = match &b.max_items_per_batch {
            Some(f) => limit(f, "MaxItemsPerBatch")?.max(1) as usize,
            None => usize::MAX,
        };
        let max_bytes = match &b.max_input_bytes_per_batch {
            Some(f) => (limit(f, "MaxInputBytesPerBatch")?.max(1) as usize).min(MAX_BATCH_BYTES),
            None => MAX_BATCH_BYTES,
        };
        let batch_input = match (&b.batch_input, &b.batch_input_raw) {
            (_, Some(raw)) if jsonata => {
                Some(self.jeval(run, raw, "ItemBatcher/BatchInput", &states, frame)?)
            }
            (Some(t), _) => {
                let ctx = self.context(run, None, None, None);
                Some(self.eval_template(run, t, effective, frame, &ctx)?)
            }
            _ => None,
        };
        Ok(batch(items, max_items, max_bytes, batch_input))
    }

    /// Writes the map run's results to S3 and returns the Map's output.
    pub(crate) async fn write_results(
        &self,
        run: &StateRun<'_>,
        w: &CompiledResultWriter,
        map_run_arn: &str,
        records: &[ChildRecord],
        effective: &Value,
        frame: &Frame,
    ) -> Result<Value, AslError> {
        let params = match (&w.parameters, &w.arguments) {
            (_, Some(a)) if super::jsonata::is_jsonata(run) => {
                let states = super::jsonata::input_states(self, run, effective);
                self.jeval(run, a, "ResultWriter/Arguments", &states, frame)?
            }
            (Some(t), _) => {
                let ctx = self.context(run, None, None, None);
                self.eval_template(run, t, effective, frame, &ctx)?
            }
            _ => Value::Object(Map::new()),
        };
        self.write_results_with(run, w, map_run_arn, records, params)
            .await
    }

    pub(crate) async fn write_results_with(
        &self,
        run: &StateRun<'_>,
        w: &CompiledResultWriter,
        map_run_arn: &str,
        records: &[ChildRecord],
        params: Value,
    ) -> Result<Value, AslError> {
        let transformation = w
            .writer_config
            .as_ref()
            .and_then(|c| c.get("Transformation"))
            .and_then(Value::as_str)
            .unwrap_or("NONE")
            .to_string();
        let output_type = w
            .writer_config
            .as_ref()
            .and_then(|c| c.get("OutputType"))
            .and_then(Value::as_str)
            .unwrap_or("JSON")
            .to_string();
        let Some(bucket) = params.get("Bucket").and_then(Value::as_str) else {
            // WriterConfig alone (no S3 target) only transforms the output.
            return Ok(transform_inline(records, &transformation));
        };
        let prefix = params
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let run_id = map_run_arn.rsplit(':').next().unwrap_or("run").to_string();
        let base = if prefix.is_empty() {
            run_id.clone()
        } else {
            format!("{prefix}/{run_id}")
        };
        let sm_arn = self.facts.state_machine_arn();
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        for r in records {
            let entry = result_entry(r, &sm_arn, &transformation);
            match r.outcome {
                Ok(_) => succeeded.push(entry),
                Err(_) => failed.push(entry),
            }
        }
        let ext = if output_type == "JSONL" {
            "jsonl"
        } else {
            "json"
        };
        let mut files = Map::new();
        for (status, list) in [
            ("FAILED", failed),
            ("PENDING", Vec::new()),
            ("SUCCEEDED", succeeded),
        ] {
            let mut entries = Vec::new();
            if !list.is_empty() {
                let key = format!("{base}/{status}_0.{ext}");
                let body = if ext == "jsonl" {
                    list.iter()
                        .map(|v| serde_json::to_string(v).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    serde_json::to_string(&Value::Array(list)).unwrap_or_default()
                };
                let size = body.len();
                self.put(run, bucket, &key, body).await?;
                let mut e = Map::new();
                e.insert("Key".into(), Value::String(key));
                e.insert("Size".into(), size.into());
                entries.push(Value::Object(e));
            }
            files.insert(status.into(), Value::Array(entries));
        }
        let mut manifest = Map::new();
        manifest.insert(
            "DestinationBucket".into(),
            Value::String(bucket.to_string()),
        );
        manifest.insert("MapRunArn".into(), Value::String(map_run_arn.to_string()));
        manifest.insert("ResultFiles".into(), Value::Object(files));
        let manifest_key = format!("{base}/manifest.json");
        self.put(
            run,
            bucket,
            &manifest_key,
            serde_json::to_string(&Value::Object(manifest)).unwrap_or_default(),
        )
        .await?;
        let mut details = Map::new();
        details.insert("Bucket".into(), Value::String(bucket.to_string()));
        details.insert("Key".into(), Value::String(manifest_key));
        let mut out = Map::new();
        out.insert("MapRunArn".into(), Value::String(map_run_arn.to_string()));
        out.insert("ResultWriterDetails".into(), Value::Object(details));
        Ok(Value::Object(out))
    }

    async fn put(
        &self,
        run: &StateRun<'_>,
        bucket: &str,
        key: &str,
        body: String,
    ) -> Result<(), AslError> {
        let mut p = Map::new();
        p.insert("Bucket".into(), Value::String(bucket.to_string()));
        p.insert("Key".into(), Value::String(key.to_string()));
        p.insert("Body".into(), Value::String(body));
        self.s3(run, "putObject", Value::Object(p))
            .await
            .map(|_| ())
            .map_err(|e| {
                AslError::new(
                    names::RESULT_WRITER_FAILED,
                    e.cause.unwrap_or_else(|| e.error.clone()),
                )
            })
    }
}

/// One line of a `SUCCEEDED_n.json` / `FAILED_n.json` file.
fn result_entry(r: &ChildRecord, sm_arn: &str, transformation: &str) -> Value {
    match (transformation, &r.outcome) {
        ("FLATTEN", Ok(v)) => v.clone(),
        _ => {
            let mut e = Map::new();
            e.insert(
                "ExecutionArn".into(),
                Value::String(r.execution_arn.clone()),
            );
            e.insert(
                "Input".into(),
                Value::String(serde_json::to_string(&r.input).unwrap_or_default()),
            );
            e.insert("InputDetails".into(), included());
            e.insert(
                "Name".into(),
                Value::String(r.execution_arn.rsplit(':').next().unwrap_or("").to_string()),
            );
            match &r.outcome {
                Ok(v) => {
                    e.insert(
                        "Output".into(),
                        Value::String(serde_json::to_string(v).unwrap_or_default()),
                    );
                    e.insert("OutputDetails".into(), included());
                    e.insert("Status".into(), "SUCCEEDED".into());
                }
                Err(err) => {
                    e.insert("Error".into(), Value::String(err.error.clone()));
                    e.insert(
                        "Cause".into(),
                        Value::String(err.cause.clone().unwrap_or_default()),
                    );
                    e.insert("Status".into(), "FAILED".into());
                }
            }
            e.insert("RedriveCount".into(), 0.into());
            e.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
            e.insert("StartDate".into(), Value::String(r.start_date.clone()));
            e.insert("StateMachineArn".into(), Value::String(sm_arn.to_string()));
            e.insert("StopDate".into(), Value::String(r.stop_date.clone()));
            if transformation == "COMPACT" {
                e.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "ExecutionArn" | "Input" | "Output" | "Status" | "Error" | "Cause"
                    )
                });
            }
            Value::Object(e)
        }
    }
}

fn included() -> Value {
    let mut m = Map::new();
    m.insert("Included".into(), Value::Bool(true));
    Value::Object(m)
}

/// The Map output when a WriterConfig transforms results without writing them.
fn transform_inline(records: &[ChildRecord], _transformation: &str) -> Value {
    Value::Array(
        records
            .iter()
            .map(|r| match &r.outcome {
                Ok(v) => v.clone(),
                Err(e) => e.to_error_output(),
            })
            .collect(),
    )
}

/// Splits items into batches bounded by count and serialized size.
pub(crate) fn batch(
    items: Vec<Value>,
    max_items: usize,
    max_bytes: usize,
    batch_input: Option<Value>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cur: Vec<Value> = Vec::new();
    let mut cur_bytes = 0usize;
    let flush = |cur: &mut Vec<Value>, out: &mut Vec<Value>| {
        if cur.is_empty() {
            return;
        }
        let mut m = Map::new();
        if let Some(b) = &batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(std::mem::take(cur)));
        out.push(Value::Object(m));
    };
    for item in items {
        let size = serde_json::to_string(&item).map(|s| s.len()).unwrap_or(0);
        if !cur.is_empty() && (cur.len() >= max_items || cur_bytes + size > max_bytes) {
            flush(&mut cur, &mut out);
            cur_bytes = 0;
        }
        cur_bytes += size;
        cur.push(item);
    }
    flush(&mut cur, &mut out);
    out
}

fn delimiter(d: Option<&str>) -> char {
    match d {
        Some("PIPE") => '|',
        Some("SEMICOLON") => ';',
        Some("SPACE") => ' ',
        Some("TAB") => '\t',
        _ => ',',
    }
}

/// A JSON array of items.
pub fn parse_json_items(body: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(_) => Err("Attempting to map over non-iterable node.".into()),
        Err(e) => Err(format!("The object is not valid JSON: {e}")),
    }
}

/// One JSON value per non-blank line.
pub fn parse_jsonl(body: &str) -> Result<Vec<Value>, String> {
    body.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("Line {} is not valid JSON: {e}", i + 1))
        })
        .collect()
}

/// CSV rows as objects keyed by the header (first row, or the given headers).
pub fn parse_csv_items(
    body: &str,
    header_location: Option<&str>,
    given: Option<&[String]>,
    delim: char,
) -> Result<Vec<Value>, String> {
    let mut rows = parse_csv_rows(body, delim)?;
    let headers: Vec<String> = match (header_location, given) {
        (Some("GIVEN"), Some(h)) => h.to_vec(),
        _ => {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            rows.remove(0)
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    if !headers.iter().all(|h| seen.insert(h.clone())) {
        return Err("CSV headers cannot contain duplicates.".into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut m = Map::new();
            for (i, h) in headers.iter().enumerate() {
                m.insert(
                    h.clone(),
                    Value::String(row.get(i).cloned().unwrap_or_default()),
                );
            }
            Value::Object(m)
        })
        .collect())
}

/// RFC 4180 CSV: quoted fields may hold delimiters, quotes (doubled) and newlines. A final
/// empty line is not a row.
pub fn parse_csv_rows(body: &str, delim: char) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = body.chars().peekable();
    let mut row_has_content = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                row_has_content = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                row_has_content = false;
            }
            c if c == delim => {
                row.push(std::mem::take(&mut field));
                row_has_content = true;
            }
            c => {
                field.push(c);
                row_has_content = true;
            }
        }
    }
    if in_quotes {
        return Err("The CSV file has an unterminated quoted field.".into());
    }
    if row_has_content || !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_with_given_and_first_row_headers() {
        let body = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\n   \n";
        let given = vec!["H1".to_string(), "H2".into(), "H3".into()];
        let items = parse_csv_items(body, Some("GIVEN"), Some(&given), ',').unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[2], json!({"H1": "", "H2": "", "H3": ""}));
        assert_eq!(items[3], json!({"H1": "   ", "H2": "", "H3": ""}));
        let dup = vec!["H1".to_string(), "H1".into()];
        assert_eq!(
            parse_csv_items(body, Some("GIVEN"), Some(&dup), ',').unwrap_err(),
            "CSV headers cannot contain duplicates."
        );
        let first = parse_csv_items("a,b\n1,2\n", Some("FIRST_ROW"), None, ',').unwrap();
        assert_eq!(first, vec![json!({"a": "1", "b": "2"})]);
    }

    #[test]
    fn csv_quotes_and_delimiters() {
        let rows = parse_csv_rows("\"a,b\";\"say \"\"hi\"\"\"\nx;\"multi\nline\"", ';').unwrap();
        assert_eq!(rows[0], vec!["a,b", "say \"hi\""]);
        assert_eq!(rows[1], vec!["x", "multi\nline"]);
        assert!(parse_csv_rows("\"open", ',').is_err());
    }

    #[test]
    fn json_and_jsonl() {
        assert_eq!(parse_json_items("[1,2]").unwrap(), vec![json!(1), json!(2)]);
        assert_eq!(
            parse_json_items("{\"a\":1}").unwrap_err(),
            "Attempting to map over non-iterable node."
        );
        assert_eq!(
            parse_jsonl("{\"a\":1}\n\n2\n").unwrap(),
            vec![json!({"a":1}), json!(2)]
        );
        assert!(parse_jsonl("{").is_err());
    }

    #[test]
    fn batching_by_count_and_size() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let b = batch(items.clone(), 2, usize::MAX, Some(json!({"k": 1})));
        assert_eq!(b.len(), 3);
        assert_eq!(b[0], json!({"BatchInput": {"k": 1}, "Items": [0, 1]}));
        let b = batch(items, usize::MAX, 2, None);
        assert_eq!(b.len(), 3);
    }
}
