//! The real model through the real runtime: the converted all-MiniLM-L6-v2 agrees with the numpy
//! reference `maestro models install` wrote beside it, and means what it should.
//! Needs `maestro models install` (scripts/test runs it).

use maestro_memory::{Embedder, FastEmbedder, ModelPaths, Precision, dot};

fn embedder() -> FastEmbedder {
    let paths = ModelPaths::from_env();
    FastEmbedder::load(&paths, 1).unwrap_or_else(|e| {
        panic!("{e}\n(the tests need the embedding model: run scripts/test, or `maestro models install`)")
    })
}

/// The sentences of `reference.json` and their embeddings by the numpy forward pass.
fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let paths = ModelPaths::from_env();
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(paths.model_dir.join("reference.json")).unwrap())
            .unwrap();
    reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let v = s["embedding"].as_array().unwrap();
            (
                s["text"].as_str().unwrap().to_owned(),
                v.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
            )
        })
        .unzip()
}

#[test]
fn the_converted_model_matches_the_reference_implementation() {
    let e = FastEmbedder::load_with(&ModelPaths::from_env(), 1, Precision::Float32).unwrap();
    assert_eq!(e.dim(), 384);
    let (texts, wanted) = reference();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    // One batch (padded to the longest) and one at a time must both agree with the unpadded reference.
    let batch = e.embed(&texts).unwrap();
    for (i, want) in wanted.iter().enumerate() {
        let single = e.embed(&[texts[i]]).unwrap().remove(0);
        for got in [&batch[i], &single] {
            let norm = dot(got, got).sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
            let cos = dot(got, want);
            assert!(
                cos > 0.9999,
                "{:?}: cosine with the reference {cos}",
                texts[i]
            );
        }
    }
}

#[test]
fn similar_sentences_are_closer_than_unrelated_ones() {
    let e = embedder();
    let v = e
        .embed(&[
            "a cat sits on the mat",
            "A kitten is resting on a rug.",
            "Quarterly tax filings are due at the end of the month.",
            "where are retries handled",
            "fn retry_with_backoff(attempts: u32) — retries a failed request, doubling the wait",
        ])
        .unwrap();
    assert!(dot(&v[0], &v[1]) > 0.5);
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.3);
    assert!(dot(&v[3], &v[4]) > dot(&v[3], &v[2]));
    // Empty and very long texts embed (the tokenizer cuts long ones).
    let odd = e.embed(&["", &"word ".repeat(10_000)]).unwrap();
    assert_eq!(odd.len(), 2);
    assert!(odd.iter().all(|v| v.len() == 384));
}

#[test]
fn the_int8_model_runs_by_default_and_stays_close_to_the_reference() {
    let e = embedder();
    assert_eq!(
        e.model(),
        "all-minilm-l6-v2-int8",
        "models install writes model.int8.onnx"
    );
    let (texts, wanted) = reference();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    // Sorted by length inside embed(): the answers still come back in the order asked.
    let got = e.embed(&texts).unwrap();
    for (i, want) in wanted.iter().enumerate() {
        let cos = dot(&got[i], want);
        assert!(
            cos > 0.95,
            "{:?}: cosine with the reference {cos}",
            texts[i]
        );
        for (j, theirs) in wanted.iter().enumerate().filter(|(j, _)| *j != i) {
            assert!(
                cos > dot(&got[i], theirs),
                "{i} is nearer to {j}'s reference"
            );
        }
    }
}
