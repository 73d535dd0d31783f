//! `albert demo`: the main job on the built-in models, offline. Every text (`demo.json`) was chosen before any model
//! was trained: the first five sentences of SST-2's test.tsv (unlabeled), questions on an XQuAD article held out of
//! the QA model's training, two CoNLL-2003 test sentences, a plain fill-mask sentence. Gold answers and entities
//! are printed beside the output.

use albert::builtin::{self, Scores};
use albert::pipeline::{classify, fill_mask, ner, qa, PipelineModel, PipelineOptions, Task};
use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::json;

/// The demo's inputs and their sources (shared with the transformers reference script).
const INPUTS: &str = include_str!("../demo.json");

#[derive(Deserialize)]
struct Inputs {
    classify: Texts,
    fill_mask: Text,
    qa: QaInputs,
    ner: NerInputs,
}

#[derive(Deserialize)]
struct Texts {
    texts: Vec<String>,
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
struct QaInputs {
    context: String,
    questions: Vec<Gold>,
}

#[derive(Deserialize)]
struct Gold {
    question: String,
    gold: String,
}

#[derive(Deserialize)]
struct NerInputs {
    texts: Vec<Tagged>,
}

#[derive(Deserialize)]
struct Tagged {
    text: String,
    gold: String,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "The models lie in the repository's models/ folder (ALBERT_MODELS names another); each has a \
model card (README.md) with its data, recipe, the commands that reproduce it and its scores.\n\n\
Examples:\n  albert demo\n  albert demo --json | jq .qa")]
pub struct DemoArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn load(name: &str, task: Task) -> Result<(PipelineModel, Scores)> {
    let dir = builtin::path(name)?;
    let model = PipelineModel::load_dir(&dir, task).with_context(|| format!("loading the built-in model {name}"))?;
    Ok((model, Scores::of(name)?))
}

pub fn run(args: DemoArgs) -> Result<()> {
    let inputs: Inputs = serde_json::from_str(INPUTS).context("demo.json")?;
    let opts = PipelineOptions::default();
    let sentences: Vec<&str> = inputs.classify.texts.iter().map(String::as_str).collect();
    let (sentiment, sentiment_scores) = load(builtin::SENTIMENT, Task::Classify)?;
    let classes = classify::classify(&sentiment, &sentences, None, &opts)?;
    let masked = inputs.fill_mask.text.as_str();
    let (pretrained, pretrained_scores) = load(builtin::PRETRAINED, Task::FillMask)?;
    let fills = fill_mask::fill_mask(&pretrained, &[masked], 5, &opts)?;
    let context = inputs.qa.context.as_str();
    let (reader, reader_scores) = load(builtin::QUESTION_ANSWERING, Task::QuestionAnswering)?;
    let answers = inputs
        .qa
        .questions
        .iter()
        .map(|q| qa::answer(&reader, &q.question, context, &qa::QaOptions::default()))
        .collect::<albert::Result<Vec<_>>>()?;
    let (tagger, tagger_scores) = load(builtin::NER, Task::Ner)?;
    let texts: Vec<&str> = inputs.ner.texts.iter().map(|t| t.text.as_str()).collect();
    let entities = ner::ner(&tagger, &texts, ner::Aggregation::First, &opts)?;

    if args.json {
        let out = json!({
            "classify": {"model": builtin::SENTIMENT, "scores": sentiment_scores,
                "results": sentences.iter().zip(&classes).map(|(t, c)| json!({"text": t, "labels": c.labels})).collect::<Vec<_>>()},
            "fill_mask": {"model": builtin::PRETRAINED, "scores": pretrained_scores, "text": masked, "candidates": fills[0].masks[0]},
            "qa": {"model": builtin::QUESTION_ANSWERING, "scores": reader_scores, "context": context,
                "results": inputs.qa.questions.iter().zip(&answers).map(|(q, a)| json!({"question": q.question, "gold": q.gold, "answer": a})).collect::<Vec<_>>()},
            "ner": {"model": builtin::NER, "scores": tagger_scores,
                "results": texts.iter().zip(&inputs.ner.texts).zip(&entities).map(|((t, g), e)| json!({"text": t, "gold": g.gold, "entities": e.entities})).collect::<Vec<_>>()},
        });
        println!("{out}");
        return Ok(());
    }
    let header = |task: &str, name: &str, scores: &Scores| println!("\n== {task}: {name} ({})", scores.summary());
    println!("ALBERT built-in models (models/; each folder's README.md is its model card)");
    header("classify", builtin::SENTIMENT, &sentiment_scores);
    for (text, c) in sentences.iter().zip(&classes) {
        let best = c.labels.iter().max_by(|a, b| a.score.total_cmp(&b.score)).context("the classifier gave no label")?;
        println!("  {:<8} {:.3}  {text}", best.label, best.score);
    }
    header("fill-mask", builtin::PRETRAINED, &pretrained_scores);
    println!("  {masked}");
    for c in &fills[0].masks[0] {
        println!("  {:.3}  {}", c.score, c.token_str);
    }
    header("qa", builtin::QUESTION_ANSWERING, &reader_scores);
    println!("  context: {context}");
    for (q, a) in inputs.qa.questions.iter().zip(&answers) {
        println!("  Q: {}\n  A: {} (score {:.3}, code points {}..{}; gold: {})", q.question, a.answer, a.score, a.start, a.end, q.gold);
    }
    header("ner", builtin::NER, &tagger_scores);
    for ((text, g), e) in texts.iter().zip(&inputs.ner.texts).zip(&entities) {
        let found: Vec<String> = e.entities.iter().map(|x| format!("{} {} ({:.2})", x.span(text), x.entity_group, x.score)).collect();
        println!("  {text}\n    found: {}\n    gold:  {}", if found.is_empty() { "none".into() } else { found.join(", ") }, g.gold);
    }
    Ok(())
}
