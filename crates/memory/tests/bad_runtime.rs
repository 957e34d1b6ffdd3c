//! A library that is not ONNX Runtime is a clear error naming it, not a panic (its own test binary: a
//! process loads one runtime).

use maestro_memory::{FastEmbedder, ModelPaths};

#[test]
fn a_library_that_is_not_onnx_runtime_is_refused_by_name() {
    let not_ort = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("a shared library to load");
    let mut paths = ModelPaths::from_env();
    paths.runtime = Some(not_ort.into());
    let err = FastEmbedder::load(&paths, 1)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains(not_ort), "{err}");
    assert!(err.contains("ONNX Runtime >= 1.24"), "{err}");
}

#[test]
fn a_runtime_path_that_does_not_exist_is_named() {
    let mut paths = ModelPaths::from_env();
    paths.runtime = Some("/nonexistent/libonnxruntime.so.1.24.4".into());
    let err = FastEmbedder::load(&paths, 1)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("/nonexistent/libonnxruntime.so.1.24.4"),
        "{err}"
    );
}
