//! boto3 through `stepsim serve` (when python3 and boto3 are installed): DynamoDB batch
//! operations, transactions and secondary indexes, and SQS FIFO queues
//! (tests/compat/services_more.py).

mod support;

use support::api::{boto3_available, run_compat_script};

#[test]
fn boto3_batches_transacts_and_queries_indexes() {
    if !boto3_available() {
        eprintln!("skipped: python3 with boto3 is not installed");
        return;
    }
    run_compat_script("services_more.py", &["--no-fifo"]);
}

#[test]
fn boto3_uses_fifo_queues() {
    if !boto3_available() {
        eprintln!("skipped: python3 with boto3 is not installed");
        return;
    }
    run_compat_script("services_more.py", &[]);
}
