//! One optimizer step: each micro-batch's forward pass with dropout keyed by sample, its backward pass, the summed
//! gradients, the gradient hook, global-norm clipping and the optimizer's update at the schedule's rate.

use std::time::Instant;

use albert::{AlbertForAny, ForwardOptions, Pretrained};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::EngineError;
use crate::optim::{clip_grad_norm, name_matches, GradAccumulator, LinearWarmupSchedule, NamedParams, Optimizer};

/// How the loss of a step is averaged over its micro-batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossNormalization {
    /// Each micro-batch's mean loss, weighted 1/k over the step's k micro-batches: gradient accumulation as
    /// PyTorch's loops do it (and as the reference runs our tests compare with were made).
    #[default]
    MicroBatchMean,
    /// Each loss term summed over the step and divided by its count over the whole step (predicted tokens for the
    /// masked LM, sequences for a sequence head), the counts summed over processes by the [`GradHook`] first: the
    /// loss of one big batch, however it is split into micro-batches or processes.
    Count,
}

/// One term of a micro-batch's loss: its mean, with the graph for backward, and the count it is the mean over.
#[derive(Debug, Clone)]
pub struct LossTerm {
    /// Scalar mean over `count` items.
    pub mean: Tensor,
    /// Items averaged (predicted tokens, sequences, ...).
    pub count: usize,
}

/// A micro-batch's loss terms and the statistics its workload logs.
#[derive(Debug, Clone)]
pub struct MicroLoss<S> {
    /// The terms, in the order of [`Objective::counts`].
    pub terms: Vec<LossTerm>,
    /// Whatever the workload reports about the micro-batch (values, accuracies, tokens).
    pub stats: S,
}

/// What a step trains on: the loss of a micro-batch, with what the engine needs to know before running it.
pub trait Objective {
    /// One micro-batch.
    type Micro;
    /// What the workload keeps of a micro-batch's loss for its log.
    type Stats;
    /// The workload's error; the engine's errors convert into it.
    type Error: From<EngineError>;

    /// One key per row of the micro-batch, which keys that sample's dropout masks (see
    /// [`albert::AlbertRng::set_sample_keys`]): a function of the seed, the epoch and the sample's place in the data,
    /// never of the batch or process it lands in.
    fn sample_keys(&self, micro: &Self::Micro) -> Vec<u64>;

    /// For each loss term, the items it averages over, known before the forward pass (with
    /// [`LossNormalization::Count`] the engine sums them over the step and the processes before any backward pass).
    fn counts(&self, micro: &Self::Micro) -> Vec<usize>;

    /// The micro-batch's loss terms, run with `forward` (training mode).
    fn loss(&self, model: &AlbertForAny, micro: &Self::Micro, forward: &ForwardOptions) -> Result<MicroLoss<Self::Stats>, Self::Error>;
}

/// Between backward and the optimizer step: where a data-parallel run sums over its processes.
pub trait GradHook {
    /// Each loss term's count over this process's micro-batches of the step, before any backward pass; a
    /// data-parallel hook replaces them with the sums over processes. Called with [`LossNormalization::Count`] only.
    fn reduce_counts(&mut self, counts: &mut [usize]) -> Result<(), EngineError>;

    /// The step's gradients of the trained parameters, summed over this process's micro-batches, before clipping; a
    /// data-parallel hook replaces them with the sums over processes.
    fn reduce_grads(&mut self, params: &NamedParams, grads: &mut GradStore) -> Result<(), EngineError>;
}

/// Settings of the optimizer step.
#[derive(Debug, Clone)]
pub struct StepConfig {
    /// Clip the gradients to this global L2 norm.
    pub max_grad_norm: f64,
    /// The learning rate by step.
    pub schedule: LinearWarmupSchedule,
    /// How micro-batch losses are averaged.
    pub normalization: LossNormalization,
    /// Parameters whose name contains one of these are frozen: no update and no optimizer state (adapters train
    /// alone this way).
    pub frozen: Vec<String>,
}

/// A finished optimizer step.
#[derive(Debug, Clone)]
pub struct StepOutcome<S> {
    /// Steps completed (1-based).
    pub step: u64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// The micro-batches' statistics, in order.
    pub micro: Vec<S>,
    /// Wall-clock seconds of the step.
    pub seconds: f64,
}

/// Runs optimizer steps over a model's trained parameters.
pub struct Stepper {
    /// Trained parameters, sorted by name so the global norm sums in the same order every run.
    params: Vec<(String, Var)>,
    optimizer: Box<dyn Optimizer>,
    cfg: StepConfig,
    accumulator: GradAccumulator,
    device: Device,
}

impl Stepper {
    /// Steps `model`'s parameters (those not frozen) with `optimizer`.
    pub fn new(model: &Pretrained, optimizer: Box<dyn Optimizer>, cfg: StepConfig) -> Result<Self, EngineError> {
        if model.is_prepared() {
            return Err(EngineError::Invalid(
                "the model was prepared for inference in place (Pretrained::into_prepared) and has no trainable \
                 parameters left; load it again to train it"
                    .into(),
            ));
        }
        let mut params: Vec<(String, Var)> = model
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(name, _)| !name_matches(name, &cfg.frozen))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let device = params
            .first()
            .map(|(_, v)| v.device().clone())
            .ok_or_else(|| EngineError::Invalid("the model has no parameters to train".into()))?;
        Ok(Self { params, optimizer, cfg, accumulator: GradAccumulator::new(), device })
    }

    /// The trained parameters, by name.
    pub fn params(&self) -> &NamedParams {
        &self.params
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The optimizer (its state is saved with checkpoints).
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// The optimizer, to restore its state.
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }

    /// Optimizer step `step` (0-based) over `micro`: each micro-batch's loss terms weighted (1/k, or count / the
    /// step's count), their gradients summed, passed through `hook`, clipped, and one update at the schedule's rate.
    pub fn step<'h, O: Objective>(
        &mut self,
        step: u64,
        model: &Pretrained,
        objective: &O,
        micro: &[O::Micro],
        mut hook: Option<&mut (dyn GradHook + 'h)>,
    ) -> Result<StepOutcome<O::Stats>, O::Error> {
        let started = Instant::now();
        let counts: Vec<Vec<usize>> = micro.iter().map(|m| objective.counts(m)).collect();
        let totals = match self.cfg.normalization {
            LossNormalization::MicroBatchMean => None,
            LossNormalization::Count => {
                let mut totals = vec![0usize; counts.first().map_or(0, Vec::len)];
                for c in &counts {
                    if c.len() != totals.len() {
                        return Err(EngineError::Invalid("micro-batches of one step have different loss terms".into()).into());
                    }
                    totals.iter_mut().zip(c).for_each(|(t, n)| *t += n);
                }
                if let Some(h) = hook.as_deref_mut() {
                    h.reduce_counts(&mut totals)?;
                }
                Some(totals)
            }
        };
        let forward = ForwardOptions { train: true, ..ForwardOptions::default() };
        let mut stats = Vec::with_capacity(micro.len());
        for (m, counts) in micro.iter().zip(&counts) {
            let loss = {
                let _keys = SampleKeys::set(model, objective.sample_keys(m));
                objective.loss(&model.model, m, &forward)?
            };
            let scaled = match &totals {
                // One weight for every term: scale their sum (the graph the references were checked with).
                None => (sum(&loss.terms)? / micro.len() as f64).map_err(EngineError::from)?,
                Some(totals) => weighted(&loss.terms, counts, totals)?,
            };
            for term in &loss.terms {
                let value = term.mean.to_dtype(DType::F64).and_then(|t| t.to_scalar::<f64>()).map_err(EngineError::from)?;
                if !value.is_finite() {
                    return Err(EngineError::NonFinite { step: step + 1, loss: value }.into());
                }
            }
            let grads = scaled.backward().map_err(EngineError::from)?;
            self.accumulator.add(&self.params, &grads).map_err(EngineError::from)?;
            stats.push(loss.stats);
        }
        let mut grads = self.accumulator.take();
        if let Some(h) = hook {
            h.reduce_grads(&self.params, &mut grads)?;
        }
        let grad_norm = clip_grad_norm(&self.params, &mut grads, self.cfg.max_grad_norm).map_err(EngineError::from)?;
        let lr = self.cfg.schedule.lr(step);
        self.optimizer.step(&self.params, &grads, lr).map_err(EngineError::from)?;
        Ok(StepOutcome { step: step + 1, lr, grad_norm, micro: stats, seconds: started.elapsed().as_secs_f64() })
    }
}

fn sum(terms: &[LossTerm]) -> Result<Tensor, EngineError> {
    let mut terms = terms.iter();
    let first = terms.next().ok_or_else(|| EngineError::Invalid("a micro-batch loss without terms".into()))?;
    Ok(terms.try_fold(first.mean.clone(), |acc, t| acc + &t.mean)?)
}

/// Σ mean × count / total: each term's share of the step's mean over all its items.
fn weighted(terms: &[LossTerm], counts: &[usize], totals: &[usize]) -> Result<Tensor, EngineError> {
    if terms.len() != totals.len() || counts.len() != totals.len() {
        return Err(EngineError::Invalid("a micro-batch's loss terms do not match its counts".into()));
    }
    let parts = terms
        .iter()
        .zip(counts.iter().zip(totals))
        .map(|(t, (&n, &total))| Ok(t.mean.affine(n as f64 / total.max(1) as f64, 0.0)?))
        .collect::<Result<Vec<_>, EngineError>>()?;
    Ok(parts.iter().skip(1).try_fold(parts[0].clone(), |acc, p| acc + p)?)
}

/// Dropout keyed by sample for the duration of one forward pass (cleared on drop, also when the pass fails).
struct SampleKeys<'m>(&'m Pretrained);

impl<'m> SampleKeys<'m> {
    fn set(model: &'m Pretrained, keys: Vec<u64>) -> Self {
        model.rng.lock().unwrap_or_else(|e| e.into_inner()).set_sample_keys(Some(keys));
        Self(model)
    }
}

impl Drop for SampleKeys<'_> {
    fn drop(&mut self) {
        self.0.rng.lock().unwrap_or_else(|e| e.into_inner()).set_sample_keys(None);
    }
}
