//! Dataset readers on the shared original files (counts from /work/shared/data/MANIFEST.md and
//! first rows read off the files) and on small hand-written files in the official schemas.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use albert_train::tasks::custom::{read_custom, CustomTask, FileFormat, LabelKind};
use albert_train::tasks::glue::{read_glue, read_glue_predictions, GlueTask};
use albert_train::tasks::multiple_choice::{read_race, score_multiple_choice, Choice};
use albert_train::tasks::ner::{read_conll2003, read_predicted_tags};
use albert_train::tasks::squad::{read_squad, score_squad_v2, ArticleSplit};
use albert_train::tasks::{evaluate_predictions, EvalOptions, Target, Task, TaskError};
use common::{fixture, shared_data};

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("albert-readers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn glue_files_have_manifest_counts_and_labels() {
    // (task, file, rows in MANIFEST.md, labeled)
    let files = [
        (GlueTask::Cola, "CoLA/train.tsv", 8551, true),
        (GlueTask::Cola, "CoLA/dev.tsv", 1043, true),
        (GlueTask::Cola, "CoLA/test.tsv", 1063, false),
        (GlueTask::Sst2, "SST-2/train.tsv", 67349, true),
        (GlueTask::Sst2, "SST-2/dev.tsv", 872, true),
        (GlueTask::Sst2, "SST-2/test.tsv", 1821, false),
        (GlueTask::Mrpc, "MRPC/train.tsv", 3668, true),
        (GlueTask::Mrpc, "MRPC/dev.tsv", 408, true),
        (GlueTask::Mrpc, "MRPC/test.tsv", 1725, false),
        (GlueTask::Stsb, "STS-B/train.tsv", 5749, true),
        (GlueTask::Stsb, "STS-B/dev.tsv", 1500, true),
        (GlueTask::Stsb, "STS-B/test.tsv", 1379, false),
        (GlueTask::Qnli, "QNLI/dev.tsv", 5463, true),
        (GlueTask::Qnli, "QNLI/test.tsv", 5463, false),
        (GlueTask::Rte, "RTE/train.tsv", 2490, true),
        (GlueTask::Rte, "RTE/dev.tsv", 277, true),
        (GlueTask::Rte, "RTE/test.tsv", 3000, false),
        (GlueTask::Wnli, "WNLI/train.tsv", 635, true),
        (GlueTask::Wnli, "WNLI/dev.tsv", 71, true),
        (GlueTask::Wnli, "WNLI/test.tsv", 146, false),
        (GlueTask::Ax, "diagnostic/diagnostic.tsv", 1104, false),
    ];
    for (task, file, count, labeled) in files {
        let Some(path) = shared_data(&format!("glue/{file}")) else {
            return;
        };
        let d = read_glue(task, &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.examples.len(), d.labeled), (count, labeled), "{file}");
        assert!(
            d.examples.iter().all(|e| e.label.is_some() == labeled
                && e.text_b.is_some() == (task != GlueTask::Cola && task != GlueTask::Sst2)),
            "{file}"
        );
    }
}

#[test]
fn glue_first_rows_match_the_files() {
    let Some(dir) = shared_data("glue") else {
        return;
    };
    let first = |task, file: &str| {
        read_glue(task, &dir.join(file))
            .unwrap()
            .examples
            .swap_remove(0)
    };
    let cola = first(GlueTask::Cola, "CoLA/dev.tsv");
    assert_eq!(
        (cola.text_a.as_str(), cola.label),
        (
            "The sailors rode the breeze clear of the rocks.",
            Some(Target::Class(1))
        )
    );
    let cola_test = first(GlueTask::Cola, "CoLA/test.tsv");
    assert_eq!(
        (cola_test.guid.as_str(), cola_test.text_a.as_str()),
        ("0", "Bill whistled past the house.")
    );
    let sst2 = first(GlueTask::Sst2, "SST-2/dev.tsv");
    assert_eq!(
        (sst2.text_a.as_str(), sst2.label),
        (
            "it 's a charming and often affecting journey . ",
            Some(Target::Class(1))
        )
    );
    // MRPC's header starts with a byte-order mark.
    let mrpc = first(GlueTask::Mrpc, "MRPC/dev.tsv");
    assert_eq!(mrpc.text_a, "He said the foodservice pie business doesn 't fit the company 's long-term growth strategy .");
    assert_eq!(
        mrpc.text_b.as_deref(),
        Some("\" The foodservice pie business does not fit our long-term growth strategy .")
    );
    assert_eq!(mrpc.label, Some(Target::Class(1)));
    let stsb = first(GlueTask::Stsb, "STS-B/dev.tsv");
    assert_eq!(
        (stsb.text_a.as_str(), stsb.text_b.as_deref(), stsb.label),
        (
            "A man with a hard hat is dancing.",
            Some("A man wearing a hard hat is dancing."),
            Some(Target::Score(5.0))
        )
    );
    let rte = first(GlueTask::Rte, "RTE/dev.tsv");
    assert_eq!(
        (rte.text_b.as_deref(), rte.label),
        (
            Some("Christopher Reeve had an accident."),
            Some(Target::Class(1))
        )
    );
    let qnli = first(GlueTask::Qnli, "QNLI/dev.tsv");
    assert_eq!(
        (qnli.text_a.as_str(), qnli.label),
        (
            "What came into force after the new constitution was herald?",
            Some(Target::Class(0))
        )
    );
    let wnli = first(GlueTask::Wnli, "WNLI/dev.tsv");
    assert_eq!(
        (wnli.text_b.as_deref(), wnli.label),
        (Some("The hair has to be cleaned."), Some(Target::Class(0)))
    );
    let ax = first(GlueTask::Ax, "diagnostic/diagnostic.tsv");
    assert_eq!(
        (ax.text_a.as_str(), ax.text_b.as_deref()),
        (
            "The cat sat on the mat.",
            Some("The cat did not sit on the mat.")
        )
    );
}

#[test]
fn evaluating_on_unlabeled_glue_files_is_an_error() {
    let preds = temp_file("two.tsv", "index\tprediction\n0\tentailment\n1\tneutral\n");
    let err = evaluate_predictions(
        Task::Glue(GlueTask::Mnli),
        &fixture("tasks/mnli_test_matched.tsv"),
        &preds,
        &EvalOptions::new(),
    )
    .unwrap_err();
    assert!(matches!(err, TaskError::Unlabeled { .. }), "{err}");
    assert!(err.to_string().contains("has no labels"), "{err}");
    let Some(ax) = shared_data("glue/diagnostic/diagnostic.tsv") else {
        return;
    };
    let preds = temp_file(
        "ax.tsv",
        &(0..1104)
            .map(|i| format!("{i}\tentailment\n"))
            .collect::<String>(),
    );
    let err = evaluate_predictions(Task::Glue(GlueTask::Ax), &ax, &preds, &EvalOptions::new())
        .unwrap_err();
    assert!(matches!(err, TaskError::Unlabeled { .. }), "{err}");
}

#[test]
fn mnli_and_qqp_hand_written_files_read() {
    for task in [GlueTask::Mnli, GlueTask::MnliMismatched] {
        let d = read_glue(task, &fixture("tasks/mnli_dev_matched.tsv")).unwrap();
        let labels: Vec<_> = d.examples.iter().map(|e| e.label).collect();
        // neutral, contradiction, entailment in the Hugging Face order entailment/neutral/contradiction.
        assert_eq!(
            labels,
            [
                Some(Target::Class(1)),
                Some(Target::Class(2)),
                Some(Target::Class(0))
            ]
        );
        assert_eq!(
            d.examples[0].text_b.as_deref(),
            Some("Everyone really likes the newest benefits ")
        );
        assert_eq!(
            d.examples[2].text_a,
            "uh i don't know i i have mixed emotions about him uh \"sometimes\" i like him"
        );
    }
    let test = read_glue(GlueTask::Mnli, &fixture("tasks/mnli_test_matched.tsv")).unwrap();
    assert!(!test.labeled);
    assert_eq!(test.examples.len(), 3);

    let qqp = read_glue(GlueTask::Qqp, &fixture("tasks/qqp_dev.tsv")).unwrap();
    assert_eq!(
        qqp.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        [
            Some(Target::Class(0)),
            Some(Target::Class(0)),
            Some(Target::Class(1))
        ]
    );
    assert_eq!(
        (
            qqp.examples[2].guid.as_str(),
            qqp.examples[2].text_a.as_str()
        ),
        ("172974", "Is there a reason why we should travel alone?")
    );
    let qqp_test = read_glue(GlueTask::Qqp, &fixture("tasks/qqp_test.tsv")).unwrap();
    assert_eq!(
        (qqp_test.labeled, qqp_test.examples[1].text_b.as_deref()),
        (false, Some("Is Rust hard?"))
    );

    // Hand-derived QQP scores: predictions 0, 1, 1 against 0, 0, 1: acc 2/3, F1 = 2*1/(2*1+1+0) = 2/3.
    let preds = temp_file("qqp.tsv", "index\tprediction\n2\tduplicate\n0\t0\n1\t1\n");
    let report = evaluate_predictions(
        Task::Glue(GlueTask::Qqp),
        &fixture("tasks/qqp_dev.tsv"),
        &preds,
        &EvalOptions::new(),
    )
    .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    for key in ["acc", "f1", "acc_and_f1"] {
        common::assert_close(json[key].as_f64().unwrap(), 200.0 / 3.0, key);
    }
}

#[test]
fn malformed_glue_files_are_reported_with_file_and_line() {
    let bad = temp_file(
        "bad_rte.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tmaybe\n",
    );
    let err = read_glue(GlueTask::Rte, &bad).unwrap_err().to_string();
    assert!(
        err.contains("bad_rte.tsv:3") && err.contains("\"maybe\""),
        "{err}"
    );
    let short = temp_file(
        "short_rte.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tonly one field\n",
    );
    let err = read_glue(GlueTask::Rte, &short).unwrap_err().to_string();
    assert!(
        err.contains("short_rte.tsv:2") && err.contains("at least 4"),
        "{err}"
    );
    let wrong = temp_file(
        "wrong_header.tsv",
        "index\tquestion\tsentence\tlabel\n0\ta\tb\tentailment\n",
    );
    let err = read_glue(GlueTask::Rte, &wrong).unwrap_err().to_string();
    assert!(
        err.contains("wrong_header.tsv:1") && err.contains("sentence1"),
        "{err}"
    );

    let cases = [
        (
            "index\tprediction\n0\t1\n",
            "pred.tsv: no prediction for 1 example(s), first index 1",
        ),
        (
            "index\tprediction\n0\t1\n0\t0\n",
            "pred.tsv:3: second prediction for index 0",
        ),
        (
            "index\tprediction\n0\t1\n7\t0\n",
            "pred.tsv:3: index 7 is out of range",
        ),
        (
            "index\tprediction\n0\tyes\n1\t0\n",
            "pred.tsv:2: bad prediction \"yes\"",
        ),
        ("0 1\n", "pred.tsv:1: expected index<TAB>prediction"),
    ];
    for (contents, message) in cases {
        let err = read_glue_predictions(GlueTask::Sst2, &temp_file("pred.tsv", contents), 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{err:?} should contain {message:?}");
    }
}

#[test]
fn squad_v2_hand_written_file_reads_and_scores() {
    let path = fixture("tasks/squad_v2_sample.json");
    let d = read_squad(&path).unwrap();
    assert_eq!(
        (d.version.as_str(), d.data.len(), d.questions().count()),
        ("v2.0", 2, 5)
    );
    let impossible: Vec<bool> = d.questions().map(|q| q.is_impossible).collect();
    assert_eq!(impossible, [false, false, true, false, true]);
    let p = &d.data[0].paragraphs[0];
    for a in p
        .qas
        .iter()
        .flat_map(|q| q.answers.iter().flatten().chain(&q.plausible_answers))
    {
        let span: String = p
            .context
            .chars()
            .skip(a.answer_start)
            .take(a.text.chars().count())
            .collect();
        assert_eq!(span, a.text);
    }
    // Hand-derived: q4 "complexity theory" vs "Computational complexity theory" has F1 0.8.
    let preds: HashMap<String, String> = [
        ("56ddde6b9a695914005b9628", "France"),
        ("56ddde6b9a695914005b9629", "the 10th and 11th centuries"),
        ("5ad39d53604f3c001a3fe8d1", ""),
        ("56e16182e3433e1400422e28", "complexity theory"),
        ("5ad3a266604f3c001a3fea2b", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let s = score_squad_v2(&d, &path, &preds, None, 1.0).unwrap();
    assert_eq!(
        (s.exact, s.total, s.has_ans_total, s.no_ans_total),
        (80.0, 5, Some(3), Some(2))
    );
    common::assert_close(s.f1, 96.0, "f1");
    common::assert_close(s.has_ans_f1.unwrap(), 280.0 / 3.0, "HasAns_f1");
    assert_eq!(
        (s.no_ans_exact, s.no_ans_f1, s.best_exact),
        (Some(100.0), Some(100.0), None)
    );
    // v2.0 needs every prediction, like the official script.
    let mut partial = preds.clone();
    partial.remove("5ad3a266604f3c001a3fea2b");
    let err = score_squad_v2(&d, &path, &partial, None, 1.0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing predictions for 1") && err.contains("5ad3a266604f3c001a3fea2b"),
        "{err}"
    );
}

/// A SQuAD file given as a top-level array, or an answer past its context, is refused with what is wrong.
#[test]
fn squad_files_that_lie_are_refused_by_name() {
    let array = temp_file("array_squad.json", "[{\"title\": \"T\", \"paragraphs\": []}]");
    let err = read_squad(&array).unwrap_err().to_string();
    assert!(err.contains("array_squad.json") && err.contains("not a JSON array"), "{err}");

    // "abc" has 3 characters: an answer "c" starts at most at 2.
    let beyond = temp_file(
        "beyond_squad.json",
        "{\"data\": [{\"title\": \"T\", \"paragraphs\": [{\"context\": \"abc\", \"qas\": [
            {\"id\": \"ok\", \"question\": \"?\", \"answers\": [{\"text\": \"c\", \"answer_start\": 2}]},
            {\"id\": \"q-past\", \"question\": \"?\", \"answers\": [{\"text\": \"c\", \"answer_start\": 3}]}]}]}]}",
    );
    let err = read_squad(&beyond).unwrap_err().to_string();
    assert!(err.contains("question q-past") && err.contains("answer_start 3") && err.contains("(3 characters)"), "{err}");

    // A value of the wrong type is named by its place in the document.
    let typed = temp_file(
        "typed_squad.json",
        "{\"data\": [{\"title\": \"T\", \"paragraphs\": [{\"context\": \"abc\", \"qas\": [{\"id\": 7, \"question\": \"?\"}]}]}]}",
    );
    let err = read_squad(&typed).unwrap_err().to_string();
    assert!(err.contains("data[0].paragraphs[0].qas[0].id"), "{err}");
}

#[test]
fn squad_schema_errors_name_the_file() {
    let bad = temp_file(
        "bad_squad.json",
        "{\"version\": \"1.1\", \"data\": [{\"title\": \"T\", \"paragraphs\": [{\"qas\": []}]}]}",
    );
    let err = read_squad(&bad).unwrap_err().to_string();
    assert!(
        err.contains("bad_squad.json") && err.contains("context") && err.contains("line 1"),
        "{err}"
    );
    let unlabeled = temp_file("unlabeled.json", "{\"data\": [{\"title\": \"T\", \"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": \"q\", \"question\": \"?\"}]}]}]}");
    let preds = temp_file("p.json", "{\"q\": \"c\"}");
    let err =
        evaluate_predictions(Task::SquadV1, &unlabeled, &preds, &EvalOptions::new()).unwrap_err();
    assert!(matches!(err, TaskError::Unlabeled { .. }), "{err}");
}

#[test]
fn xquad_languages_are_parallel_and_split_by_article() {
    let split = ArticleSplit::xquad();
    assert_eq!(
        (split.num_articles, split.train.len(), split.test.len()),
        (48, 36, 12)
    );
    let mut all: Vec<usize> = split
        .train
        .iter()
        .chain(&split.test)
        .map(|a| a.index)
        .collect();
    all.sort();
    assert_eq!(all, (0..48).collect::<Vec<_>>());
    let mut reference_ids: Option<(Vec<String>, Vec<String>)> = None;
    for lang in [
        "en", "ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh",
    ] {
        let Some(path) = shared_data(&format!("xquad/xquad.{lang}.json")) else {
            return;
        };
        let d = read_squad(&path).unwrap();
        assert_eq!(
            (
                d.data.len(),
                d.data.iter().map(|a| a.paragraphs.len()).sum::<usize>(),
                d.questions().count()
            ),
            (48, 240, 1190),
            "{lang}"
        );
        let parts = split.apply(&d, &path).unwrap();
        let ids = |s: &albert_train::tasks::squad::SquadDataset| {
            s.questions().map(|q| q.id.clone()).collect::<Vec<_>>()
        };
        let (train, test) = (ids(&parts.train), ids(&parts.test));
        assert_eq!(train.len() + test.len(), 1190, "{lang}");
        match &reference_ids {
            None => reference_ids = Some((train, test)),
            Some(r) => assert_eq!(
                r,
                &(train, test),
                "{lang}: same questions on each side as English"
            ),
        }
    }
    let err = split
        .apply(
            &read_squad(&fixture("tasks/squad_v2_sample.json")).unwrap(),
            &fixture("tasks/squad_v2_sample.json"),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("48 articles but the file has 2"),
        "{err}"
    );
}

#[test]
fn conll2003_files_have_manifest_counts() {
    for (file, sentences, tokens, documents) in [
        ("eng.train", 14041, 203621, 946),
        ("eng.testa", 3250, 51362, 216),
        ("eng.testb", 3453, 46435, 231),
    ] {
        let Some(path) = shared_data(&format!("conll2003/{file}")) else {
            return;
        };
        let s = read_conll2003(&path).unwrap();
        assert_eq!(s.len(), sentences, "{file}");
        assert_eq!(
            s.iter().map(|x| x.tokens.len()).sum::<usize>(),
            tokens,
            "{file}"
        );
        assert_eq!(s.last().unwrap().document + 1, documents, "{file}");
        assert!(s
            .iter()
            .all(|x| x.pos.len() == x.tokens.len() && x.chunk.len() == x.tokens.len()));
    }
    let Some(path) = shared_data("conll2003/eng.testa") else {
        return;
    };
    let s = read_conll2003(&path).unwrap();
    assert_eq!(
        s[0].tokens,
        [
            "CRICKET",
            "-",
            "LEICESTERSHIRE",
            "TAKE",
            "OVER",
            "AT",
            "TOP",
            "AFTER",
            "INNINGS",
            "VICTORY",
            "."
        ]
    );
    assert_eq!(
        s[0].tags,
        ["O", "O", "B-ORG", "O", "O", "O", "O", "O", "O", "O", "O"]
    );
    assert_eq!(
        (s[1].tokens.as_slice(), s[1].tags.as_slice(), s[1].line),
        (
            &["LONDON".to_owned(), "1996-08-30".to_owned()][..],
            &["B-LOC".to_owned(), "O".to_owned()][..],
            15
        )
    );
    assert_eq!(s[2].tags[..2], ["B-MISC", "I-MISC"]);
}

#[test]
fn conll_predictions_must_align() {
    let data = temp_file(
        "mini.conll",
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP I-PER\n",
    );
    let sentences = read_conll2003(&data).unwrap();
    assert_eq!(sentences.len(), 2);
    let ok = read_predicted_tags(
        &temp_file("ok.pred", "EU I-ORG\nrejects O\n\nPeter B-PER\n"),
        &sentences,
    )
    .unwrap();
    assert_eq!(ok, [vec!["I-ORG", "O"], vec!["B-PER"]]);
    let tags_only =
        read_predicted_tags(&temp_file("tags.pred", "I-ORG\nO\n\nI-PER\n"), &sentences).unwrap();
    assert_eq!(tags_only[1], ["I-PER"]);
    let err = read_predicted_tags(&temp_file("bad.pred", "EU I-ORG\nrejected O\n"), &sentences)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.pred:2") && err.contains("\"rejected\""),
        "{err}"
    );
    let err = read_predicted_tags(
        &temp_file("short.pred", "EU I-ORG\n\nPeter B-PER\n"),
        &sentences,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("short.pred:2") && err.contains("1 predicted tags"),
        "{err}"
    );
    let err = read_conll2003(&temp_file("ragged.conll", "EU NNP B-NP I-ORG\nrejects O\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ragged.conll:2"), "{err}");
}

#[test]
fn race_hand_written_directory_reads_and_scores() {
    let dir = fixture("tasks/race");
    let examples = read_race(&dir).unwrap();
    let ids: Vec<_> = examples.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["high1.txt-0", "high1.txt-1", "middle7.txt-0"]);
    assert_eq!(
        examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        [Some(1), Some(3), Some(0)]
    );
    assert_eq!(examples[1].options, ["Tom", "Mary", "Jack", "Lucy"]);
    let preds = HashMap::from([
        ("high1.txt-0".to_owned(), Choice::Letter("B".into())),
        ("high1.txt-1".to_owned(), Choice::Index(0)),
        ("middle7.txt-0".to_owned(), Choice::Letter("A".into())),
    ]);
    let scores = score_multiple_choice(&examples, &dir, &preds, "p.json".as_ref()).unwrap();
    common::assert_close(scores.get("acc").unwrap(), 200.0 / 3.0, "acc");
    let bad = temp_file(
        "bad_race.txt",
        r#"{"id": "x", "article": "a", "questions": ["q"], "options": [["a", "b"]], "answers": ["C"]}"#,
    );
    let err = read_race(&bad).unwrap_err().to_string();
    assert!(
        err.contains("bad_race.txt:1") && err.contains("\"C\""),
        "{err}"
    );
}

#[test]
fn custom_csv_tsv_jsonl_read_with_named_columns() {
    let classification = |labels| CustomTask {
        text_column: "text".into(),
        text_pair_column: Some("hypothesis".into()),
        label_column: "gold".into(),
        kind: LabelKind::Classification { labels },
        format: None,
    };
    let csv = temp_file(
        "own.csv",
        "text,hypothesis,gold\n\"He said \"\"hi\"\", then left\",He left,10\nSun,Moon,9\n",
    );
    let d = read_custom(&classification(None), &csv).unwrap();
    assert_eq!(d.labels, ["9", "10"]); // integer labels sort numerically
    assert_eq!(d.examples[0].text_a, "He said \"hi\", then left");
    assert_eq!(
        (d.examples[0].label, d.examples[1].label),
        (Some(Target::Class(1)), Some(Target::Class(0)))
    );
    let tsv = temp_file("own.tsv", "gold\ttext\thypothesis\nyes\ta\tb\n");
    let d = read_custom(&classification(Some(vec!["no".into(), "yes".into()])), &tsv).unwrap();
    assert_eq!(
        (d.examples[0].label, d.examples[0].text_b.as_deref()),
        (Some(Target::Class(1)), Some("b"))
    );
    let jsonl = temp_file("own.jsonl", "{\"text\": \"a\", \"hypothesis\": \"b\", \"gold\": true}\n\n{\"text\": \"c\", \"hypothesis\": \"d\", \"gold\": false}\n");
    let d = read_custom(&classification(None), &jsonl).unwrap();
    assert_eq!(d.labels, ["false", "true"]);
    let unlabeled = temp_file(
        "unlabeled.jsonl",
        "{\"text\": \"a\", \"hypothesis\": \"b\"}\n",
    );
    assert!(
        !read_custom(&classification(None), &unlabeled)
            .unwrap()
            .labeled
    );

    let regression = CustomTask {
        text_pair_column: None,
        kind: LabelKind::Regression,
        format: Some(FileFormat::Tsv),
        ..classification(None)
    };
    let scores = temp_file("scores.txt", "text\tgold\nfine\t3.5\nbad\tx\n");
    let err = read_custom(&regression, &scores).unwrap_err().to_string();
    assert!(
        err.contains("scores.txt:3") && err.contains("\"x\""),
        "{err}"
    );
    let err = read_custom(&classification(Some(vec!["no".into()])), &tsv)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("own.tsv:2") && err.contains("\"yes\""),
        "{err}"
    );
    let err = read_custom(&classification(None), &temp_file("own.txt", "x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("own.txt") && err.contains("format"), "{err}");
}
