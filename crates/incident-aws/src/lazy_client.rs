//! SDK clients made when first used.
//!
//! Making an SDK client sets up its endpoint rules: the partitions parsed and the regions'
//! patterns compiled, a quarter of a millisecond each on the 2-core machine (measured with
//! `scripts/bench-cold-start` and callgrind). A function holds up to nine clients and most
//! invocations use two or three, so a function's cold start makes the SDK configuration and the
//! clients every request needs, and each other client is made by the first request that needs it,
//! once per function instance. Every client is made from the one SDK configuration that cold
//! start loaded, so making one later fails no more than making it at cold start would have.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// The configuration a client is made from, and what makes it (a client's `new`).
type Maker<C> = (aws_config::SdkConfig, fn(&aws_config::SdkConfig) -> C);

/// An SDK client of type `C`, made from the SDK configuration on first use (through [`Deref`],
/// so `lazy.put_item()` reads as the client's own call). Clones share the one client, made by
/// whichever is used first.
pub struct Lazy<C> {
    client: Arc<OnceLock<C>>,
    make: Option<Maker<C>>,
}

impl<C> Lazy<C> {
    /// A client that `make` (a client's `new`) builds from `config` when first used.
    pub fn new(config: &aws_config::SdkConfig, make: fn(&aws_config::SdkConfig) -> C) -> Self {
        Self {
            client: Arc::new(OnceLock::new()),
            make: Some((config.clone(), make)),
        }
    }

    /// Whether the client has been made.
    pub fn is_made(&self) -> bool {
        self.client.get().is_some()
    }
}

/// A client made already (a test's scripted client, say).
impl<C> From<C> for Lazy<C> {
    fn from(client: C) -> Self {
        Self {
            client: Arc::new(OnceLock::from(client)),
            make: None,
        }
    }
}

impl<C> Deref for Lazy<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.client.get_or_init(|| {
            let (config, make) = self
                .make
                .as_ref()
                .expect("a lazy client without its client has its maker");
            make(config)
        })
    }
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Self {
            client: Arc::clone(&self.client),
            make: self.make.clone(),
        }
    }
}

impl<C> fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lazy").field("made", &self.is_made()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build()
    }

    #[test]
    fn a_client_is_made_on_first_use_once_and_clones_share_it() {
        let lazy = Lazy::new(&config(), aws_sdk_sqs::Client::new);
        assert!(!lazy.is_made(), "made before any use");
        let early = lazy.clone();
        assert_eq!(format!("{early:?}"), "Lazy { made: false }");
        assert_eq!(early.config().region().map(|r| r.as_ref()), Some("us-east-1"));
        assert!(lazy.is_made(), "a clone's first use made the client for all of them");
        let (a, b): (&aws_sdk_sqs::Client, &aws_sdk_sqs::Client) = (&lazy, &early);
        assert!(std::ptr::eq(a, b), "one client, not one per clone");
        assert!(lazy.clone().is_made());
        assert_eq!(format!("{lazy:?}"), "Lazy { made: true }");
    }

    #[test]
    fn a_client_made_already_is_used_as_it_is() {
        let lazy = Lazy::from(aws_sdk_sqs::Client::new(&config()));
        assert!(lazy.is_made());
        assert_eq!(lazy.config().region().map(|r| r.as_ref()), Some("us-east-1"));
    }
}
