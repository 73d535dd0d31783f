//! Pretraining on the engine: the masked-LM + sentence-order objective over prepared batches, the step record, and
//! held-out evaluation between steps.

use albert::{AlbertForAny, ForwardOptions, Pretrained};
use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::losses::{batch_losses, LossStats};
use super::{EvalRecord, OptimizerKind, Record, StepRecord, TrainConfig, TrainError, TrainSettings};
use crate::data::{Batch, EpochPlan, PretrainData};
use crate::engine::{
    AfterStep, LossNormalization, LossTerm, MicroLoss, Objective, StepConfig, StepOutcome, Stepper, Workload,
};
use crate::optim::{AdamW, AdamWConfig, Lamb, LambConfig, LinearWarmupSchedule, Optimizer};

/// The pretraining objective: masked LM plus sentence order, on an `AlbertForPreTraining`.
pub(super) struct MlmSop {
    device: Device,
}

impl Objective for MlmSop {
    type Micro = Batch;
    type Stats = LossStats;
    type Error = TrainError;

    fn sample_keys(&self, batch: &Batch) -> Vec<u64> {
        batch.dropout_keys.clone()
    }

    /// Predicted positions for the masked LM, sequences for sentence order.
    fn counts(&self, batch: &Batch) -> Vec<usize> {
        let predicted = batch.masked_weights.iter().filter(|&&w| w > 0.0).count();
        vec![predicted, batch.batch_size]
    }

    fn loss(&self, model: &AlbertForAny, batch: &Batch, forward: &ForwardOptions) -> Result<MicroLoss<LossStats>, TrainError> {
        let AlbertForAny::PreTraining(model) = model else {
            return Err(TrainError::InvalidConfig("the model must be an AlbertForPreTraining".into()));
        };
        let l = batch_losses(model, &batch.to_tensors(&self.device)?, forward.train)?;
        Ok(MicroLoss {
            terms: vec![
                LossTerm { mean: l.mlm, count: l.stats.mlm_count },
                LossTerm { mean: l.sop, count: l.stats.sop_count },
            ],
            stats: l.stats,
        })
    }
}

/// A pretraining model with its optimizer step: steps over given batches, and held-out evaluation.
pub struct StepRunner {
    /// The model and its parameters.
    pub pretrained: Pretrained,
    pub(super) stepper: Stepper,
    objective: MlmSop,
}

impl StepRunner {
    /// Wraps a pretraining model with the optimizer and schedule of `settings`.
    pub fn new(pretrained: Pretrained, settings: &TrainSettings) -> Result<Self, TrainError> {
        if !matches!(pretrained.model, AlbertForAny::PreTraining(_)) {
            return Err(TrainError::InvalidConfig("the model must be an AlbertForPreTraining".into()));
        }
        let optimizer: Box<dyn Optimizer> = match settings.optimizer {
            OptimizerKind::Lamb => {
                Box::new(Lamb::new(LambConfig { weight_decay: settings.weight_decay, ..LambConfig::default() })?)
            }
            OptimizerKind::AdamW => {
                Box::new(AdamW::new(AdamWConfig { weight_decay: settings.weight_decay, ..AdamWConfig::default() })?)
            }
        };
        let step = StepConfig {
            max_grad_norm: settings.max_grad_norm,
            schedule: LinearWarmupSchedule {
                peak_lr: settings.lr,
                warmup_steps: settings.warmup_steps,
                total_steps: settings.steps,
            },
            normalization: LossNormalization::MicroBatchMean,
            frozen: Vec::new(),
        };
        let stepper = Stepper::new(&pretrained, optimizer, step)?;
        let objective = MlmSop { device: stepper.device().clone() };
        Ok(Self { pretrained, stepper, objective })
    }

    /// Optimizer step `step` (0-based) over `micro_batches`: each loss scaled by 1/k, gradients summed, clipped to the
    /// global norm, one update at the schedule's rate.
    pub fn step(&mut self, step: u64, micro_batches: &[Batch]) -> Result<StepRecord, TrainError> {
        let outcome = self.stepper.step(step, &self.pretrained, &self.objective, micro_batches, None)?;
        Ok(step_record(outcome))
    }

    /// Scores up to `max_batches` batches of `data`'s epoch 0 without dropout.
    pub fn evaluate(&self, data: &PretrainData, batch_size: usize, max_batches: usize, step: u64) -> Result<EvalRecord, TrainError> {
        evaluate(&self.pretrained, &self.objective.device, data, batch_size, max_batches, step)
    }
}

/// The step's record: losses averaged over its micro-batches, accuracies over its predictions.
fn step_record(outcome: StepOutcome<LossStats>) -> StepRecord {
    let k = outcome.micro.len() as f64;
    let (mut loss, mut mlm, mut sop) = (0.0, 0.0, 0.0);
    let (mut mlm_n, mut mlm_ok, mut sop_n, mut sop_ok, mut tokens) = (0, 0, 0, 0, 0);
    for l in &outcome.micro {
        loss += (l.mlm_loss + l.sop_loss) / k;
        mlm += l.mlm_loss / k;
        sop += l.sop_loss / k;
        mlm_n += l.mlm_count;
        mlm_ok += l.mlm_correct;
        sop_n += l.sop_count;
        sop_ok += l.sop_correct;
        tokens += l.tokens;
    }
    StepRecord {
        step: outcome.step,
        epoch: 0,
        loss,
        mlm_loss: mlm,
        sop_loss: sop,
        mlm_accuracy: mlm_ok as f64 / mlm_n.max(1) as f64,
        sop_accuracy: sop_ok as f64 / sop_n.max(1) as f64,
        lr: outcome.lr,
        grad_norm: outcome.grad_norm,
        tokens,
        tokens_per_second: tokens as f64 / outcome.seconds.max(1e-9),
    }
}

fn evaluate(
    model: &Pretrained,
    device: &Device,
    data: &PretrainData,
    batch_size: usize,
    max_batches: usize,
    step: u64,
) -> Result<EvalRecord, TrainError> {
    let AlbertForAny::PreTraining(head) = &model.model else {
        return Err(TrainError::InvalidConfig("the model must be an AlbertForPreTraining".into()));
    };
    let plan = data.epoch(0);
    let n = plan.num_batches(batch_size).min(max_batches.max(1));
    let (mut mlm_sum, mut sop_sum) = (0.0, 0.0);
    let (mut mlm_n, mut mlm_ok, mut sop_n, mut sop_ok) = (0, 0, 0, 0);
    for i in 0..n {
        let tensors = data.batch(&plan, i, batch_size)?.to_tensors(device)?;
        let l = batch_losses(head, &tensors, false)?.stats;
        mlm_sum += l.mlm_loss * l.mlm_count as f64;
        sop_sum += l.sop_loss * l.sop_count as f64;
        mlm_n += l.mlm_count;
        mlm_ok += l.mlm_correct;
        sop_n += l.sop_count;
        sop_ok += l.sop_correct;
    }
    let per = |sum: f64, n: usize| sum / n.max(1) as f64;
    let scored = &plan.pairs()[..(n * batch_size).min(plan.pairs().len())];
    let swapped = scored.iter().filter(|p| p.sentence_order_label == 1).count();
    Ok(EvalRecord {
        step,
        mlm_loss: per(mlm_sum, mlm_n),
        mlm_accuracy: per(mlm_ok as f64, mlm_n),
        sop_loss: per(sop_sum, sop_n),
        sop_accuracy: per(sop_ok as f64, sop_n),
        sop_majority: per(swapped.max(scored.len() - swapped) as f64, scored.len()),
        sequences: sop_n,
    })
}

/// Walks the training split micro-batch by micro-batch, epoch after epoch, as the trainer does.
pub struct BatchCursor {
    plan: EpochPlan,
    next_batch: usize,
}

/// Where a [`BatchCursor`] stands, saved with a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct CursorState {
    /// Epoch of the next micro-batch.
    epoch: u64,
    /// Index of the next micro-batch within its epoch.
    next_batch: usize,
}

impl BatchCursor {
    /// A cursor at batch `next_batch` of epoch `epoch`.
    pub fn new(data: &PretrainData, epoch: u64, next_batch: usize) -> Self {
        BatchCursor { plan: data.epoch(epoch), next_batch }
    }

    /// The epoch of the last batch returned.
    pub fn epoch(&self) -> u64 {
        self.plan.epoch
    }

    /// The next batch of `batch_size` sequences (the first of the next epoch after the last).
    pub fn next(&mut self, data: &PretrainData, batch_size: usize) -> Result<Batch, TrainError> {
        if self.next_batch >= self.plan.num_batches(batch_size) {
            self.plan = data.epoch(self.plan.epoch + 1);
            self.next_batch = 0;
        }
        let batch = data.batch(&self.plan, self.next_batch, batch_size)?;
        self.next_batch += 1;
        Ok(batch)
    }
}

/// A pretraining run as the engine's workload.
pub(super) struct Pretraining<'a> {
    objective: MlmSop,
    data: &'a PretrainData,
    heldout: Option<&'a PretrainData>,
    settings: TrainSettings,
    eval_every: u64,
    eval_batches: usize,
    cursor: BatchCursor,
    records: Vec<StepRecord>,
}

impl<'a> Pretraining<'a> {
    pub(super) fn new(runner: &StepRunner, data: &'a PretrainData, heldout: Option<&'a PretrainData>, cfg: &TrainConfig) -> Self {
        Self {
            objective: MlmSop { device: runner.objective.device.clone() },
            data,
            heldout,
            settings: cfg.settings.clone(),
            eval_every: cfg.eval_every,
            eval_batches: cfg.eval_batches,
            cursor: BatchCursor::new(data, 0, 0),
            records: Vec::new(),
        }
    }

    /// The steps this run took.
    pub(super) fn into_records(self) -> Vec<StepRecord> {
        self.records
    }
}

impl Objective for Pretraining<'_> {
    type Micro = Batch;
    type Stats = LossStats;
    type Error = TrainError;

    fn sample_keys(&self, batch: &Batch) -> Vec<u64> {
        self.objective.sample_keys(batch)
    }

    fn counts(&self, batch: &Batch) -> Vec<usize> {
        self.objective.counts(batch)
    }

    fn loss(&self, model: &AlbertForAny, batch: &Batch, forward: &ForwardOptions) -> Result<MicroLoss<LossStats>, TrainError> {
        self.objective.loss(model, batch, forward)
    }
}

impl Workload for Pretraining<'_> {
    type Record = Record;

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    fn total_steps(&self) -> u64 {
        self.settings.steps
    }

    fn next_step(&mut self) -> Result<Vec<Batch>, TrainError> {
        (0..self.settings.accumulate).map(|_| self.cursor.next(self.data, self.settings.batch_size)).collect()
    }

    fn record(&mut self, outcome: StepOutcome<LossStats>) -> Result<(Record, String), TrainError> {
        let record = StepRecord { epoch: self.cursor.epoch(), ..step_record(outcome) };
        let message = format!(
            "loss {:.4}, MLM acc {:.3}, SOP acc {:.3}, lr {:.2e}, {:.0} tok/s",
            record.loss, record.mlm_accuracy, record.sop_accuracy, record.lr, record.tokens_per_second
        );
        self.records.push(record.clone());
        Ok((Record::Train(record), message))
    }

    fn after_step(&mut self, model: &Pretrained, step: u64, ctx: &mut AfterStep) -> Result<(), TrainError> {
        let due = (self.eval_every > 0 && step % self.eval_every == 0) || step == self.settings.steps;
        if let (Some(heldout), true) = (self.heldout, due) {
            let r = evaluate(model, &self.objective.device, heldout, self.settings.batch_size, self.eval_batches, step)?;
            ctx.note(format!(
                "step {}: held-out MLM loss {:.4}, MLM acc {:.4}, SOP loss {:.4}, SOP acc {:.4} (majority label {:.4}; {} sequences)",
                r.step, r.mlm_loss, r.mlm_accuracy, r.sop_loss, r.sop_accuracy, r.sop_majority, r.sequences
            ));
            ctx.log(&Record::Eval(r))?;
        }
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        let state = CursorState { epoch: self.cursor.plan.epoch, next_batch: self.cursor.next_batch };
        serde_json::to_value(state).expect("state serializes")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), TrainError> {
        let s: CursorState = serde_json::from_value(state)
            .map_err(|e| TrainError::InvalidConfig(format!("the checkpoint's place in the data: {e}")))?;
        self.cursor = BatchCursor::new(self.data, s.epoch, s.next_batch);
        Ok(())
    }
}
