//! The SQS error type, shared by the standard queue code (`sqs`) and the FIFO rules
//! (`sqs_fifo`), so that neither imports the other for it.

/// An SQS error: its code (`QueueDoesNotExist`, `ReceiptHandleIsInvalid`, ...) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqsError {
    pub code: String,
    pub message: String,
}

impl SqsError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        SqsError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// The query-protocol code an SQS JSON error carries in `x-amzn-query-error`, which the SDKs
/// report as the error code (`AWS.SimpleQueueService.NonExistentQueue` for
/// `QueueDoesNotExist`, and so on).
pub fn query_code(code: &str) -> String {
    match code {
        "QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue".to_string(),
        "EmptyBatchRequest"
        | "TooManyEntriesInBatchRequest"
        | "BatchEntryIdsNotDistinct"
        | "BatchRequestTooLong"
        | "InvalidBatchEntryId"
        | "MessageNotInflight" => format!("AWS.SimpleQueueService.{code}"),
        other => other.to_string(),
    }
}
