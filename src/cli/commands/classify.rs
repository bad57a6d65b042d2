//! `catalog classify`: one tool from the command line, or every tool in a file.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use anyhow::{Context, Result};

use super::load_rules;
use crate::classify::SiblingContext;
use crate::cli::args::{ClassifyArgs, Format};
use crate::cli::printer;
use crate::cli::{Io, Status};
use crate::input::{read_tools, sibling_key, InputSummary};
use crate::model::{Risk, ToolInput};
use crate::report::{ClassifyTotals, ProblemJson, ToolVerdict, SCHEMA_VERSION};

pub(super) fn run(args: ClassifyArgs, io: &mut Io<'_>) -> Result<Status> {
    let rules = load_rules(args.rules.rules.as_deref())?;
    let format = args.format.unwrap_or(if io.out_is_terminal { Format::Table } else { Format::Jsonl });

    let Some(path) = &args.input else {
        let schema = match &args.schema {
            Some(s) => Some(serde_json::from_str(s).context("--schema is not valid JSON")?),
            None => None,
        };
        let tool = ToolInput {
            server: args.server.clone(),
            name: args.name.clone().unwrap_or_default(),
            title: args.title.clone(),
            description: args.description.clone(),
            input_schema: schema,
            annotations: None,
            siblings: args.siblings.clone(),
        };
        if tool.name.trim().is_empty() {
            anyhow::bail!("the tool name is empty; give a name or --input FILE");
        }
        let verdict = rules.classify(&tool);
        match format {
            Format::Table => printer::verdict_detail(io.out, &tool, &verdict, args.explain)?,
            Format::Json | Format::Jsonl => {
                serde_json::to_writer(&mut *io.out, &ToolVerdict::new(&tool, &verdict, None, args.explain))?;
                writeln!(io.out)?;
            }
        }
        return Ok(gate(args.fail_on, verdict.risk));
    };

    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the tools from stdin")?;
        s
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!(
                "{} is not UTF-8 text (first bad byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?
    };

    let shared: std::cell::OnceCell<SiblingContext> = std::cell::OnceCell::new();
    let mut contexts: HashMap<(Option<String>, Vec<String>), SiblingContext> = HashMap::new();
    let mut by_category: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut by_risk: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut worst: Option<Risk> = None;
    let mut write_error: Option<std::io::Error> = None;
    let mut first = true;
    if format == Format::Json {
        write!(
            io.out,
            "{{\"schema_version\":{SCHEMA_VERSION},\"rules_version\":{},\"tools\":[",
            serde_json::to_string(rules.version())?
        )?;
    } else if format == Format::Table {
        printer::table_header(io.out)?;
    }
    let out = &mut *io.out;
    let summary: InputSummary = read_tools(
        &text,
        |names| {
            let _ = shared.set(rules.sibling_context(names));
        },
        |tool, location| {
            if write_error.is_some() {
                return;
            }
            // Records that carry their own sibling lists (JSONL) get a context per server.
            let verdict = if tool.siblings.is_empty() {
                match shared.get() {
                    Some(ctx) => rules.classify_in(&tool, ctx),
                    None => rules.classify(&tool),
                }
            } else {
                let ctx = contexts.entry(sibling_key(&tool)).or_insert_with_key(|k| rules.sibling_context(&k.1));
                rules.classify_in(&tool, ctx)
            };
            *by_category.entry(verdict.category.as_str()).or_insert(0) += 1;
            *by_risk.entry(verdict.risk.as_str()).or_insert(0) += 1;
            worst = worst.max(Some(verdict.risk));
            let written = match format {
                Format::Table => {
                    if args.explain {
                        printer::verdict_detail(out, &tool, &verdict, true)
                    } else {
                        printer::table_row(out, &tool, &verdict)
                    }
                }
                Format::Jsonl => {
                    serde_json::to_writer(&mut *out, &ToolVerdict::new(&tool, &verdict, Some(location), args.explain))
                        .map_err(std::io::Error::from)
                        .and_then(|()| out.write_all(b"\n"))
                }
                Format::Json => {
                    let sep: &[u8] = if first { b"" } else { b"," };
                    first = false;
                    out.write_all(sep).and_then(|()| {
                        serde_json::to_writer(
                            &mut *out,
                            &ToolVerdict::new(&tool, &verdict, Some(location), args.explain),
                        )
                        .map_err(std::io::Error::from)
                    })
                }
            };
            if let Err(e) = written {
                write_error = Some(e);
            }
        },
    );
    if let Some(e) = write_error {
        return Err(anyhow::Error::new(e).context("cannot write the verdicts"));
    }
    match format {
        Format::Json => {
            let totals = ClassifyTotals {
                tool_count: summary.tools,
                by_category,
                by_risk,
                problems: summary
                    .problems
                    .iter()
                    .map(|p| ProblemJson { location: &p.location, message: &p.message })
                    .collect(),
            };
            let totals = serde_json::to_string(&totals)?;
            // Splice the totals' fields after the streamed `tools` array.
            writeln!(io.out, "],{}", &totals[1..])?;
        }
        Format::Table => printer::table_footer(io.out, summary.tools, &by_category, &by_risk)?,
        Format::Jsonl => {}
    }
    for p in &summary.problems {
        writeln!(io.err, "warning: {}: {p}", path.display())?;
    }
    if summary.tools == 0 {
        writeln!(
            io.err,
            "error: no usable tools in {}; expected a tools/list result {{\"tools\":[...]}}, a JSON array of tools, or JSONL records with a `name`",
            path.display()
        )?;
        return Ok(Status::Error);
    }
    Ok(match worst {
        Some(w) => gate(args.fail_on, w),
        None => Status::Success,
    })
}

fn gate(fail_on: Option<Risk>, risk: Risk) -> Status {
    match fail_on {
        Some(level) if risk >= level => Status::Failure,
        _ => Status::Success,
    }
}
