//! The training engine: one loop for pretraining and every fine-tuning task.
//!
//! The engine owns what every run shares: the optimizer step ([`Stepper`]: accumulation, the gradient hook,
//! clipping, the schedule, frozen parameters), checkpoints and exact resume ([`EngineState`]), the metrics log
//! and the progress bar. A [`Workload`] supplies what differs: its micro-batches, their loss, its log lines, and the
//! work between steps (held-out evaluation, keeping the best checkpoint, early stopping).
//!
//! A run is a pure function of its data, settings and seed: the workload's batches come from its own keyed
//! generators, and dropout is keyed by sample ([`Objective::sample_keys`]), so a run resumed from a checkpoint
//! computes what the uninterrupted run computes, bit for bit.
//!
//! Seams for what comes next: [`GradHook`] sits between backward and the optimizer step (a data-parallel
//! all-reduce of counts and gradients); [`StepConfig::frozen`] leaves parameters untouched (adapters train alone);
//! [`LossNormalization::Count`] makes a step's loss the mean over all its items however they are split.

mod checkpoint;
mod error;
mod log;
mod step;

pub use checkpoint::{EngineState, CHECKPOINT_DIR, CHECKPOINT_ENTRIES, OPTIMIZER_FILE, STATE_FILE, STATE_VERSION};
pub use error::EngineError;
pub use log::MetricsLog;
pub use step::{GradHook, LossNormalization, LossTerm, MicroLoss, Objective, StepConfig, StepOutcome, Stepper};

use std::path::PathBuf;
use std::time::Duration;

use albert::Pretrained;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use checkpoint::CheckpointDirs;

/// A training job the engine runs: pretraining, or fine-tuning a task head.
pub trait Workload: Objective {
    /// A line of the metrics log for one step.
    type Record: Serialize;

    /// The settings a resumed run must share with its checkpoint (compared as JSON).
    fn settings(&self) -> serde_json::Value;

    /// Optimizer steps in the whole run.
    fn total_steps(&self) -> u64;

    /// The micro-batches of the next optimizer step.
    fn next_step(&mut self) -> Result<Vec<Self::Micro>, Self::Error>;

    /// The log line of a finished step, and the progress bar's message.
    fn record(&mut self, outcome: StepOutcome<Self::Stats>) -> Result<(Self::Record, String), Self::Error>;

    /// Work after a logged step: evaluation, keeping the best model, early stopping.
    fn after_step(&mut self, model: &Pretrained, step: u64, ctx: &mut AfterStep) -> Result<(), Self::Error>;

    /// The workload's place in the data and its running values, saved with a checkpoint.
    fn state(&self) -> serde_json::Value;

    /// Continues from a checkpoint's [`Workload::state`].
    fn restore(&mut self, state: serde_json::Value) -> Result<(), Self::Error>;
}

/// What a workload can do after a step.
pub struct AfterStep<'a> {
    log: &'a mut MetricsLog,
    bar: &'a ProgressBar,
    checkpoint: bool,
    stop: bool,
}

impl AfterStep<'_> {
    /// Appends a line to the metrics log.
    pub fn log(&mut self, record: &impl Serialize) -> Result<(), EngineError> {
        self.log.write(record)
    }

    /// Prints a line above the progress bar (nothing when it is hidden).
    pub fn note(&self, text: String) {
        self.bar.println(text);
    }

    /// Checkpoints after this step (an epoch ended).
    pub fn checkpoint(&mut self) {
        self.checkpoint = true;
    }

    /// Ends the run after this step (early stopping), with a checkpoint.
    pub fn stop(&mut self) {
        self.checkpoint = true;
        self.stop = true;
    }
}

/// Where a run keeps its checkpoints and log, and how it is shown.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The run's directory, holding `checkpoint/`; `None`: no checkpoints.
    pub dir: Option<PathBuf>,
    /// Checkpoint every this many steps (0: only when the workload asks and at the end).
    pub save_every: u64,
    /// Continue from the checkpoint in `dir` (starting afresh when there is none). Without it a `dir` holding a
    /// checkpoint is refused.
    pub resume: bool,
    /// Stop after this step with a checkpoint, as if interrupted (the run stays resumable).
    pub stop_after: Option<u64>,
    /// The metrics log (JSON lines).
    pub log: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// How [`run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    /// Steps completed in total.
    pub step: u64,
    /// Stopped by [`RunOptions::stop_after`] before the run's end (resumable).
    pub interrupted: bool,
}

/// Runs (or resumes) `workload` on `model` until its last step, an early stop or `opts.stop_after`.
pub fn run<'h, W: Workload>(
    model: &Pretrained,
    workload: &mut W,
    stepper: &mut Stepper,
    opts: &RunOptions,
    mut hook: Option<&mut (dyn GradHook + 'h)>,
) -> Result<RunEnd, W::Error> {
    let dirs = opts.dir.as_deref().map(CheckpointDirs::new);
    let has_checkpoint = match &dirs {
        Some(d) => d.recover()?,
        None => false,
    };
    let mut step = 0;
    let mut resume_at = None;
    if has_checkpoint {
        let (Some(dirs), true) = (&dirs, opts.resume) else {
            return Err(EngineError::Invalid(format!(
                "{} already holds a checkpoint; pass --resume to continue it or choose another output directory",
                opts.dir.as_deref().unwrap_or_else(|| "".as_ref()).display()
            ))
            .into());
        };
        let state = dirs.load(model, stepper.optimizer_mut())?;
        let settings = workload.settings();
        if state.settings != settings {
            return Err(EngineError::Invalid(format!(
                "the checkpoint was made with other settings ({}); resume with the same settings (got {settings})",
                state.settings
            ))
            .into());
        }
        workload.restore(state.workload)?;
        step = state.step;
        resume_at = Some(state.log_bytes);
    }
    let mut log = MetricsLog::open(opts.log.as_deref(), resume_at)?;
    let total = workload.total_steps();
    let bar = progress_bar(opts.progress, total);
    bar.set_position(step);
    if step > 0 {
        bar.println(format!("resuming after step {step} of {total}"));
    }
    let stop_after = opts.stop_after.unwrap_or(total).min(total);
    let mut stopped = false;
    while step < stop_after && !stopped {
        let micro = workload.next_step()?;
        let outcome = stepper.step(step, model, workload, &micro, hook.as_deref_mut())?;
        step = outcome.step;
        let (record, message) = workload.record(outcome)?;
        log.write(&record)?;
        bar.set_position(step);
        bar.set_message(message);
        let mut ctx = AfterStep { log: &mut log, bar: &bar, checkpoint: false, stop: false };
        workload.after_step(model, step, &mut ctx)?;
        stopped = ctx.stop;
        let due = (opts.save_every > 0 && step % opts.save_every == 0) || step == stop_after || ctx.checkpoint;
        if let (Some(dirs), true) = (&dirs, due) {
            let state = EngineState {
                version: STATE_VERSION,
                settings: workload.settings(),
                step,
                log_bytes: log.sync_len()?,
                workload: workload.state(),
            };
            dirs.save(model, stepper.optimizer(), &state)?;
        }
    }
    bar.finish_and_clear();
    Ok(RunEnd { step, interrupted: step < total && !stopped })
}

fn progress_bar(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_secs(1));
    bar
}
