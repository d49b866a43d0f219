//! Who is calling: the identity behind the credentials actually used, never a name typed by hand.

use crate::AwsError;

pub use incident_core::approval::Caller;

/// The caller of these credentials, as STS sees them.
pub async fn caller(config: &aws_config::SdkConfig) -> Result<Caller, AwsError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::sdk("GetCallerIdentity", e))?;
    Ok(Caller::from_arn(&out.arn.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::Caller;

    #[test]
    fn caller_names_are_short_and_keep_the_session_of_an_assumed_role() {
        let name = |arn: &str| Caller::from_arn(arn).name;
        assert_eq!(name("arn:aws:iam::123456789012:user/alice"), "alice");
        assert_eq!(name("arn:aws:iam::123456789012:user/team/bob"), "bob");
        assert_eq!(
            name("arn:aws:sts::123456789012:assumed-role/OnCall/carol"),
            "OnCall/carol"
        );
        assert_eq!(name("arn:aws:iam::000000000000:root"), "root");
    }
}
