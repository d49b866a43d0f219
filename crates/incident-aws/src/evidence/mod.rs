//! Evidence adapters: S3 for keeping it; CloudWatch, CloudWatch Logs and CloudTrail for collecting it.

mod accounts;
mod cloudtrail;
mod cloudwatch;
mod logs;
mod s3;

pub use crate::places::MemberRole;
pub use accounts::AwsAccounts;
pub use s3::S3Evidence;

use crate::lazy_client::Lazy;
use incident_core::evidence::{AlarmRef, Collected, Window};
use incident_core::ports::{EvidenceSources, PortResult};

/// The AWS sources of evidence, one client each, made when first used.
#[derive(Clone, Debug)]
pub struct AwsSources {
    cloudwatch: Lazy<aws_sdk_cloudwatch::Client>,
    logs: Lazy<aws_sdk_cloudwatchlogs::Client>,
    cloudtrail: Lazy<aws_sdk_cloudtrail::Client>,
    /// How long to wait for a Logs Insights query before recording it as timed out.
    pub logs_poll: std::time::Duration,
}

impl AwsSources {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            cloudwatch: Lazy::new(config, aws_sdk_cloudwatch::Client::new),
            logs: Lazy::new(config, aws_sdk_cloudwatchlogs::Client::new),
            cloudtrail: Lazy::new(config, aws_sdk_cloudtrail::Client::new),
            logs_poll: std::time::Duration::from_secs(60),
        }
    }

    pub fn from_clients(
        cloudwatch: aws_sdk_cloudwatch::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        cloudtrail: aws_sdk_cloudtrail::Client,
    ) -> Self {
        Self {
            cloudwatch: cloudwatch.into(),
            logs: logs.into(),
            cloudtrail: cloudtrail.into(),
            logs_poll: std::time::Duration::from_secs(60),
        }
    }
}

impl EvidenceSources for AwsSources {
    async fn alarm_history(&self, alarms: &[AlarmRef], window: &Window, cap: usize) -> PortResult<Collected> {
        Ok(cloudwatch::alarm_history(&self.cloudwatch, alarms, window, cap).await?)
    }

    async fn metric_data(&self, alarms: &[AlarmRef], window: &Window, cap: usize) -> PortResult<Collected> {
        Ok(cloudwatch::metric_data(&self.cloudwatch, alarms, window, cap).await?)
    }

    async fn logs(&self, groups: &[String], queries: &[String], window: &Window, cap: usize) -> PortResult<Collected> {
        Ok(logs::insights(&self.logs, groups, queries, window, cap, self.logs_poll).await?)
    }

    async fn changes(&self, window: &Window, cap: usize) -> PortResult<Collected> {
        Ok(cloudtrail::changes(&self.cloudtrail, window, cap).await?)
    }
}

pub(crate) fn smithy_time(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_millis(t.timestamp_millis())
}

pub(crate) fn chrono_time(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(t.to_millis().ok()?)
}
