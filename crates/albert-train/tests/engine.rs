//! The training engine's seams, which the coming features (data-parallel training, adapters) build on:
//! - two processes of 8 samples whose gradient hook sums counts and gradients take the step one process of 16 takes,
//!   dropout included (it is keyed by sample, not by batch or process), and so does one process accumulating 2 x 8;
//! - frozen parameters are neither updated nor given optimizer state;
//! - a checkpoint from before the engine is refused with an error naming its format.

use std::sync::{Arc, Barrier, Mutex};

use albert::{AlbertConfig, AlbertForAny, AlbertInput, Architecture, ForwardOptions, Pretrained};
use albert_train::data::dropout_key;
use albert_train::engine::{
    EngineError, GradHook, LossNormalization, LossTerm, MicroLoss, Objective, StepConfig, Stepper,
};
use albert_train::optim::{AdamW, AdamWConfig, LinearWarmupSchedule, NamedParams};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor};

const SEED: u64 = 5;

fn model() -> Pretrained {
    let mut cfg = AlbertConfig {
        vocab_size: 30,
        embedding_size: 8,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 16,
        hidden_dropout_prob: 0.2,
        attention_probs_dropout_prob: 0.2,
        ..AlbertConfig::default()
    };
    cfg.set_labels(&["a".to_string(), "b".to_string(), "c".to_string()]);
    Pretrained::init(&cfg, Architecture::SequenceClassification, SEED, DType::F32, &Device::Cpu).unwrap()
}

/// 16 sequences of made-up ids and lengths, 3 classes.
struct Toy {
    ids: Vec<Vec<u32>>,
    labels: Vec<u32>,
}

impl Toy {
    fn new() -> Self {
        let ids: Vec<Vec<u32>> = (0..16u32).map(|i| (0..3 + i % 5).map(|k| 2 + (i * 5 + k * 7) % 27).collect()).collect();
        Self { labels: (0..16).map(|i| i % 3).collect(), ids }
    }
}

impl Objective for Toy {
    /// The rows of one micro-batch.
    type Micro = Vec<usize>;
    type Stats = ();
    type Error = EngineError;

    fn sample_keys(&self, rows: &Vec<usize>) -> Vec<u64> {
        rows.iter().map(|&r| dropout_key(SEED, 0, r as u64)).collect()
    }

    fn counts(&self, rows: &Vec<usize>) -> Vec<usize> {
        vec![rows.len()]
    }

    fn loss(&self, model: &AlbertForAny, rows: &Vec<usize>, forward: &ForwardOptions) -> Result<MicroLoss<()>, EngineError> {
        let AlbertForAny::SequenceClassification(head) = model else { panic!("a sequence classifier") };
        let ids: Vec<Vec<u32>> = rows.iter().map(|&r| self.ids[r].clone()).collect();
        let input = AlbertInput::from_rows(&ids, None, 0, &Device::Cpu)?;
        let labels = Tensor::new(rows.iter().map(|&r| self.labels[r]).collect::<Vec<_>>(), &Device::Cpu)?;
        let mean = head.loss(&head.forward(&input, forward)?, &labels)?;
        Ok(MicroLoss { terms: vec![LossTerm { mean, count: rows.len() }], stats: () })
    }
}

fn stepper(model: &Pretrained, frozen: &[&str]) -> Stepper {
    let cfg = StepConfig {
        max_grad_norm: 1.0,
        schedule: LinearWarmupSchedule { peak_lr: 1e-2, warmup_steps: 0, total_steps: 10 },
        normalization: LossNormalization::Count,
        frozen: frozen.iter().map(|s| s.to_string()).collect(),
    };
    Stepper::new(model, Box::new(AdamW::new(AdamWConfig::default()).unwrap()), cfg).unwrap()
}

fn weights(m: &Pretrained) -> Vec<(String, Vec<f32>)> {
    albert::model::named_tensors(&m.varmap)
        .into_iter()
        .map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

fn max_difference(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|((na, va), (nb, vb))| {
            assert_eq!(na, nb);
            va.iter().zip(vb).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f32::max)
}

/// An in-process all-reduce between threads: each rank posts its values, waits for the others, and takes the
/// sum over ranks in rank order.
struct AllReduce {
    rank: usize,
    barrier: Arc<Barrier>,
    counts: Arc<Mutex<Vec<Vec<usize>>>>,
    grads: Arc<Mutex<Vec<Vec<Tensor>>>>,
}

impl GradHook for AllReduce {
    fn reduce_counts(&mut self, counts: &mut [usize]) -> Result<(), EngineError> {
        self.counts.lock().unwrap()[self.rank] = counts.to_vec();
        self.barrier.wait();
        let all = self.counts.lock().unwrap().clone();
        for (i, c) in counts.iter_mut().enumerate() {
            *c = all.iter().map(|r| r[i]).sum();
        }
        self.barrier.wait();
        Ok(())
    }

    fn reduce_grads(&mut self, params: &NamedParams, grads: &mut GradStore) -> Result<(), EngineError> {
        let mine: Vec<Tensor> = params.iter().map(|(_, v)| grads.get(v.as_tensor()).unwrap().clone()).collect();
        self.grads.lock().unwrap()[self.rank] = mine;
        self.barrier.wait();
        let all = self.grads.lock().unwrap().clone();
        for (i, (_, v)) in params.iter().enumerate() {
            let sum = all.iter().skip(1).try_fold(all[0][i].clone(), |acc, r| acc + &r[i])?;
            grads.insert(v.as_tensor(), sum);
        }
        self.barrier.wait();
        Ok(())
    }
}

const STEPS: u64 = 3;

#[test]
fn two_processes_of_eight_take_the_step_of_one_process_of_sixteen() {
    let toy = Toy::new();
    let all: Vec<usize> = (0..16).collect();
    let whole = {
        let m = model();
        let mut s = stepper(&m, &[]);
        for step in 0..STEPS {
            s.step(step, &m, &toy, &[all.clone()], None).unwrap();
        }
        weights(&m)
    };
    let accumulated = {
        let m = model();
        let mut s = stepper(&m, &[]);
        for step in 0..STEPS {
            s.step(step, &m, &toy, &[all[..8].to_vec(), all[8..].to_vec()], None).unwrap();
        }
        weights(&m)
    };
    let barrier = Arc::new(Barrier::new(2));
    let counts = Arc::new(Mutex::new(vec![Vec::new(); 2]));
    let grads = Arc::new(Mutex::new(vec![Vec::new(); 2]));
    let ranks: Vec<_> = (0..2)
        .map(|rank| {
            let mut hook = AllReduce { rank, barrier: barrier.clone(), counts: counts.clone(), grads: grads.clone() };
            std::thread::spawn(move || {
                let toy = Toy::new();
                let m = model();
                let mut s = stepper(&m, &[]);
                let rows: Vec<usize> = (rank * 8..(rank + 1) * 8).collect();
                for step in 0..STEPS {
                    s.step(step, &m, &toy, &[rows.clone()], Some(&mut hook)).unwrap();
                }
                weights(&m)
            })
        })
        .collect();
    let ranks: Vec<_> = ranks.into_iter().map(|h| h.join().unwrap()).collect();
    // The ranks stay identical to each other, and equal the single process up to the order of float sums.
    assert_eq!(ranks[0], ranks[1]);
    let initial = weights(&model());
    let moved = max_difference(&whole, &initial);
    assert!(moved > 1e-3, "training moved the weights by {moved}");
    for (what, w) in [("2 processes x 8", &ranks[0]), ("2 micro-batches x 8", &accumulated)] {
        let d = max_difference(w, &whole);
        assert!(d < 1e-5 * moved.max(1.0), "{what}: weights differ from 1 x 16 by {d} (moved {moved})");
    }
    // Without the hook each process steps on its own half: far from the big batch (the test can fail).
    let alone = {
        let m = model();
        let mut s = stepper(&m, &[]);
        for step in 0..STEPS {
            s.step(step, &m, &toy, &[all[..8].to_vec()], None).unwrap();
        }
        weights(&m)
    };
    assert!(max_difference(&alone, &whole) > 100.0 * max_difference(&ranks[0], &whole));
}

#[test]
fn frozen_parameters_keep_their_values_and_get_no_optimizer_state() {
    let toy = Toy::new();
    let m = model();
    let before = weights(&m);
    let mut s = stepper(&m, &["albert."]);
    assert!(s.params().iter().all(|(n, _)| !n.starts_with("albert.")));
    assert!(!s.params().is_empty());
    for step in 0..STEPS {
        s.step(step, &m, &toy, &[(0..8).collect()], None).unwrap();
    }
    let after = weights(&m);
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        if name.starts_with("albert.") {
            assert_eq!(a, b, "{name} is frozen but changed");
        } else {
            assert_ne!(a, b, "{name} is trained but did not change");
        }
    }
    let state = s.optimizer().state();
    let names: Vec<&String> = state.params.keys().collect();
    assert!(!names.is_empty() && names.iter().all(|n| !n.starts_with("albert.")), "{names:?}");
}

#[test]
fn a_checkpoint_from_before_the_engine_is_refused_by_name() {
    use albert_train::finetune::{train, FinetuneError, FinetuneOptions, ResumeOptions, TrainFeatures};
    struct Rows;
    impl TrainFeatures for Rows {
        fn len(&self) -> usize {
            4
        }
        fn row_len(&self, _: usize) -> usize {
            3
        }
        fn loss(&self, _: &AlbertForAny, _: &[usize], _: &Device, _: &ForwardOptions) -> Result<Tensor, FinetuneError> {
            unreachable!("the run must stop before training")
        }
    }
    for (file, writer) in [("finetune_state.json", "albert finetune"), ("trainer_state.json", "albert pretrain run")] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("checkpoint")).unwrap();
        std::fs::write(dir.path().join("checkpoint").join(file), "{}").unwrap();
        let opts = FinetuneOptions {
            checkpoint: Some(ResumeOptions { dir: dir.path().to_owned(), every: 1, resume: true, stop_after: None }),
            ..FinetuneOptions::default()
        };
        let err = train(&model(), &Rows, None, &mut |_| Ok(()), &opts).unwrap_err().to_string();
        for needle in [file, writer, "version 1", "engine_state.json"] {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
    }
}

#[test]
fn a_model_prepared_for_inference_in_place_is_refused_by_name() {
    let prepared = model().into_prepared().unwrap();
    let cfg = StepConfig {
        max_grad_norm: 1.0,
        schedule: LinearWarmupSchedule { peak_lr: 1e-2, warmup_steps: 0, total_steps: 10 },
        normalization: LossNormalization::Count,
        frozen: vec![],
    };
    let err = Stepper::new(&prepared, Box::new(AdamW::new(AdamWConfig::default()).unwrap()), cfg).err().expect("refused");
    assert!(err.to_string().contains("prepared for inference"), "{err}");
}
