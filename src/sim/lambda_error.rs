//! How the Lambda service words its own errors (not a function's): the cause text Step
//! Functions shows for an SDK error, and that text split back into the HTTP status, code and
//! message an API answers with. A leaf module, so the service, the Runtime API endpoint and the
//! server's Lambda API can all use it.

/// The cause text of a Lambda service (SDK) error, in the form Step Functions shows.
pub(crate) fn lambda_service_cause(
    message: &str,
    status: u16,
    code: &str,
    request_id: &str,
) -> String {
    format!(
        "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; \
         Request ID: {request_id}; Proxy: null)"
    )
}

/// Splits a Lambda service error's cause text (as [`lambda_service_cause`] writes it) into
/// its HTTP status, error code and message; `None` for a function's own error.
pub fn split_service_cause(cause: &str) -> Option<(u16, String, String)> {
    let at = cause.find(" (Service: AWSLambda; Status Code: ")?;
    let message = &cause[..at];
    let rest = &cause[at..];
    let status = rest
        .split("Status Code: ")
        .nth(1)?
        .split(';')
        .next()?
        .trim()
        .parse::<u16>()
        .ok()?;
    let code = rest.split("Error Code: ").nth(1)?.split(';').next()?.trim();
    Some((status, code.to_string(), message.to_string()))
}
