//! Five whys as a tree: each node is a contributing factor, and a factor can have several causes.
//! Every leaf must end in at least one action item or an explicitly accepted risk.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `w1`, `w1.2`, … : the path from the root, so ids say where a node sits.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub text: String,
    /// Set when the team decides not to act on this factor, with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_risk: Option<String>,
    /// What kind of factor it is, as its author classed it: what the weekly review finds recurring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<crate::category::Category>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TreeError {
    #[error("no node {0} in the tree")]
    NoSuchNode(String),
    #[error("a contributing factor needs text, starting with 'because'")]
    Empty,
}

impl Tree {
    fn children<'a>(&'a self, parent: Option<&'a str>) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.iter().filter(move |n| n.parent.as_deref() == parent)
    }

    /// Adds a factor under `parent` (or as a new top-level why) and returns its id.
    pub fn add(&mut self, parent: Option<&str>, text: &str) -> Result<String, TreeError> {
        self.add_categorised(parent, text, None)
    }

    /// [`Self::add`], with the category its author chose.
    pub fn add_categorised(
        &mut self,
        parent: Option<&str>,
        text: &str,
        category: Option<crate::category::Category>,
    ) -> Result<String, TreeError> {
        if text.trim().is_empty() {
            return Err(TreeError::Empty);
        }
        if let Some(p) = parent {
            if !self.nodes.iter().any(|n| n.id == p) {
                return Err(TreeError::NoSuchNode(p.to_string()));
            }
        }
        let index = self.children(parent).count() + 1;
        let id = match parent {
            Some(p) => format!("{p}.{index}"),
            None => format!("w{index}"),
        };
        self.nodes.push(Node {
            id: id.clone(),
            parent: parent.map(str::to_string),
            text: text.trim().into(),
            accepted_risk: None,
            category,
        });
        Ok(id)
    }

    /// Classes a factor (or, with `None`, unclasses it).
    pub fn categorise(&mut self, id: &str, category: Option<crate::category::Category>) -> Result<(), TreeError> {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| TreeError::NoSuchNode(id.into()))?;
        node.category = category;
        Ok(())
    }

    pub fn accept_risk(&mut self, id: &str, why: &str) -> Result<(), TreeError> {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| TreeError::NoSuchNode(id.into()))?;
        node.accepted_risk = Some(why.trim().to_string());
        Ok(())
    }

    pub fn leaves(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| !self.nodes.iter().any(|c| c.parent.as_deref() == Some(n.id.as_str())))
            .collect()
    }

    /// Leaves that end in neither an action item (by node id) nor an accepted risk.
    pub fn unaddressed_leaves<'a>(&'a self, actioned: &[&str]) -> Vec<&'a Node> {
        self.leaves()
            .into_iter()
            .filter(|n| n.accepted_risk.is_none() && !actioned.contains(&n.id.as_str()))
            .collect()
    }

    /// The tree as nested Markdown bullets.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_under(None, 0, &mut out);
        out
    }

    fn render_under(&self, parent: Option<&str>, depth: usize, out: &mut String) {
        for n in self.children(parent) {
            let risk = n
                .accepted_risk
                .as_ref()
                .map(|r| format!(" _(accepted risk: {})_", crate::text::markdown(r)))
                .unwrap_or_default();
            let category = n.category.map(|c| format!(" _[{c}]_")).unwrap_or_default();
            out.push_str(&format!(
                "{}- **{}** {}{category}{risk}\n",
                "  ".repeat(depth),
                n.id,
                crate::text::markdown(&n.text)
            ));
            self.render_under(Some(&n.id), depth + 1, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        let mut t = Tree::default();
        let w1 = t.add(None, "because checkout returned 5xx").unwrap();
        let a = t
            .add(Some(&w1), "because the new build could not reach the payment gateway")
            .unwrap();
        t.add(Some(&w1), "because the canary did not cover the payment path")
            .unwrap();
        t.add(Some(&a), "because a config flag was renamed without a migration")
            .unwrap();
        t
    }

    #[test]
    fn a_factor_can_have_several_causes_and_ids_show_the_path() {
        let t = tree();
        let ids: Vec<&str> = t.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["w1", "w1.1", "w1.2", "w1.1.1"]);
        let leaves: Vec<&str> = t.leaves().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(leaves, ["w1.2", "w1.1.1"]);
    }

    #[test]
    fn every_leaf_must_end_in_an_action_or_an_accepted_risk() {
        let mut t = tree();
        assert_eq!(t.unaddressed_leaves(&["w1.1.1"]).len(), 1);
        t.accept_risk("w1.2", "payment-path canary is being rebuilt under another COE")
            .unwrap();
        assert!(t.unaddressed_leaves(&["w1.1.1"]).is_empty());
    }

    #[test]
    fn the_tree_renders_as_nested_bullets() {
        let rendered = tree().render();
        assert!(
            rendered.starts_with("- **w1** because checkout returned 5xx\n  - **w1.1** because"),
            "{rendered}"
        );
        assert!(
            rendered.contains("\n    - **w1.1.1** because a config flag"),
            "{rendered}"
        );
    }

    #[test]
    fn unknown_parents_and_empty_factors_are_refused() {
        let mut t = tree();
        assert_eq!(t.add(Some("w9"), "because"), Err(TreeError::NoSuchNode("w9".into())));
        assert_eq!(t.add(None, "  "), Err(TreeError::Empty));
    }
}
