//! The ALBERT model, module for module as Hugging Face transformers' `modeling_albert.py`, so that a parameter's
//! path reads the same in both (`albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight`).

mod albert;
mod attention;
mod blocks;
mod embeddings;
mod encoder;
mod heads;
mod layer;
pub mod loss;
mod weights;

pub use albert::{AlbertInput, AlbertModel, AlbertOutput, ForwardOptions, Precision};
pub use attention::AlbertAttention;
pub use blocks::{Dropout, LayerNorm};
pub use embeddings::AlbertEmbeddings;
pub use encoder::{AlbertTransformer, EncoderOutput};
pub use heads::{
    AlbertForAny, AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining, AlbertForQuestionAnswering,
    AlbertForSequenceClassification, AlbertForTokenClassification, AlbertMLMHead, AnyOutput, ClassifierHead, HeadKind,
    HeadOutput, LogitsOutput, PredictedLoss, PreTrainingOutput, QuestionAnsweringOutput,
};
pub use layer::{AlbertLayer, AlbertLayerGroup};
pub use weights::{init_model, load_model, named_tensors, LoadReport};
