//! Choosing the sibling context for each tool of a batch, built once per server.

use std::collections::HashMap;

use super::features::SiblingContext;
use super::rules::RuleSet;
use crate::model::{ToolInput, Verdict};

/// The sibling contexts of a batch of tools: one shared by every tool of an input whose siblings
/// are the input itself (a tools/list), and one per distinct sibling list for records that carry
/// their own (`siblings` in JSONL), each built once.
#[derive(Debug, Default)]
pub struct Contexts<'a> {
    shared: Option<&'a SiblingContext>,
    by_list: HashMap<(Option<String>, Vec<String>), SiblingContext>,
}

impl<'a> Contexts<'a> {
    /// `shared` is used for tools that list no siblings of their own.
    pub fn new(shared: Option<&'a SiblingContext>) -> Contexts<'a> {
        Contexts { shared, by_list: HashMap::new() }
    }

    /// Classifies `tool` in its context.
    pub fn classify(&mut self, rules: &RuleSet, tool: &ToolInput) -> Verdict {
        if tool.siblings.is_empty() {
            if let Some(ctx) = self.shared {
                return rules.classify_in(tool, ctx);
            }
        }
        let ctx = self.by_list.entry(sibling_key(tool)).or_insert_with_key(|k| rules.sibling_context(&k.1));
        rules.classify_in(tool, ctx)
    }
}

/// The key of a tool's sibling set: its server and the sorted names of its siblings and itself.
pub fn sibling_key(tool: &ToolInput) -> (Option<String>, Vec<String>) {
    let mut names: Vec<String> = tool.siblings.iter().chain(std::iter::once(&tool.name)).cloned().collect();
    names.sort();
    names.dedup();
    (tool.server.clone(), names)
}
