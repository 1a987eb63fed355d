//! `spindle`: generate synthetic relational data and stream it as events.
//!
//! Exit codes: 0 done (also when the reader of stdout went away), 2 bad input or a
//! failed run (the message names the field and the allowed values), 130 interrupted.

mod args;
mod config_file;
mod generate;
mod progress;
#[cfg(feature = "sql")]
mod replay;
mod schedule;
mod stream;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let outcome = match cli.command {
        args::Command::List => generate::list(),
        args::Command::Describe(a) => generate::describe(&a),
        args::Command::Validate(a) => generate::validate(&a),
        args::Command::Generate(a) => generate::run(&a),
        args::Command::Stream(a) => stream::run(*a),
        args::Command::Schedule(a) => schedule::run(*a),
        #[cfg(feature = "sql")]
        args::Command::Replay(a) => replay::run(*a),
        #[cfg(feature = "sql")]
        args::Command::Sql(a) => replay::sql(a),
        #[cfg(not(feature = "sql"))]
        args::Command::Replay(_) | args::Command::Sql(_) => Err(anyhow::anyhow!(
            "this spindle was built without SQL (DataFusion); build it with the default \
             features: cargo build --release -p spindle-cli"
        )),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
