//! `albert predict`: run a fine-tuned checkpoint over a task file (labeled or not) and write its predictions in the
//! format `albert evaluate --predictions` and the task's leaderboard read (GLUE submission TSV).

use std::path::{Path, PathBuf};

use albert::tokenizer::AlbertTokenizer;
use albert::{LoadOptions, Pretrained};
use albert_train::finetune::sequence::{predict_split, read_split, write_submission};
use albert::decode::qa::{QaWindowOptions, SpanDecodeOptions};
use albert_train::finetune::choice::{self, prediction_file, ChoiceFeatures};
use albert_train::finetune::qa::{self, prediction_files, QaFeatures};
use albert_train::tasks::multiple_choice::read_race;
use albert_train::finetune::token::{self, write_conll, TokenFeatures};
use albert_train::tasks::squad::{read_squad, ArticlePart, ArticleSplit, SquadDataset};
use albert_train::tasks::ner::read_conll2003;
use albert_train::tasks::Task;
use anyhow::Context;

use crate::evaluate::{parse_task, CustomDataArgs};
use crate::output::OverwriteArg;

/// Arguments of `albert predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// Task: a GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli, ax), conll2003, squad,
    /// squad-v2 (also writes NAME.na_odds.json beside --out), xquad, race or custom.
    #[arg(long, value_parser = parse_task)]
    pub task: Task,
    /// Data file in the task's format, labels optional (e.g. GLUE test.tsv).
    #[arg(long)]
    pub data: PathBuf,
    /// Fine-tuned checkpoint directory (config.json, weights, tokenizer files).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the predictions (default: standard output); an existing file is replaced only with --overwrite.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub overwrite: OverwriteArg,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub custom: CustomDataArgs,
}

/// How to run the model over the data.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Longest input in tokens [default: 384 for question answering (windows sharing 128 tokens), 512 for RACE,
    /// else 128; longer texts are truncated, longest first; RACE cuts the passage].
    #[arg(long)]
    pub max_seq_length: Option<usize>,
    /// XQuAD: only the train or test articles of the committed split (data/splits/xquad_split.json).
    #[arg(long, value_parser = clap::value_parser!(ArticlePart))]
    pub articles: Option<ArticlePart>,
    /// Examples per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Run the encoder's projections in int8 (dynamic quantization): faster, scores change slightly.
    #[arg(long)]
    pub int8: bool,
}

impl RunArgs {
    /// The window or truncation length for `task`.
    pub fn max_len(&self, task: Task) -> usize {
        self.max_seq_length.unwrap_or_else(|| task.default_max_seq_length())
    }
}

/// Reads a SQuAD-format file, restricted to the split's articles when `articles` is given (XQuAD only).
pub fn read_qa_data(task: Task, data: &Path, articles: Option<ArticlePart>) -> anyhow::Result<SquadDataset> {
    let dataset = read_squad(data).with_context(|| format!("reading {}", data.display()))?;
    match articles {
        Some(part) if task == Task::Xquad => Ok(ArticleSplit::xquad().part(&dataset, data, part)?),
        Some(_) => anyhow::bail!("--articles applies to --task xquad only"),
        None => Ok(dataset),
    }
}

/// Where the no-answer odds of SQuAD v2.0 predictions `out` go: `NAME.na_odds.json` beside it.
pub fn na_odds_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "predictions".into(), |s| s.to_string_lossy().to_string());
    out.with_file_name(format!("{stem}.na_odds.json"))
}

/// Loads a checkpoint directory and its tokenizer.
pub fn load_checkpoint(dir: &Path) -> anyhow::Result<(Pretrained, AlbertTokenizer)> {
    let model = Pretrained::load(dir, &LoadOptions::default())
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let tokenizer =
        AlbertTokenizer::from_path(dir).with_context(|| format!("loading the tokenizer in {}", dir.display()))?;
    Ok((model, tokenizer))
}

/// Predicts every example of `data` with the checkpoint `model` and writes a submission TSV to `out`.
pub fn predict_to_file(
    task: Task,
    data: &Path,
    model: &Path,
    custom: &CustomDataArgs,
    run: &RunArgs,
    out: &Path,
) -> anyhow::Result<()> {
    let (mut model, tokenizer) = load_checkpoint(model)?;
    model.set_precision(albert::Precision::from_int8(run.int8));
    if task.is_question_answering() {
        let dataset = read_qa_data(task, data, run.articles)?;
        let window = QaWindowOptions { max_seq_length: run.max_len(task), ..QaWindowOptions::default() };
        let features = QaFeatures::encode(&tokenizer, &dataset, &window, false)?;
        let decode = SpanDecodeOptions { with_null_answer: task == Task::SquadV2, ..SpanDecodeOptions::default() };
        let (texts, odds) = prediction_files(&qa::predict(&model, &features, run.batch, &decode)?);
        crate::output::write_file(out, &serde_json::to_vec_pretty(&texts)?)?;
        if task == Task::SquadV2 {
            crate::output::write_file(&na_odds_path(out), &serde_json::to_vec_pretty(&odds)?)?;
        }
        return Ok(());
    }
    if task == Task::Race {
        let examples = read_race(data).with_context(|| format!("reading {}", data.display()))?;
        let features = ChoiceFeatures::encode(&tokenizer, &examples, run.max_len(task))?;
        let chosen = choice::predict(&model, &features, run.batch)?;
        crate::output::write_file(out, &serde_json::to_vec_pretty(&prediction_file(&examples, &chosen))?)?;
        return Ok(());
    }
    if task == Task::Conll2003 {
        let sentences = read_conll2003(data).with_context(|| format!("reading {}", data.display()))?;
        let labels: Vec<String> = (0..model.config.num_labels())
            .map(|i| model.config.label_name(i))
            .collect();
        let features = TokenFeatures::encode_unlabeled(&tokenizer, &sentences, run.max_len(task))?;
        write_conll(out, &sentences, &token::predict(&model, &features, run.batch)?, &labels)?;
        return Ok(());
    }
    let labels: Vec<String> = if model.config.num_labels() == 1 {
        Vec::new()
    } else {
        (0..model.config.num_labels())
            .map(|i| model.config.label_name(i))
            .collect()
    };
    let custom = custom.to_task();
    let split = read_split(
        task,
        data,
        Some(&custom),
        (!labels.is_empty()).then_some(labels.as_slice()),
    )
    .with_context(|| format!("reading {}", data.display()))?;
    let predictions = predict_split(&model, &tokenizer, &split, run.max_len(task), run.batch)?;
    // GLUE submissions name classes as the task's files do (0/1 for the binary tasks), whatever the model calls them.
    let written: Vec<String> = match task {
        Task::Glue(t) if t.file_labels().len() == labels.len() => t.file_labels().iter().map(|l| l.to_string()).collect(),
        _ => labels,
    };
    write_submission(out, &predictions, &written)?;
    Ok(())
}

/// Runs `albert predict`.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    match &args.out {
        Some(out) => {
            args.overwrite.claim_file(out)?;
            if args.task == Task::SquadV2 {
                args.overwrite.claim_file(&na_odds_path(out))?;
            }
            predict_to_file(args.task, &args.data, &args.model, &args.custom, &args.run, out)
        }
        None => {
            let tmp = tempfile::tempdir()?;
            let path = tmp.path().join("predictions.out");
            predict_to_file(args.task, &args.data, &args.model, &args.custom, &args.run, &path)?;
            println!("{}", std::fs::read_to_string(&path)?.trim_end());
            Ok(())
        }
    }
}
