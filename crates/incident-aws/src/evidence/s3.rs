//! Evidence objects in S3. The bucket (see template.yaml) is versioned with Object Lock, so an
//! overwrite becomes a new version and the locked original stays; `verify` reads the current one.

use crate::AwsError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use incident_core::ports::{EvidenceStore, PortResult};

#[derive(Clone, Debug)]
pub struct S3Evidence {
    client: crate::lazy_client::Lazy<aws_sdk_s3::Client>,
    bucket: String,
    content_type: &'static str,
}

impl S3Evidence {
    pub fn new(client: impl Into<crate::lazy_client::Lazy<aws_sdk_s3::Client>>, bucket: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            bucket: bucket.into(),
            content_type: "application/json",
        }
    }

    /// The same store for Markdown documents (the postmortem bucket).
    pub fn documents(
        client: impl Into<crate::lazy_client::Lazy<aws_sdk_s3::Client>>,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            content_type: "text/markdown; charset=utf-8",
            ..Self::new(client, bucket)
        }
    }
}

impl EvidenceStore for S3Evidence {
    async fn put(&self, key: &str, body: Vec<u8>) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(self.content_type)
            // Object Lock buckets require an integrity checksum on every write.
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| AwsError::sdk("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let bytes = out.body.collect().await.map_err(|e| AwsError::decode(key, e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(AwsError::sdk("GetObject", e).into()),
        }
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::sdk("ListObjectsV2", e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    }
}
