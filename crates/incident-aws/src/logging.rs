//! Tracing set-up for the Lambda functions: JSON lines that CloudWatch Logs can query.

use tracing_subscriber::filter::LevelFilter;

/// Installs a JSON subscriber at `RUST_LOG`'s level (`error`, `warn`, `info`, `debug`, `trace`),
/// else at the application log level of the function's logging configuration
/// (`AWS_LAMBDA_LOG_LEVEL`, set by the template's `ApplicationLogLevel` if given), else `info`. Never log task tokens or credentials: the loop keeps tokens in DynamoDB and
/// logs only the incident id.
pub fn init_lambda_tracing() {
    let level = ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .map_or(LevelFilter::INFO, |text| level(&text));
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_current_span(false)
        .init();
}

/// A level's name, in any case (Lambda's `FATAL` is `error`); anything else (a per-module filter,
/// say) keeps `info`.
fn level(text: &str) -> LevelFilter {
    match text.trim() {
        t if t.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
        t => t.parse().unwrap_or(LevelFilter::INFO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_is_read_in_any_case_and_anything_else_keeps_info() {
        assert_eq!(level("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(level(" warn "), LevelFilter::WARN);
        assert_eq!(level("off"), LevelFilter::OFF);
        assert_eq!(level("FATAL"), LevelFilter::ERROR);
        assert_eq!(level("incident_aws=debug"), LevelFilter::INFO);
    }
}
