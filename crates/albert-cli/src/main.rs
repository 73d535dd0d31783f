//! The `albert` command-line tool.

mod tokenize;
mod vocab;

use clap::{Parser, Subcommand};

/// ALBERT in Rust: tokenize, train vocabularies, and more.
#[derive(Debug, Parser)]
#[command(name = "albert", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Tokenize(tokenize::TokenizeArgs),
    Vocab(vocab::VocabArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Tokenize(a) => tokenize::run(a),
        Command::Vocab(a) => vocab::run(a),
    }
}
