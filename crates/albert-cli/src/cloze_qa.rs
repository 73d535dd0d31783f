//! `albert cloze-qa`: extractive-QA training data made from plain text, for a first fine-tuning
//! stage before a small labeled QA set.

use std::path::PathBuf;

use albert_train::data::{read_text, split_documents, DocBoundary, TextEncoding};
use albert_train::tasks::cloze_qa::{cloze_questions, ClozeOptions};

/// Arguments of `albert cloze-qa`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example (the recipe of the built-in albert-small-xquad: cloze questions on WikiText, a first QA
stage on them, then the labeled questions):
  albert cloze-qa --corpus wiki.valid.tokens wiki.test.tokens --per-paragraph 5 --out cloze.json
  albert finetune --task squad --data cloze.json --model models/albert-small --out cloze-qa --lr 2e-4 --batch 16 --epochs 1
  albert finetune --task xquad --data xquad.en.json --model cloze-qa --out qa --lr 1e-4 --batch 16")]
pub struct ClozeQaArgs {
    /// Plain text files (`.gz` too), paragraphs separated by blank lines; WikiText's `@-@` marks are undone.
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    pub corpus: Vec<PathBuf>,
    /// Output: a SQuAD v1.1 JSON file (written atomically; an existing file is replaced only with --overwrite).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: crate::output::OverwriteArg,
    /// Stop after this many questions.
    #[arg(long, value_name = "N")]
    pub max_questions: Option<usize>,
    /// Questions from one paragraph at most, each from a different sentence.
    #[arg(long, default_value_t = ClozeOptions::default().per_paragraph)]
    pub per_paragraph: usize,
    /// Skip paragraphs with fewer words.
    #[arg(long, default_value_t = ClozeOptions::default().min_paragraph_words)]
    pub min_paragraph_words: usize,
    /// Context of a question: its sentence and the sentences around it within this many words; 0: the whole paragraph.
    #[arg(long, default_value_t = ClozeOptions::default().max_context_words)]
    pub max_context_words: usize,
    /// Words of the sentence kept on each side of the answer.
    #[arg(long, default_value_t = ClozeOptions::default().window)]
    pub window: usize,
    /// Probability of dropping each other word of the question.
    #[arg(long, default_value_t = ClozeOptions::default().drop_prob)]
    pub drop_prob: f64,
    /// Seed of every draw.
    #[arg(long, default_value_t = ClozeOptions::default().seed)]
    pub seed: u64,
    /// Print the summary as one JSON line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ClozeQaArgs) -> anyhow::Result<()> {
    anyhow::ensure!((0.0..1.0).contains(&args.drop_prob), "--drop-prob must be in [0, 1), not {}", args.drop_prob);
    args.overwrite.claim_file(&args.out)?;
    let mut paragraphs = Vec::new();
    for path in &args.corpus {
        let text = read_text(path, TextEncoding::Utf8OrLatin1)?.text;
        paragraphs.extend(split_documents(&text, DocBoundary::BlankLine).into_iter().map(|d| d.sentences.join(" ")));
    }
    let options = ClozeOptions {
        per_paragraph: args.per_paragraph,
        min_paragraph_words: args.min_paragraph_words,
        window: args.window,
        drop_prob: args.drop_prob,
        max_context_words: args.max_context_words,
        seed: args.seed,
        ..Default::default()
    };
    let data = cloze_questions(&paragraphs, &options, args.max_questions);
    let questions = data.questions().count();
    anyhow::ensure!(questions > 0, "no paragraph of the corpus has {} words or more with a usable sentence", args.min_paragraph_words);
    crate::output::write_file(&args.out, &serde_json::to_vec(&data)?)?;
    if args.json {
        println!("{}", serde_json::json!({"out": args.out, "questions": questions, "paragraphs_read": paragraphs.len()}));
    } else {
        println!("{}: {questions} questions from {} paragraphs", args.out.display(), paragraphs.len());
    }
    Ok(())
}
