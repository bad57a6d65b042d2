//! The rules a scan reports beside the classifier's own finding rules: what each detects, why it
//! matters and what to do (SARIF's `shortDescription`, `fullDescription` and `help`).

use crate::classify::RuleSet;

/// A scan rule: id, short description, full description, help.
pub struct ScanRule {
    pub id: &'static str,
    pub short: &'static str,
    pub full: &'static str,
    pub help: &'static str,
    pub drift: bool,
}

pub const SCAN_RULES: &[ScanRule] = &[
    ScanRule {
        id: "tool-risk",
        short: "A tool that can do serious harm when an agent calls it unchecked",
        full: "The classifier judged this tool high or critical risk: it deletes, runs code, moves money, or changes permissions, credentials or many objects at once.",
        help: "Put the tool behind approval or deny it in your gateway (`catalog policy SERVER`), or suppress the finding with a reason if the risk is accepted.",
        drift: false,
    },
    ScanRule {
        id: "toxic-flow",
        short: "One agent gets untrusted input, private data and a public sink at once",
        full: "A tool that brings in content others wrote (web pages, issues, messages), a tool that reads private data, and a tool that sends data where others can see it are all available to the same agent. A prompt injection in the first can make the agent read with the second and leak with the third.",
        help: "Split the servers across agents, put the sink behind approval, or remove one of the three; the finding names the tools.",
        drift: false,
    },
    ScanRule {
        id: "shadowing",
        short: "A tool description that names another server's tools or tells the agent how to use other tools",
        full: "Descriptions are read by the model for every call. One that mentions another server's tool, or says how to use other tools, can steer calls to those tools: tool shadowing.",
        help: "Remove the server, or ask its author to describe only its own tools.",
        drift: false,
    },
    ScanRule {
        id: "name-collision",
        short: "Two servers offer a tool with the same name",
        full: "A client that does not prefix tool names by server may call the wrong server's tool, or let one server shadow another's.",
        help: "Rename the server entry so the client prefixes differ, or drop one of the servers.",
        drift: false,
    },
    ScanRule {
        id: "server-unreachable",
        short: "A server could not be listed, so its tools were not checked",
        full: "The server failed, timed out, needs credentials or configuration, or cannot be run by catalog; nothing is known about what it offers now.",
        help: "Fix the entry (the message says what failed), give the scan what it needs (--allow-net, --bind-ro), or scan a saved tools/list with --tools.",
        drift: false,
    },
    ScanRule {
        id: "unreadable-tool",
        short: "A tool definition could not be read",
        full: "The server sent a tool that is not a valid definition; it was not classified, and a client may still show it to the agent.",
        help: "Report it to the server's author; until fixed, treat the server as unchecked.",
        drift: false,
    },
    ScanRule {
        id: "suppression-expired",
        short: "A suppression has expired",
        full: "The suppression's date has passed, so the findings it covered count again.",
        help: "Review the findings, then renew the suppression with a new date and reason, or fix them.",
        drift: false,
    },
    ScanRule {
        id: "suppression-unused",
        short: "A suppression matched no finding",
        full: "Nothing in this scan matched the suppression; it may be stale or misspelt.",
        help: "Remove it, or correct its rule, server or tool.",
        drift: false,
    },
    ScanRule {
        id: "server-added",
        short: "A server that is not in the baseline",
        full: "The scan found a server the baseline does not pin.",
        help: "Review its tools, then accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "server-removed",
        short: "A server in the baseline is no longer declared",
        full: "The baseline pins a server that no input declares now.",
        help: "Accept the removal with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "tool-added",
        short: "A tool that is not in the baseline",
        full: "A server offers a tool it did not offer when the baseline was written: a new capability for the agent, possibly a rug pull.",
        help: "Review the tool, then accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "tool-removed",
        short: "A tool in the baseline is gone",
        full: "A server no longer offers a tool the baseline pins.",
        help: "Accept the removal with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "description-changed",
        short: "A tool's description changed since the baseline",
        full: "The model reads descriptions as instructions; a changed description is how a trusted server turns on its users (a rug pull).",
        help: "Read the new description, then accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "schema-widened",
        short: "A tool accepts more than it did at the baseline",
        full: "A new parameter (above all a path, URL, command or query), a relaxed type, a grown enum or a parameter no longer required gives the agent reach the baseline did not allow.",
        help: "Check what the new input can reach, then accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "schema-changed",
        short: "A tool's input schema lost parameters since the baseline",
        full: "Parameters were removed; calls that pass them may now fail or be read differently.",
        help: "Accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "annotations-changed",
        short: "A tool's declared annotations changed since the baseline",
        full: "Clients decide whether to ask before a call from readOnlyHint and destructiveHint; a dropped readOnlyHint means the tool now says it changes things.",
        help: "Check the tool's verdict, then accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "verdict-raised",
        short: "A tool's category or risk is higher than at the baseline",
        full: "The same server's tool is now judged more dangerous: its definition changed, or the rules learned more.",
        help: "Review the verdict's reasons (`catalog classify --explain`), then accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
    ScanRule {
        id: "definition-changed",
        short: "Other parts of a tool's definition changed since the baseline",
        full: "Fields beyond the description, schema and annotations changed (title, outputSchema, _meta).",
        help: "Accept it with `catalog scan --update-baseline`.",
        drift: true,
    },
];

pub fn scan_rule(id: &str) -> Option<&'static ScanRule> {
    SCAN_RULES.iter().find(|r| r.id == id)
}

/// Whether a rule compares with the baseline.
pub fn is_drift(id: &str) -> bool {
    scan_rule(id).is_some_and(|r| r.drift)
}

/// Rules about the scan itself rather than a tool: never accepted by a baseline.
pub fn is_about_the_scan(id: &str) -> bool {
    matches!(id, "server-unreachable" | "suppression-expired" | "suppression-unused")
}

/// A rule's texts: (short, full, help), from the scan's rules or the classifier's.
pub fn describe(id: &str, rules: &RuleSet) -> (String, String, String) {
    if let Some(r) = scan_rule(id) {
        return (r.short.to_string(), r.full.to_string(), r.help.to_string());
    }
    match rules.rule(id) {
        Some(r) => {
            let short = r.message.to_string();
            let full = r.why.split_whitespace().collect::<Vec<_>>().join(" ");
            let help = format!("{full} Run `catalog rules explain {id}` for the rule and its examples.");
            (short, full, help)
        }
        None => (id.to_string(), id.to_string(), format!("Run `catalog rules explain {id}`.")),
    }
}
