//! `stepsim serve`: the AWS Step Functions, Lambda and S3 APIs over HTTP.
