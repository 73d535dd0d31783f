//! Dataset readers for the original formats and scoring of predictions files.
