//! Accounts and regions: where an event happened (the account EventBridge says it came from — a
//! member account's, when an organisation forwards to the loop), and what the catalog says of that
//! account (its name, its environment, the service it belongs to).

use serde::{Deserialize, Serialize};

/// The account and region an event happened in, and once triaged what the catalog calls them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub account: String,
    pub region: String,
    /// The catalog's name for the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The catalog's environment for the account (production, staging, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// Whether `text` is an AWS account id: twelve digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `text` reads as an AWS region (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    text.len() <= 32
        && parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

impl Location {
    /// The location an envelope names, checked: none when it names no account or region (a test
    /// event), a refusal when what it names is not an account id or a region.
    pub fn of(account: Option<&str>, region: Option<&str>) -> Result<Option<Location>, String> {
        let (Some(account), Some(region)) = (account, region) else {
            return Ok(None);
        };
        if !is_account_id(account) {
            return Err(format!("'{}' is not an AWS account id", crate::text::line(account, 40)));
        }
        if !is_region(region) {
            return Err(format!("'{}' is not an AWS region", crate::text::line(region, 40)));
        }
        Ok(Some(Location {
            account: account.to_string(),
            region: region.to_string(),
            name: None,
            environment: None,
        }))
    }

    /// The same account and region (whatever the catalog calls them).
    pub fn same_place(&self, other: &Location) -> bool {
        self.account == other.account && self.region == other.region
    }

    /// With the catalog's name and environment for its account (when the catalog knows it).
    pub fn named(mut self, account: Option<&Account>) -> Self {
        if let Some(a) = account {
            self.name = Some(a.name.clone());
            self.environment = a.environment.clone();
        }
        self
    }

    /// `111111111111 (shop-prod, production) in eu-west-1`; the account id alone when the catalog
    /// does not list it.
    pub fn describe(&self) -> String {
        let known = match (&self.name, &self.environment) {
            (Some(n), Some(e)) => format!(" ({n}, {e})"),
            (Some(n), None) => format!(" ({n})"),
            _ => String::new(),
        };
        format!("{}{known} in {}", self.account, self.region)
    }
}

/// The stack's own account and region (unknown parts match anything): where its functions act with
/// their own credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Home {
    pub account: Option<String>,
    pub region: Option<String>,
}

impl Home {
    /// From `HOME_ACCOUNT_ID` and `AWS_REGION` (what Lambda sets); empty values count as unknown.
    pub fn new(account: Option<String>, region: Option<String>) -> Self {
        Home {
            account: account.filter(|a| !a.is_empty()),
            region: region.filter(|r| !r.is_empty()),
        }
    }

    pub fn is_home_account(&self, account: &str) -> bool {
        self.account.as_deref().is_none_or(|a| a == account)
    }

    /// Whether `location` is this account and region (an incident that names none is).
    pub fn holds(&self, location: Option<&Location>) -> bool {
        location
            .is_none_or(|l| self.is_home_account(&l.account) && self.region.as_deref().is_none_or(|r| r == l.region))
    }
}

/// Where an incident's approved runbooks run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunbookPlace {
    /// The stack's own account and region, with the function's own credentials.
    Home,
    /// A member account (and region) the catalog opens to runbooks, through the role the forwarder
    /// template creates there.
    Member(Location),
}

impl RunbookPlace {
    /// Whether a change happened where the runbooks would act (a change told without a place is
    /// the stack's own).
    pub fn holds(&self, home: &Home, at: Option<&Location>) -> bool {
        match self {
            RunbookPlace::Home => home.holds(at),
            RunbookPlace::Member(place) => at.is_some_and(|l| l.same_place(place)),
        }
    }
    /// The member account and region, or none for the stack's own.
    pub fn location(&self) -> Option<&Location> {
        match self {
            RunbookPlace::Home => None,
            RunbookPlace::Member(at) => Some(at),
        }
    }
}

/// An account in the catalog: what it is called, its environment, and the service whose account
/// it is (signals from it that name no service belong to that one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Only these regions of the account (empty: every region).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The loop may start its approved runbooks here, through the role the forwarder template
    /// creates with `Runbooks=true` (and the runbooks stack deployed in the account and region).
    /// Off by default: an account is opened to runbooks on purpose.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub runbooks: bool,
}

impl Account {
    pub fn covers(&self, location: &Location) -> bool {
        self.id == location.account && (self.regions.is_empty() || self.regions.contains(&location.region))
    }

    /// What is wrong with this entry, for the catalog's validation.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !is_account_id(&self.id) {
            out.push(format!(
                "account '{}': the id must be 12 digits",
                crate::text::line(&self.id, 40)
            ));
        }
        if !crate::text::is_identifier(&self.name, crate::text::LABEL_MAX) {
            out.push(format!(
                "account {}: name '{}' must be letters, digits and . _ - / : @ + only",
                self.id,
                crate::text::line(&self.name, 64)
            ));
        }
        if let Some(e) = &self.environment {
            if !crate::text::is_identifier(e, crate::text::LABEL_MAX) {
                out.push(format!(
                    "account {}: environment '{}' must be one word",
                    self.id,
                    crate::text::line(e, 64)
                ));
            }
        }
        for r in self.regions.iter().filter(|r| !is_region(r)) {
            out.push(format!(
                "account {}: '{}' is not an AWS region",
                self.id,
                crate::text::line(r, 40)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_an_account_id_and_a_region_or_a_refusal() {
        let at = Location::of(Some("111111111111"), Some("eu-west-1")).unwrap().unwrap();
        assert_eq!(at.describe(), "111111111111 in eu-west-1");
        assert_eq!(Location::of(None, Some("eu-west-1")), Ok(None));
        assert!(Location::of(Some("12345"), Some("eu-west-1")).is_err());
        assert!(Location::of(Some("111111111111"), Some("eu-west-1\n<b>")).is_err());
        assert!(is_region("us-gov-west-1") && is_region("ap-southeast-2"));
        assert!(!is_region("EU-west-1") && !is_region("eu-west") && !is_region("-west-1"));
    }

    #[test]
    fn home_is_this_account_and_region() {
        let home = Home::new(Some("000000000000".into()), Some("us-east-1".into()));
        let at = |a: &str, r: &str| Location::of(Some(a), Some(r)).unwrap();
        assert!(home.holds(None));
        assert!(home.holds(at("000000000000", "us-east-1").as_ref()));
        assert!(!home.holds(at("000000000000", "eu-west-1").as_ref()));
        assert!(!home.holds(at("111111111111", "us-east-1").as_ref()));
        assert!(Home::new(Some(String::new()), None).holds(at("111111111111", "eu-west-1").as_ref()));
    }

    #[test]
    fn the_catalog_names_the_account_it_covers() {
        let account = Account {
            id: "111111111111".into(),
            name: "shop-prod".into(),
            environment: Some("production".into()),
            regions: vec!["eu-west-1".into()],
            service: Some("checkout".into()),
            runbooks: false,
        };
        let here = Location::of(Some("111111111111"), Some("eu-west-1")).unwrap().unwrap();
        let elsewhere = Location::of(Some("111111111111"), Some("us-east-1")).unwrap().unwrap();
        assert!(account.covers(&here) && !account.covers(&elsewhere));
        assert_eq!(
            here.named(Some(&account)).describe(),
            "111111111111 (shop-prod, production) in eu-west-1"
        );
        assert!(account.problems().is_empty());
        let bad = Account {
            id: "1".into(),
            name: "a name".into(),
            ..account
        };
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
    }
}
