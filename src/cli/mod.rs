//! The command line: parsing (`args`), one module per subcommand (`commands`), and output
//! (`printer`). Only this module knows clap and the terminal; the library reports through return
//! values.

mod args;
mod commands;
mod printer;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Format};

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: done.
    Success,
    /// 1: done, and a gate failed (`--fail-on`, `--gate`, failing rule examples).
    Failure,
    /// 2: nothing usable (bad input, broken rules, I/O).
    Error,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Failure => 1,
            Status::Error => 2,
        }
    }
}

/// Where a command writes: its results, its messages, and whether results go to a terminal.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub out_is_terminal: bool,
}

/// Runs the process: parses `std::env::args`, runs the command, prints errors, exits.
pub fn main() -> ExitCode {
    let stdout = io::stdout();
    let stderr = io::stderr();
    let out_is_terminal = stdout.is_terminal();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    // Not locked for the whole run: the progress display (another thread) writes to stderr too.
    let mut err = stderr;
    let args: Vec<String> = std::env::args().collect();
    let mut io = Io { out: &mut out, err: &mut err, out_is_terminal };
    let status = run_with_args(&args, &mut io);
    let flushed = io.out.flush();
    if let Err(e) = flushed {
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(io.err, "error: cannot write the output: {e}");
            return ExitCode::from(Status::Error.code());
        }
    }
    ExitCode::from(status.code())
}

/// Runs `catalog` with these arguments (the first is the program name), for the binary and for
/// in-process tests.
pub fn run_with_args(args: &[String], io: &mut Io<'_>) -> Status {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are results, not errors: they go to stdout.
            if e.use_stderr() {
                let _ = write!(io.err, "{}", e.render());
                return Status::Error;
            }
            let _ = write!(io.out, "{}", e.render());
            return Status::Success;
        }
    };
    match commands::run(cli, io) {
        Ok(status) => status,
        Err(e) if is_broken_pipe(&e) => Status::Success,
        Err(e) => {
            printer::error(io.err, &e);
            Status::Error
        }
    }
}

/// A closed pipe (`catalog ... | head`) is not an error (ripgrep, ruff).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}
