//! Plain data shared by every module: what a tool is, and what the classifier says about it.
//!
//! Nothing here does I/O or knows about output formats; the serialisable report types live in
//! `report`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// One MCP tool as the classifier sees it, whatever it was read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolInput {
    /// The server that offers the tool, when known (registry or package name).
    pub server: Option<String>,
    /// The tool's name exactly as the server sent it.
    pub name: String,
    /// The optional human title (`title` or `annotations.title`).
    pub title: Option<String>,
    /// The description; `None` and `""` are both "empty".
    pub description: Option<String>,
    /// The `inputSchema`, reduced to the parameters the classifier reads.
    pub input_schema: Option<Schema>,
    /// The hints the server declared. Evidence, never truth.
    pub annotations: Option<Annotations>,
    /// Names of the other tools on the same server.
    pub siblings: Vec<String>,
}

/// A tool's input schema as the classifier reads it: its parameters in document order, nested
/// ones right after their parent, each with its type and its string `enum`/`const` values. The
/// reader (`input`) builds it while parsing, so no JSON tree of the schema is ever built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    pub params: Vec<Param>,
}

/// One parameter of an input schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The property name exactly as the schema spells it.
    pub name: String,
    /// `string`, `number`, `object`, ...; `any` when the schema does not say.
    pub ty: std::borrow::Cow<'static, str>,
    /// Its string `enum` values, then those of its `items`, then its `const`.
    pub values: Vec<String>,
}

/// The MCP `ToolAnnotations` a server declared, tolerant of missing fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

impl Annotations {
    /// The value of one hint by its MCP field name (`readOnlyHint`, ...).
    pub fn get(&self, hint: Hint) -> Option<bool> {
        match hint {
            Hint::ReadOnly => self.read_only,
            Hint::Destructive => self.destructive,
            Hint::Idempotent => self.idempotent,
            Hint::OpenWorld => self.open_world,
        }
    }

    /// True when no hint at all was declared.
    pub fn is_empty(&self) -> bool {
        Hint::ALL.iter().all(|h| self.get(*h).is_none())
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{}`, expected one of: {}",
                        stringify!($name).to_lowercase(),
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

string_enum! {
    /// What a tool does to the systems behind it. Declared from least to most severe, so the
    /// derived `Ord` is the tie-break order: when evidence is equally strong, the more severe
    /// reading wins.
    Category {
        Read => "read",
        Write => "write",
        Execute => "execute",
        Delete => "delete",
        Financial => "financial",
    }
}

string_enum! {
    /// How much harm an unrestricted agent could do with a tool.
    Risk {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
}

string_enum! {
    /// How serious a problem in a tool's own definition is.
    Severity {
        Info => "info",
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
}

string_enum! {
    /// The MCP annotation hints the classifier predicts.
    Hint {
        ReadOnly => "read_only",
        Destructive => "destructive",
        Idempotent => "idempotent",
        OpenWorld => "open_world",
    }
}

impl Hint {
    /// The field name in MCP's `ToolAnnotations`.
    pub fn mcp_name(self) -> &'static str {
        match self {
            Hint::ReadOnly => "readOnlyHint",
            Hint::Destructive => "destructiveHint",
            Hint::Idempotent => "idempotentHint",
            Hint::OpenWorld => "openWorldHint",
        }
    }

    pub fn from_mcp_name(s: &str) -> Option<Hint> {
        Hint::ALL.iter().copied().find(|h| h.mcp_name() == s)
    }
}

impl Risk {
    /// One level up, saturating at critical.
    pub fn raised(self, steps: usize) -> Risk {
        let idx = Risk::ALL.iter().position(|r| *r == self).unwrap_or(0);
        Risk::ALL[(idx + steps).min(Risk::ALL.len() - 1)]
    }
}

/// The predicted MCP annotations, as a careful server author would set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Hints {
    pub fn get(&self, hint: Hint) -> bool {
        match hint {
            Hint::ReadOnly => self.read_only,
            Hint::Destructive => self.destructive,
            Hint::Idempotent => self.idempotent,
            Hint::OpenWorld => self.open_world,
        }
    }

    pub fn set(&mut self, hint: Hint, value: bool) {
        match hint {
            Hint::ReadOnly => self.read_only = value,
            Hint::Destructive => self.destructive = value,
            Hint::Idempotent => self.idempotent = value,
            Hint::OpenWorld => self.open_world = value,
        }
    }

    /// The three-way label the devset uses: read-only → read, else destructive → delete, else write.
    pub fn label(&self) -> Category {
        if self.read_only {
            Category::Read
        } else if self.destructive {
            Category::Delete
        } else {
            Category::Write
        }
    }
}

/// Which part of the tool a piece of evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Name,
    /// The name exactly as sent, for findings about its characters.
    RawName,
    Title,
    Description,
    Params,
    Enums,
    Siblings,
    Server,
    Annotations,
    Verdict,
}

impl Field {
    /// How many fields there are, for per-field tables.
    pub const COUNT: usize = 10;

    pub const ALL: [Field; Field::COUNT] = [
        Field::Name,
        Field::RawName,
        Field::Title,
        Field::Description,
        Field::Params,
        Field::Enums,
        Field::Siblings,
        Field::Server,
        Field::Annotations,
        Field::Verdict,
    ];

    /// A dense index for per-field tables.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::RawName => "raw_name",
            Field::Title => "title",
            Field::Description => "description",
            Field::Params => "params",
            Field::Enums => "enums",
            Field::Siblings => "siblings",
            Field::Server => "server",
            Field::Annotations => "annotations",
            Field::Verdict => "verdict",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of evidence: the text a condition matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub field: Field,
    pub text: String,
}

/// A rule that fired, with what it matched and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule_id: Arc<str>,
    pub message: Arc<str>,
    pub evidence: Vec<Evidence>,
    /// Human-readable effect, e.g. `category delete (0.90)`, `tag credentials`.
    pub effect: Arc<str>,
}

/// A problem with the tool's own definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: Arc<str>,
    pub severity: Severity,
    pub message: Arc<str>,
    pub evidence: Vec<Evidence>,
}

/// One step of the confidence arithmetic, shown by `--explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceStep {
    pub from: f64,
    pub to: f64,
    pub why: StepWhy,
}

/// Why the confidence moved. Kept structured and put into words only when shown, so
/// classifying stays cheap.
#[derive(Debug, Clone, PartialEq)]
pub enum StepWhy {
    Strongest {
        category: Category,
        rule: Arc<str>,
    },
    /// These fields voted for the winner (a bit per `Field::index`).
    Agree(u16),
    Conflict {
        category: Category,
        rule: Arc<str>,
        weight: f64,
    },
    NoEvidence,
    EmptyDescription,
    NoVerb,
    Override {
        from: Category,
        to: Category,
        rule: Arc<str>,
    },
    /// A rule's own confidence change, with its message.
    Rule(Arc<str>),
    Bounds,
}

impl fmt::Display for StepWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepWhy::Strongest { category, rule } => write!(f, "strongest evidence for {category}: {rule}"),
            StepWhy::Agree(bits) => {
                let names: Vec<&str> =
                    Field::ALL.iter().filter(|x| bits & (1 << x.index()) != 0).map(|x| x.as_str()).collect();
                write!(f, "{} agree", names.join(" and "))
            }
            StepWhy::Conflict { category, rule, weight } => {
                write!(f, "conflicting evidence for {category}: {rule} ({weight:.2})")
            }
            StepWhy::NoEvidence => f.write_str("no rule recognised the tool; treated as a write"),
            StepWhy::EmptyDescription => f.write_str("empty description"),
            StepWhy::NoVerb => f.write_str("no known verb in the name"),
            StepWhy::Override { from, to, rule } => write!(f, "{from} → {to}: {rule}"),
            StepWhy::Rule(message) => f.write_str(message),
            StepWhy::Bounds => f.write_str("kept within bounds"),
        }
    }
}

/// One step of the risk arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub enum RiskStep {
    Base(Category, Risk),
    Raise { from: Risk, to: Risk, tag: Arc<str> },
    Floor { from: Risk, to: Risk, tag: Arc<str> },
}

impl fmt::Display for RiskStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RiskStep::Base(c, r) => write!(f, "{c} → {r}"),
            RiskStep::Raise { from, to, tag } => write!(f, "{from} → {to}: tag {tag}"),
            RiskStep::Floor { from, to, tag } => write!(f, "{from} → {to}: tag {tag} sets the floor"),
        }
    }
}

/// Everything the classifier says about one tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub category: Category,
    pub risk: Risk,
    /// 0–1, rounded to two decimals.
    pub confidence: f64,
    pub hints: Hints,
    /// Sorted and unique.
    pub tags: Vec<Arc<str>>,
    pub reasons: Vec<Reason>,
    pub findings: Vec<Finding>,
    pub confidence_steps: Vec<ConfidenceStep>,
    /// The risk table's arithmetic: the base for the category, then each tag that raised it.
    pub risk_steps: Vec<RiskStep>,
    pub summary: String,
}

impl Verdict {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.binary_search_by(|t| (**t).cmp(tag)).is_ok()
    }
}
