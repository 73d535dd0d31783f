//! The `albert` command line.

mod evaluate;

use clap::{Parser, Subcommand};

/// ALBERT in Rust.
#[derive(Parser)]
#[command(name = "albert", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score predictions with a task's official metrics.
    Evaluate(evaluate::EvaluateArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Evaluate(args) => evaluate::run(args),
    }
}
