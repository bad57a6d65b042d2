//! The command line, as clap types. Only `cli` knows clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Risk;

#[derive(Debug, Parser)]
#[command(name = "catalog", version, about = "An open, offline, explainable risk catalog of MCP tools")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify tools: one by name, or every tool in a tools/list JSON, JSON array or JSONL file
    Classify(ClassifyArgs),
    /// Measure the classifier on tools labelled by their authors (the devset format)
    Eval(EvalArgs),
    /// Check, test and explain the rules
    Rules(RulesArgs),
    /// Store saved tool lists (tools/list results, arrays, JSONL) in the catalog, classified
    Import(ImportArgs),
    /// A server's tools by risk, its sources and history; or one tool's verdict, definition and history
    Show(ShowArgs),
    /// Counts over the catalog: servers, tools, categories, risks, annotation coverage
    Stats(StatsArgs),
    /// Full-text search over the catalog's tools, with filters
    Search(SearchArgs),
    /// Rebuild the search index from the catalog
    Reindex(StatsArgs),
    /// Classify every stored tool again with the current rules
    Reclassify(ReclassifyArgs),
    /// List servers' tools (the seed list, the MCP Registry, config files, packages, URLs) into the catalog
    Crawl(Box<CrawlArgs>),
    /// A recommended gateway policy for a server or one tool; or check a PolicyLayer policy.json
    Policy(PolicyArgs),
    /// Write a recommended policy for every server in the catalog, one file per server
    Export(ExportArgs),
    /// Gate your own MCP setup in CI: every server's tools judged, stack findings, drift against a baseline
    Scan(Box<ScanArgs>),
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Client config files (default: the project's .mcp.json, .vscode/mcp.json, .cursor/mcp.json,
    /// .zed/settings.json, and your own clients' configs)
    #[arg(value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// A saved tools/list result (or array of tools) to judge offline; NAME=FILE names its server
    #[arg(long, value_name = "[NAME=]FILE")]
    pub tools: Vec<String>,
    /// A registry server.json (its packages and remotes are listed)
    #[arg(long, value_name = "FILE")]
    pub server_json: Vec<PathBuf>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: ScanFormat,
    /// Write the report here instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the SARIF report here
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Also write the Markdown report here (for a pull-request comment or job summary)
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Exit 1 when any new finding (a tool's risk included) is at this severity or above:
    /// low, medium, high, critical (any case)
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<crate::model::Severity>,
    /// The pins file to compare with (default: .catalog/baseline.json when it exists)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Accept the current state: write the pins file (the --baseline path, or .catalog/baseline.json)
    #[arg(long)]
    pub update_baseline: bool,
    /// Suppressions with reasons, TOML or JSON (default: .catalog/suppressions.toml or .json when it exists)
    #[arg(long, value_name = "FILE")]
    pub suppressions: Option<PathBuf>,
    /// Reuse the stored listing of package versions scanned before instead of launching them again
    #[arg(long)]
    pub cached: bool,
    /// Seconds one server gets to list its tools
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
    /// Packages and commands launched at once
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub launch_concurrency: usize,
    /// Run packages and commands without the bubblewrap sandbox (see `catalog crawl --help`)
    #[arg(long)]
    pub no_sandbox: bool,
    /// Let this server's sandbox reach the network (repeatable)
    #[arg(long, value_name = "SERVER")]
    pub allow_net: Vec<String>,
    /// Let every sandboxed server read this host path (read-only; repeatable)
    #[arg(long, value_name = "PATH")]
    pub bind_ro: Vec<PathBuf>,
    /// Where packages are installed and listings kept (default: $CATALOG_CACHE_DIR, else $XDG_CACHE_HOME/catalog)
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// No progress display
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Servers and new findings for people
    Table,
    /// One JSON document: every server, every tool's verdict, every finding
    Json,
    /// SARIF 2.1.0 for GitHub code scanning
    Sarif,
    /// Markdown for a pull-request comment
    Markdown,
}

#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Crawl the MCP Registry (the official one unless URL is given), paging /v0.1/servers
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = crate::sources::registry::DEFAULT_BASE)]
    pub registry: Option<String>,
    /// Only registry entries updated since this RFC 3339 time (default: where the last sync stopped)
    #[arg(long, value_name = "TIME")]
    pub updated_since: Option<String>,
    /// Only registry entries whose name contains this
    #[arg(long)]
    pub search: Option<String>,
    /// Stop after this many servers from the registry
    #[arg(long, value_name = "N")]
    pub max_servers: Option<usize>,
    /// A client config file (Claude Desktop, Cursor, VS Code, Claude Code, Windsurf, Zed)
    #[arg(long, value_name = "PATH")]
    pub config: Vec<PathBuf>,
    /// Every client config file in its usual place, and the project's in this directory
    #[arg(long)]
    pub discover: bool,
    /// An npm package to install and list (sandboxed)
    #[arg(long, value_name = "PKG[@VER]")]
    pub npm: Vec<String>,
    /// A PyPI package to install and list (sandboxed)
    #[arg(long, value_name = "PKG[==VER]")]
    pub pypi: Vec<String>,
    /// A stdio server command of your own, quoted as one argument: "node server.js --flag"
    #[arg(long, value_name = "CMD ARG...")]
    pub stdio: Vec<String>,
    /// A Streamable HTTP or SSE server URL
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    /// A header for every --url: "Authorization: Bearer ..."
    #[arg(long, value_name = "K: V")]
    pub header: Vec<String>,
    /// Registry data saved as JSON: a server.json, an array of them, or a /v0.1/servers response
    #[arg(long, value_name = "FILE")]
    pub from_file: Vec<PathBuf>,
    /// Servers listed over HTTP at once
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
    /// Packages and commands launched at once
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub launch_concurrency: usize,
    /// Seconds one server gets to list its tools
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
    /// Run packages and commands without the bubblewrap sandbox: they can then reach the network
    /// and read and write your files (they still get no secrets from your environment)
    #[arg(long)]
    pub no_sandbox: bool,
    /// Let this server's sandbox reach the network (a name as the crawl reports it; repeatable)
    #[arg(long, value_name = "SERVER")]
    pub allow_net: Vec<String>,
    /// Let every sandboxed server read this host path (read-only; repeatable)
    #[arg(long, value_name = "PATH")]
    pub bind_ro: Vec<std::path::PathBuf>,
    /// Let registry URLs reach loopback, private and link-local addresses
    #[arg(long)]
    pub allow_private: bool,
    /// Crawl package versions already in the catalog again; ignore the last registry sync
    #[arg(long)]
    pub force: bool,
    /// Print what would be crawled, and connect to nothing
    #[arg(long)]
    pub dry_run: bool,
    /// No progress display
    #[arg(long, short)]
    pub quiet: bool,
    /// Exit 1 when any server could not be listed (for CI)
    #[arg(long)]
    pub fail_on_error: bool,
    /// Where packages are installed (default: $CATALOG_CACHE_DIR, else $XDG_CACHE_HOME/catalog)
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub db: DbOption,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find in names (ranked first), titles, descriptions and server names
    #[arg(default_value = "")]
    pub query: String,
    #[arg(long, value_parser = parse_category)]
    pub category: Option<crate::model::Category>,
    /// Exactly this risk
    #[arg(long, value_parser = parse_risk)]
    pub risk: Option<Risk>,
    /// This risk or higher
    #[arg(long, value_parser = parse_risk)]
    pub min_risk: Option<Risk>,
    #[arg(long)]
    pub server: Option<String>,
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub db: DbOption,
}

#[derive(Debug, Args)]
pub struct ReclassifyArgs {
    #[command(flatten)]
    pub db: DbOption,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Args)]
pub struct DbOption {
    /// The catalog database (default: $CATALOG_DB, else $XDG_DATA_HOME/catalog/catalog.db)
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories (every *.json and *.jsonl in them)
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub paths: Vec<PathBuf>,
    /// The server the tools belong to (default: each record's `server`, else the file name)
    #[arg(long)]
    pub server: Option<String>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub db: DbOption,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A server's name or identity
    pub server: String,
    /// One of its tools
    pub tool: Option<String>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub db: DbOption,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub db: DbOption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (the default on a terminal)
    Table,
    /// One JSON document
    Json,
    /// One JSON object per tool, per line (the default when piped)
    Jsonl,
}

#[derive(Debug, Args)]
pub struct RulesOption {
    /// Use the rules in this directory instead of the built-in ones
    #[arg(long, value_name = "DIR", global = true)]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The tool's name (or use --input)
    #[arg(required_unless_present = "input", conflicts_with = "input")]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub title: Option<String>,
    /// The tool's input schema as JSON
    #[arg(long, value_name = "JSON")]
    pub schema: Option<String>,
    #[arg(long)]
    pub server: Option<String>,
    /// Another tool on the same server (repeatable)
    #[arg(long = "sibling", value_name = "NAME")]
    pub siblings: Vec<String>,
    /// A tools/list result, a JSON array of tools, or JSONL records; `-` reads stdin
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[arg(long, short, value_enum)]
    pub format: Option<Format>,
    /// Show every rule that fired, its evidence, and the confidence and risk arithmetic
    #[arg(long)]
    pub explain: bool,
    /// Exit with 1 when any tool's risk is at or above this level
    #[arg(long, value_name = "RISK", value_parser = parse_risk)]
    pub fail_on: Option<Risk>,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labelled tools, one JSON record per line (see the devset README)
    pub file: PathBuf,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    /// Fail (exit 1) when a figure is below the thresholds in this TOML file
    #[arg(long, value_name = "FILE")]
    pub gate: Option<PathBuf>,
    /// List every disagreement, not only the dangerous ones
    #[arg(long)]
    pub all_misses: bool,
    /// Also judge each server as unseen: without the rules that fire on its tools alone
    #[arg(long)]
    pub by_server: bool,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load the rules and report every problem with its file and field
    Check {
        /// A rule directory (default: the built-in rules)
        dir: Option<PathBuf>,
    },
    /// Run every rule's own examples; report Missing and Noisy cases
    Test {
        /// A rule directory (default: the built-in rules)
        dir: Option<PathBuf>,
    },
    /// Print what a rule detects, why it matters, its match and its examples
    Explain {
        rule_id: String,
        #[command(flatten)]
        rules: RulesOption,
    },
    /// List every rule with its stage and message
    List {
        #[command(flatten)]
        rules: RulesOption,
        #[arg(long, short, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// A server's name or identity
    #[arg(required_unless_present_any = ["tool", "check"], conflicts_with_all = ["tool", "check"])]
    pub server: Option<String>,
    /// One tool's rule, as on a tool page (from the catalog, else classified by its name)
    #[arg(long, value_name = "NAME", conflicts_with = "check")]
    pub tool: Option<String>,
    /// With --tool: the server it belongs to
    #[arg(long = "server", id = "tool_server", value_name = "SERVER", requires = "tool")]
    pub tool_server: Option<String>,
    /// Validate a PolicyLayer policy.json and list every problem with its JSON path (exit 1 if any)
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// policylayer (default for a server), claude-code, intercept, codex, json, or table (default for --tool)
    #[arg(long, short, value_enum)]
    pub format: Option<PolicyFormat>,
    /// Write the policy to this file instead of stdout
    #[arg(long, short, value_name = "FILE", conflicts_with = "check")]
    pub out: Option<PathBuf>,
    /// Overrides applied on top of the table: a TOML file of [[override]] server, tool, action, reason
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub overrides: Option<PathBuf>,
    /// The server's name in your Claude Code or Codex configuration (default: its catalog name)
    #[arg(long = "as", value_name = "NAME")]
    pub client_name: Option<String>,
    #[command(flatten)]
    pub db: DbOption,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory to write into (created if missing; files of the same names are replaced)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, short, value_enum, default_value = "policylayer")]
    pub format: PolicyFormat,
    /// Overrides applied on top of the table: a TOML file of [[override]] server, tool, action, reason
    #[arg(long, value_name = "FILE")]
    pub overrides: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbOption,
    #[command(flatten)]
    pub rules: RulesOption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    /// PolicyLayer's hosted policy.json v1
    Policylayer,
    /// A Claude Code settings fragment (permissions.allow/ask/deny)
    ClaudeCode,
    /// Intercept's YAML policy
    Intercept,
    /// Codex config.toml disabled_tools
    Codex,
    /// catalog's own JSON: each tool's action, rule, reason and argument suggestions
    Json,
    /// Aligned columns for people
    Table,
}

fn parse_severity(s: &str) -> Result<crate::model::Severity, String> {
    s.to_ascii_lowercase().parse()
}

fn parse_risk(s: &str) -> Result<Risk, String> {
    s.parse()
}

fn parse_category(s: &str) -> Result<crate::model::Category, String> {
    s.parse()
}
