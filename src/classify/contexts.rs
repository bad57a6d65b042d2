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

/// Classifies one server's listing: each tool with the others as its siblings, the context built
/// once. What `import`, `crawl` and `scan` all judge a server's tools with.
pub fn classify_listing<'t>(rules: &RuleSet, tools: impl Iterator<Item = &'t ToolInput> + Clone) -> Vec<Verdict> {
    let names: Vec<&str> = tools.clone().map(|t| t.name.as_str()).collect();
    let ctx = rules.sibling_context(&names);
    let mut contexts = Contexts::new(Some(&ctx));
    tools.map(|t| contexts.classify(rules, t)).collect()
}

/// The key of a tool's sibling set: its server and the sorted names of its siblings and itself.
pub fn sibling_key(tool: &ToolInput) -> (Option<String>, Vec<String>) {
    let mut names: Vec<String> = tool.siblings.iter().chain(std::iter::once(&tool.name)).cloned().collect();
    names.sort();
    names.dedup();
    (tool.server.clone(), names)
}
