//! `albert explain`: which tokens a prediction rests on (Integrated Gradients, gradient x input, attention rollout),
//! as text, JSON, an HTML page highlighted as Captum's `visualize_text`, and attention maps as a PNG.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use albert::config::{AlbertConfig, Architecture};
use albert::pipeline::explain::{self, AttentionMaps, ExplainOptions, Explanation, Method, Request};
use albert::pipeline::{PipelineModel, Task};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::json;

use crate::output::{write_file, OverwriteArg};

/// Arguments of `albert explain`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
albert explain \"A gripping, beautifully acted film.\"\n  \
albert explain --words --html sst2.html \"The plot is dull.\" \"A gripping, beautifully acted film.\"\n  \
albert explain --model models/albert-small-xquad --question \"Where does Anna live?\" \"Anna lives in Berlin.\"\n  \
albert explain --model models/albert-small-conll03 --target PER \"Anna met Tom in Paris.\"\n  \
albert explain --method attention-rollout --png maps.png \"The plot is dull.\"\n  \
albert explain --faithfulness --data ../shared/data/glue/SST-2/dev.tsv --limit 100 --png curves.png\n\n\
What is explained depends on the model's head: a sequence classifier's predicted label (or --target, a label's name \
or index); a question-answering model's answer (with --question; TEXT is the context), its start and end; a \
token classifier's entities (the label at each entity's first token; --target keeps one type or tag).\n\n\
Methods: ig, Integrated Gradients on the output of the embedding layer (word + position + token type, after its \
LayerNorm), exactly as Captum's LayerIntegratedGradients: the baseline is [CLS] <pad>... [SEP] of the same length, \
Gauss-Legendre points (--steps, 50); the scores sum to F(input) - F(baseline) up to the reported delta (the \
smaller, the better the integral). grad-x-input: the gradient at the input times the layer's output (Captum's \
LayerGradientXActivation). attention-rollout: Abnar & Zuidema's rollout over the layers as run, the row of the \
position the head reads. Scores are signed logit contributions: positive tokens push the explained output up.\n\n\
--html writes a page as Captum's visualize_text (green for, red against the target; each row's scores divided by \
their L2 norm); --png draws the input's attention maps (layer x head grid, or one layer with --png-layer).\n\n\
--faithfulness checks the methods on a data set (--data: a TSV with a header and a `sentence` column, as SST-2's) \
under a single-label sequence classifier, by deletion curves. For each text and ranking, the word pieces are ranked \
by their signed attribution toward the predicted class, highest first (ties: the earlier piece first; [CLS] and [SEP] \
never ranked), or in a random order (--random-seeds orders per text, seeded with --seed + r on the text's own stream, \
their drops averaged). At q = 10, 20, 30, 40, 50 % the top k = ceil(q n / 100) of the text's n pieces are deleted: \
removed from the token sequence, which gets shorter (not replaced by <pad>). The drop is p(c | text) - p(c | text \
without them) for the predicted class c. AOPC is Samek et al.'s (2017) mean drop over the steps 0..5, step 0 \
deleting nothing: (sum of the 5 drops) / 6; higher means the top-ranked pieces matter more. Means over texts come \
with 95% percentile bootstrap intervals over texts (--resamples, seeded with --seed), each method's AOPC also minus \
random's (paired, per text). --method restricts the check to one method (and random); --json prints the summary and \
every text's curves; --png draws the mean curves.")]
pub struct ExplainArgs {
    /// The texts to explain (QA: the contexts); without them, each line of stdin is one.
    texts: Vec<String>,
    /// Checkpoint directory or hub id. Default: the built-in SST-2 model (the built-in QA model with --question).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// ig, grad-x-input or attention-rollout [default: ig; with --faithfulness, all three].
    #[arg(long)]
    pub(crate) method: Option<Method>,
    /// The label to explain (name or index); token classification: the entity type or tag to keep.
    #[arg(long)]
    target: Option<String>,
    /// The second text of a sentence-pair classifier (the same for every TEXT).
    #[arg(long)]
    pair: Option<String>,
    /// The question; TEXT is then the context and the model a question-answering one.
    #[arg(long)]
    question: Option<String>,
    /// Integrated Gradients: points of the Gauss-Legendre rule.
    #[arg(long, default_value_t = 50)]
    pub(crate) steps: usize,
    /// Integrated Gradients: points per forward pass (memory grows with it).
    #[arg(long, default_value_t = 16)]
    pub(crate) internal_batch_size: usize,
    /// Longest input in tokens, special tokens included; longer inputs are truncated with a warning.
    #[arg(long)]
    pub(crate) max_length: Option<usize>,
    /// Merge word pieces into words (their spans touch in the text); a word's score is its pieces' sum.
    #[arg(long)]
    words: bool,
    /// Print one JSON object per input: tokens (or words), offsets, prediction, and per target its scores and delta.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write a self-contained HTML page highlighting every input's tokens (one row per input and target).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the attention maps of the (single) input as a PNG: every layer x head, or one layer with --png-layer;
    /// with --faithfulness, the mean deletion curves.
    #[arg(long, value_name = "FILE")]
    pub(crate) png: Option<PathBuf>,
    /// With --png: draw only this layer (0-based, as run), its heads side by side.
    #[arg(long)]
    png_layer: Option<usize>,
    /// Check the methods' faithfulness on --data by deletion curves and AOPC, against random orders (see below).
    #[arg(long, requires = "data", conflicts_with_all = ["texts", "target", "pair", "question", "words", "html", "png_layer"])]
    faithfulness: bool,
    /// With --faithfulness: a TSV with a header and a `sentence` column (SST-2's dev.tsv).
    #[arg(long, value_name = "FILE", requires = "faithfulness")]
    pub(crate) data: Option<PathBuf>,
    /// With --faithfulness: check the first N texts only.
    #[arg(long, value_name = "N", requires = "faithfulness")]
    pub(crate) limit: Option<usize>,
    /// With --faithfulness: random orders per text (0: no random ranking).
    #[arg(long, default_value_t = 10, requires = "faithfulness")]
    pub(crate) random_seeds: usize,
    /// With --faithfulness: seed of the random orders and of the bootstrap.
    #[arg(long, default_value_t = 0, requires = "faithfulness")]
    pub(crate) seed: u64,
    /// With --faithfulness: bootstrap resamples of the texts.
    #[arg(long, default_value_t = 1000, requires = "faithfulness")]
    pub(crate) resamples: usize,
    /// With --faithfulness: token sequences (a text and its deleted copies) per forward pass.
    #[arg(long, default_value_t = 32, requires = "faithfulness")]
    pub(crate) batch_size: usize,
    #[command(flatten)]
    pub(crate) overwrite: OverwriteArg,
}

/// Which task a request for this model and these arguments is.
fn task_of(args: &ExplainArgs) -> Result<Task> {
    if args.question.is_some() {
        return Ok(Task::QuestionAnswering);
    }
    let Some(spec) = &args.model else { return Ok(Task::Classify) };
    let dir = albert::hub::resolve_model(spec)?;
    let config = AlbertConfig::from_file(dir.join("config.json"))?;
    match config.architecture() {
        Some(Architecture::SequenceClassification) | None => Ok(Task::Classify),
        Some(Architecture::TokenClassification) => Ok(Task::Ner),
        Some(Architecture::QuestionAnswering) => bail!("{spec} answers questions: give the question with --question (TEXT is the context)"),
        Some(other) => bail!(
            "{spec} is an {}; explain needs a sequence classifier, a token classifier or a question-answering model",
            other.hf_name()
        ),
    }
}

/// Runs `albert explain`.
pub fn run(args: ExplainArgs) -> Result<()> {
    if args.steps == 0 || args.internal_batch_size == 0 {
        bail!("--steps and --internal-batch-size must be at least 1");
    }
    if args.faithfulness {
        return crate::faithfulness::run(&args);
    }
    let method = args.method.unwrap_or(Method::IntegratedGradients);
    let task = task_of(&args)?;
    if task != Task::Classify && args.pair.is_some() {
        bail!("--pair is for sentence-pair classifiers");
    }
    if task == Task::QuestionAnswering && args.target.is_some() {
        bail!("--target does not apply to question answering: the answer's start and end are explained");
    }
    if args.png_layer.is_some() && args.png.is_none() {
        bail!("--png-layer needs --png");
    }
    let texts = match args.texts.is_empty() {
        false => args.texts.clone(),
        true => std::io::stdin().lock().lines().collect::<std::io::Result<Vec<_>>>().context("reading stdin")?,
    };
    if texts.is_empty() {
        bail!("no text to explain (give TEXT arguments or lines on stdin)");
    }
    if args.png.is_some() && texts.len() != 1 {
        bail!("--png draws one input's attention maps; {} inputs were given", texts.len());
    }
    for path in args.html.iter().chain(&args.png) {
        args.overwrite.claim_file(path)?;
    }
    let spec = match &args.model {
        Some(m) => m.clone(),
        None => albert::builtin::path(task.default_model())?.to_string_lossy().into_owned(),
    };
    let model = PipelineModel::load(&spec, task).with_context(|| format!("loading {} to explain", albert::hub::echo(&spec)))?;
    let opts = ExplainOptions { steps: args.steps, internal_batch_size: args.internal_batch_size, max_length: args.max_length };
    let bar = progress_bar(!args.json, (method.work(&opts) * texts.len()) as u64, "explaining", "passes");
    let mut rows = Vec::new();
    let mut out = std::io::stdout().lock();
    for (n, text) in texts.iter().enumerate() {
        let request = match task {
            Task::QuestionAnswering => Request::Answer { question: args.question.as_deref().unwrap_or_default(), context: text },
            Task::Ner => Request::Entities { text, label: args.target.as_deref() },
            _ => Request::Classify { text, pair: args.pair.as_deref(), label: args.target.as_deref() },
        };
        let explained = explain::explain(&model, &request, method, &opts, &mut |k| bar.inc(k as u64))
            .with_context(|| format!("input {}", n + 1))?;
        if explained.truncated {
            bar.suspend(|| eprintln!("warning: input {} was truncated (raise --max-length)", n + 1));
        }
        // The texts the offsets index: the first sequence, then the second (pair, or the context after a question).
        let sources: Vec<&str> = match &request {
            Request::Answer { question, context } => vec![question, context],
            _ => std::iter::once(text.as_str()).chain(args.pair.as_deref()).collect(),
        };
        let view = View::of(&explained, &sources, args.words);
        bar.suspend(|| -> Result<()> {
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&view.json(text, &args, &explained))?)?;
            } else {
                view.print(&mut out, text, &explained)?;
            }
            Ok(())
        })?;
        if let Some(png) = &args.png {
            let encoding = model.tokenizer.encode(text, args.pair.as_deref(), &Default::default())?;
            let trainable = model.trainable()?;
            let maps = match &request {
                // The window explained: re-encode it from the tokens shown.
                Request::Answer { .. } => explain::attention(&trainable.model, &encoding_of(&model, &explained)?)?,
                _ => explain::attention(&trainable.model, &encoding)?,
            };
            write_file(png, &attention_png(&maps, &explained.tokens, args.png_layer)?)?;
        }
        rows.push((text.clone(), view, explained));
    }
    bar.finish_and_clear();
    if let Some(html) = &args.html {
        write_file(html, page(&rows, method).as_bytes())?;
        if !args.json {
            eprintln!("wrote {}", html.display());
        }
    }
    if let (Some(png), false) = (&args.png, args.json) {
        eprintln!("wrote {}", png.display());
    }
    Ok(())
}

/// The encoding of the tokens an explanation ran on (the QA window).
fn encoding_of(model: &PipelineModel, e: &Explanation) -> Result<albert::tokenizer::Encoding> {
    let ids = e.tokens.iter().map(|t| model.tokenizer.token_to_id(t).with_context(|| format!("token {t:?} is not in the vocabulary"))).collect::<Result<Vec<_>>>()?;
    let n = ids.len();
    Ok(albert::tokenizer::Encoding {
        ids,
        type_ids: e.segments.clone(),
        tokens: e.tokens.clone(),
        offsets: e.offsets.clone(),
        special_tokens_mask: e.special.iter().map(|&s| s as u32).collect(),
        attention_mask: vec![1; n],
        ..Default::default()
    })
}

/// A bar on a terminal's stderr: `{doing} [bar] pos/len {unit} [elapsed<eta]`.
pub(crate) fn progress_bar(show: bool, total: u64, doing: &str, unit: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{doing} {{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}<{{eta_precise}}]");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// The units shown: tokens, or words with `--words`; one score row per target.
struct View {
    units: Vec<String>,
    offsets: Vec<(usize, usize)>,
    scores: Vec<Vec<f32>>,
}

impl View {
    fn of(e: &Explanation, sources: &[&str], words: bool) -> Self {
        if words {
            let w = e.words(sources);
            return Self { units: w.words, offsets: w.offsets, scores: w.scores };
        }
        Self { units: e.tokens.clone(), offsets: e.offsets.clone(), scores: e.targets.iter().map(|t| t.attribution.scores.clone()).collect() }
    }

    fn json(&self, text: &str, args: &ExplainArgs, e: &Explanation) -> serde_json::Value {
        let unit = if args.words { "words" } else { "tokens" };
        let targets: Vec<serde_json::Value> = e
            .targets
            .iter()
            .zip(&self.scores)
            .map(|(t, scores)| {
                json!({"label": t.label, "probability": t.probability, "target": t.attribution.target, "scores": scores,
                       "output": t.attribution.output, "delta": t.attribution.delta})
            })
            .collect();
        json!({"text": text, "pair": args.pair, "question": args.question, "method": e.method, unit: self.units,
               "offsets": self.offsets, "prediction": e.prediction, "truncated": e.truncated, "targets": targets})
    }

    fn print(&self, out: &mut impl Write, text: &str, e: &Explanation) -> Result<()> {
        writeln!(out, "{text}")?;
        if let Some(p) = &e.prediction {
            writeln!(out, "  prediction: {} ({:.3})", p.label, p.probability)?;
        }
        let width = self.units.iter().map(|u| u.chars().count()).max().unwrap_or(0).min(24);
        for (t, scores) in e.targets.iter().zip(&self.scores) {
            let delta = t.attribution.delta.map(|d| format!(", delta {d:.2e}")).unwrap_or_default();
            writeln!(out, "  {} for {} (p {:.3}, output {:.4}{delta})", e.method.name(), t.label, t.probability, t.attribution.output)?;
            for (unit, s) in self.units.iter().zip(scores) {
                writeln!(out, "    {unit:<width$} {s:+.4}")?;
            }
        }
        Ok(())
    }
}

/// Captum's `_get_color`: green for positive, red for negative, lighter towards 0; `attr` clipped to [-1, 1].
fn captum_color(attr: f32) -> String {
    let attr = attr.clamp(-1.0, 1.0);
    // Python's int() truncates towards zero, as `as` does.
    let (hue, lig) = if attr > 0.0 { (120, 100 - (50.0 * attr) as i32) } else { (0, 100 - (-40.0 * attr) as i32) };
    format!("hsl({hue}, 75%, {lig}%)")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Captum's `format_special_tokens`: `<pad>` shows as `#pad`.
fn special_token(token: &str) -> String {
    match token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        Some(inner) => format!("#{inner}"),
        None => token.to_string(),
    }
}

/// A self-contained page laid out as Captum's `visualize_text`: the legend, then a table with one row per input
/// and target (the true label is not known here: shown as a dash).
fn page(rows: &[(String, View, Explanation)], method: Method) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>albert explain</title>\n<style>body{font-family:sans-serif;margin:1.5em} \
         th{text-align:left;padding-right:1em} td{padding:4px 2em 4px 0;vertical-align:top} mark{padding:1px 0}</style></head><body>\n",
    );
    let _ = writeln!(html, "<h3>albert explain: {}</h3>", escape(method.name()));
    html.push_str("<div style=\"border-top: 1px solid; margin-top: 5px; padding-top: 5px; display: inline-block\"><b>Legend: </b>");
    for (value, label) in [(-1.0, "Negative"), (0.0, "Neutral"), (1.0, "Positive")] {
        let _ = write!(
            html,
            "<span style=\"display: inline-block; width: 10px; height: 10px; border: 1px solid; background-color: {}\"></span> {label}  ",
            captum_color(value)
        );
    }
    html.push_str("</div>\n<table width: 100%><tr><th>True Label</th><th>Predicted Label</th><th>Attribution Label</th><th>Attribution Score</th><th>Word Importance</th></tr>\n");
    let cell = |s: &str| format!("<td><text style=\"padding-right:2em\"><b>{}</b></text></td>", escape(s));
    for (_, view, e) in rows {
        let predicted = match &e.prediction {
            Some(p) => format!("{} ({:.2})", p.label, p.probability),
            None => "entities".to_string(),
        };
        for (t, scores) in e.targets.iter().zip(&view.scores) {
            // As Captum's tutorials: each row divided by its L2 norm before coloring.
            let norm = scores.iter().map(|s| s * s).sum::<f32>().sqrt();
            let total: f32 = scores.iter().sum();
            html.push_str("<tr>");
            html.push_str(&cell("—"));
            html.push_str(&cell(&predicted));
            html.push_str(&cell(&format!("{} ({:.2})", t.label, t.probability)));
            html.push_str(&cell(&format!("{total:.2}")));
            html.push_str("<td>");
            for (unit, s) in view.units.iter().zip(scores) {
                let shown = if norm > 0.0 { s / norm } else { 0.0 };
                let _ = write!(
                    html,
                    "<mark style=\"background-color: {}; opacity:1.0; line-height:1.75\" title=\"{s:+.4}\"><font color=\"black\"> {} </font></mark>",
                    captum_color(shown),
                    escape(&special_token(unit))
                );
            }
            html.push_str("</td></tr>\n");
        }
    }
    html.push_str("</table>\n</body></html>\n");
    html
}

/// The family name the embedded DejaVu Sans is registered under.
const FONT: &str = "sans-serif";

fn embedded_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if !ok {
        bail!("the embedded DejaVu Sans font was not accepted");
    }
    Ok(())
}

/// Side of one attention cell in pixels, and room for the token labels and titles.
const CELL: u32 = 14;
const LABELS: u32 = 90;
const TITLE: u32 = 22;
const GAP: u32 = 12;

/// The attention maps as a PNG: a grid of layers (rows) x heads (columns), or one layer's heads; each map's rows are
/// the querying tokens, its columns the attended ones, darker for more attention (white 0, dark blue 1).
fn attention_png(maps: &AttentionMaps, tokens: &[String], layer: Option<usize>) -> Result<Vec<u8>> {
    let chosen: Vec<(usize, &Vec<Vec<Vec<f32>>>)> = match layer {
        Some(l) => vec![(l, maps.get(l).with_context(|| format!("--png-layer {l}: the model runs {} layers (0-based)", maps.len()))?)],
        None => maps.iter().enumerate().collect(),
    };
    let heads = chosen[0].1.len() as u32;
    let seq = tokens.len() as u32;
    let side = seq * CELL;
    let (panel_w, panel_h) = (LABELS + side + GAP, TITLE + side + LABELS);
    let (width, height) = (panel_w * heads, panel_h * chosen.len() as u32);
    if (width as u64) * (height as u64) > 60_000_000 {
        bail!("{seq} tokens x {heads} heads x {} layers make too large an image; choose one with --png-layer", chosen.len());
    }
    embedded_font()?;
    let mut rgb = vec![255u8; 3 * (width * height) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let small = (FONT, 11).into_font().color(&BLACK);
        let title = (FONT, 13).into_font().color(&BLACK);
        for (row, (l, layer_maps)) in chosen.iter().enumerate() {
            for (h, map) in layer_maps.iter().enumerate() {
                let (x0, y0) = ((h as u32 * panel_w + LABELS) as i32, (row as u32 * panel_h + TITLE) as i32);
                root.draw(&Text::new(format!("layer {l} head {h}"), (x0, y0 - 17), title.clone()))?;
                for (i, query) in map.iter().enumerate() {
                    for (j, &p) in query.iter().enumerate() {
                        let shade = |full: f32| (255.0 - (255.0 - full) * p.clamp(0.0, 1.0)) as u8;
                        let color = RGBColor(shade(8.0), shade(48.0), shade(107.0));
                        let (x, y) = (x0 + (j as u32 * CELL) as i32, y0 + (i as u32 * CELL) as i32);
                        root.draw(&Rectangle::new([(x, y), (x + CELL as i32, y + CELL as i32)], color.filled()))?;
                    }
                }
                for (k, token) in tokens.iter().enumerate() {
                    let short: String = token.chars().take(12).collect();
                    let at = (k as u32 * CELL + CELL / 2) as i32;
                    let left = small.clone().pos(Pos::new(HPos::Right, VPos::Center));
                    root.draw(&Text::new(short.clone(), (x0 - 4, y0 + at), left))?;
                    let below = small.clone().pos(Pos::new(HPos::Right, VPos::Center)).transform(FontTransform::Rotate270);
                    root.draw(&Text::new(short, (x0 + at, y0 + side as i32 + 4), below))?;
                }
            }
        }
        root.present()?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captum's `_get_color` by hand: hsl(120, 75%, 100 - int(50 a)) above 0, hsl(0, 75%, 100 - int(40 |a|)) else.
    #[test]
    fn colors_are_captums() {
        assert_eq!(captum_color(1.0), "hsl(120, 75%, 50%)");
        assert_eq!(captum_color(0.33), "hsl(120, 75%, 84%)");
        assert_eq!(captum_color(0.0), "hsl(0, 75%, 100%)");
        assert_eq!(captum_color(-0.5), "hsl(0, 75%, 80%)");
        assert_eq!(captum_color(-3.0), "hsl(0, 75%, 60%)");
        assert_eq!(special_token("<pad>"), "#pad");
        assert_eq!(special_token("[CLS]"), "[CLS]");
    }
}
