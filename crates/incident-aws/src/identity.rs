//! Who is calling: the identity behind the credentials actually used, never a name typed by hand.

use crate::AwsError;

pub use incident_core::approval::Caller;

pub async fn caller(config: &aws_config::SdkConfig) -> Result<Caller, AwsError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::sdk("GetCallerIdentity", e))?;
    let arn = out.arn.unwrap_or_default();
    Ok(Caller {
        name: short_name(&arn),
        arn,
    })
}

/// `arn:aws:iam::1:user/alice` → `alice`; `arn:aws:sts::1:assumed-role/OnCall/alice` → `OnCall/alice`.
pub fn short_name(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    match resource.split_once('/') {
        Some(("assumed-role", rest)) => rest.to_string(),
        Some((_, rest)) => rest.rsplit('/').next().unwrap_or(rest).to_string(),
        None => resource.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn caller_names_are_short_and_keep_the_session_of_an_assumed_role() {
        assert_eq!(short_name("arn:aws:iam::123456789012:user/alice"), "alice");
        assert_eq!(short_name("arn:aws:iam::123456789012:user/team/bob"), "bob");
        assert_eq!(
            short_name("arn:aws:sts::123456789012:assumed-role/OnCall/carol"),
            "OnCall/carol"
        );
        assert_eq!(short_name("arn:aws:iam::000000000000:root"), "root");
    }
}
