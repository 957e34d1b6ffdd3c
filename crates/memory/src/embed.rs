//! Embedders: text in, unit vectors out. [`FastEmbedder`] runs all-MiniLM-L6-v2 (or any BERT-like
//! ONNX model with mean pooling) through fastembed on an ONNX Runtime library loaded at run time.
//!
//! Where the files are, first match wins:
//! - the runtime: `MAESTRO_ORT_DYLIB`, then `ORT_DYLIB_PATH` (ort's own variable), then
//!   `<models>/onnxruntime/libonnxruntime.so.<version>` (the newest there);
//! - the model: `MAESTRO_EMBED_MODEL` (a directory), then `<models>/all-minilm-l6-v2`; in it
//!   `model.int8.onnx` (weights quantised to int8: about twice as fast, and as good on the code-search
//!   quality set) when present, else `model.onnx`;
//! - `<models>` is `MAESTRO_MODELS_DIR`, else `$MAESTRO_HOME/models`, else
//!   `$XDG_CACHE_HOME/maestro/models`, else `~/.cache/maestro/models` — what `maestro models install`
//!   fills.

use std::path::{Path, PathBuf};

/// The model `maestro models install` puts in the models directory.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";
/// Its dimension.
pub const DEFAULT_DIM: usize = 384;
/// The oldest ONNX Runtime the `ort` crate in this build accepts.
pub const MIN_ORT: &str = "1.24";
/// Texts longer than this many tokens are cut by the tokenizer (the model's window is 512; 256 is what
/// all-MiniLM-L6-v2 was trained on).
const MAX_TOKENS: usize = 256;
/// Texts run through the model at a time, after sorting by length.
const LENGTH_BATCH: usize = 16;
/// The embedding thread's nice value (and its ONNX Runtime threads').
const EMBED_NICE: i32 = 10;

/// Turns texts into unit vectors of [`Embedder::dim`] numbers.
pub trait Embedder: Send + Sync {
    /// The model's name, recorded with every vector.
    fn model(&self) -> &str;
    fn dim(&self) -> usize;
    /// One vector per text, in order. Empty texts are allowed (they embed to the model's answer for
    /// no tokens).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "no ONNX Runtime library: looked for {looked} — run `maestro models install` (or set MAESTRO_ORT_DYLIB to a libonnxruntime.so >= {MIN_ORT})"
    )]
    NoRuntime { looked: String },
    #[error(
        "cannot load the ONNX Runtime library {path}: {message} (maestro needs ONNX Runtime >= {MIN_ORT}; `maestro models install` fetches one)"
    )]
    BadRuntime { path: PathBuf, message: String },
    #[error(
        "no embedding model in {dir}: {missing} missing — run `maestro models install` (or set MAESTRO_EMBED_MODEL to a model directory)"
    )]
    NoModel { dir: PathBuf, missing: String },
    #[error("cannot load the embedding model in {dir}: {message}")]
    BadModel { dir: PathBuf, message: String },
    #[error("the embedding model gave {got}-dimensional vectors where {want} were expected")]
    Dimension { want: usize, got: usize },
    #[error("embedding failed: {0}")]
    Embed(String),
}

/// Where the runtime and the model were found (or looked for), for `maestro doctor` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    pub models_dir: PathBuf,
    /// The runtime library, when one was found.
    pub runtime: Option<PathBuf>,
    /// Where the runtime was looked for, in order.
    pub runtime_looked: Vec<PathBuf>,
    /// The model directory (found or not).
    pub model_dir: PathBuf,
}

/// The int8-quantised model, preferred to `model.onnx` when a model directory has it.
pub const INT8_MODEL_FILE: &str = "model.int8.onnx";

/// Which of a model directory's ONNX files to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `model.int8.onnx` when present, else `model.onnx`.
    Preferred,
    /// `model.onnx` (what the numpy reference is compared with).
    Float32,
}

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

impl ModelPaths {
    /// Resolves the paths from `var` (an environment lookup) as the module documentation says.
    pub fn resolve(var: impl Fn(&str) -> Option<String>) -> ModelPaths {
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let models_dir = set("MAESTRO_MODELS_DIR")
            .or_else(|| set("MAESTRO_HOME").map(|h| h.join("models")))
            .or_else(|| {
                set("XDG_CACHE_HOME")
                    .filter(|p| p.is_absolute())
                    .map(|c| c.join("maestro/models"))
            })
            .or_else(|| set("HOME").map(|h| h.join(".cache/maestro/models")))
            .unwrap_or_else(|| PathBuf::from(".maestro-models"));
        let mut runtime_looked = Vec::new();
        let mut runtime = None;
        for name in ["MAESTRO_ORT_DYLIB", "ORT_DYLIB_PATH"] {
            if let Some(p) = set(name) {
                runtime_looked.push(p.clone());
                // A path set by hand is taken as it is: a wrong one should be an error naming it.
                runtime.get_or_insert(p);
            }
        }
        let ort_dir = models_dir.join("onnxruntime");
        if runtime.is_none() {
            runtime = newest_runtime(&ort_dir);
            runtime_looked.push(ort_dir.join("libonnxruntime.so.*"));
        }
        let model_dir =
            set("MAESTRO_EMBED_MODEL").unwrap_or_else(|| models_dir.join(DEFAULT_MODEL));
        ModelPaths {
            models_dir,
            runtime,
            runtime_looked,
            model_dir,
        }
    }

    pub fn from_env() -> ModelPaths {
        Self::resolve(|name| std::env::var(name).ok())
    }

    /// The model files missing from [`ModelPaths::model_dir`].
    pub fn missing_model_files(&self) -> Vec<&'static str> {
        MODEL_FILES
            .into_iter()
            .filter(|f| !self.model_dir.join(f).is_file())
            .collect()
    }
}

/// `libonnxruntime.so.X.Y.Z` with the highest version in `dir`.
fn newest_runtime(dir: &Path) -> Option<PathBuf> {
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(version) = name.strip_prefix("libonnxruntime.so.") else {
            continue;
        };
        let Ok(v) = version
            .split('.')
            .map(str::parse::<u32>)
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, entry.path()));
        }
    }
    best.map(|(_, p)| p)
}

/// The ONNX Runtime library loaded into this process: once, and first, so that a wrong version is an
/// error naming the file instead of a panic inside `ort`.
static RUNTIME: std::sync::OnceLock<Result<(PathBuf, ort::environment::Environment), String>> =
    std::sync::OnceLock::new();

fn load_runtime(path: &Path) -> Result<ort::environment::Environment, EmbedError> {
    let loaded = RUNTIME.get_or_init(|| {
        let builder = ort::init_from(path).map_err(|e| e.to_string())?;
        let env = builder
            .with_name("maestro")
            .build()
            .map_err(|e| e.to_string())?;
        Ok((path.to_owned(), env))
    });
    match loaded {
        Ok((loaded, env)) if loaded == path => Ok(env.clone()),
        Ok((loaded, _)) => Err(EmbedError::BadRuntime {
            path: path.to_owned(),
            message: format!(
                "this process already loaded {}; one runtime per process",
                loaded.display()
            ),
        }),
        Err(message) => Err(EmbedError::BadRuntime {
            path: path.to_owned(),
            message: message.clone(),
        }),
    }
}

/// fastembed on ONNX Runtime, from a model directory.
pub struct FastEmbedder {
    model: String,
    dim: usize,
    /// To the thread that owns the model (it ends when this is dropped).
    jobs: std::sync::mpsc::Sender<Job>,
}

impl FastEmbedder {
    /// Loads the runtime and the model that `paths` point at (int8 when the directory has it), with
    /// `threads` intra-op threads, and checks the model's dimension on a probe sentence.
    pub fn load(paths: &ModelPaths, threads: usize) -> Result<FastEmbedder, EmbedError> {
        Self::load_with(paths, threads, Precision::Preferred)
    }

    /// [`FastEmbedder::load`], choosing the model file by `precision`.
    pub fn load_with(
        paths: &ModelPaths,
        threads: usize,
        precision: Precision,
    ) -> Result<FastEmbedder, EmbedError> {
        let runtime = paths.runtime.clone().ok_or_else(|| EmbedError::NoRuntime {
            looked: paths
                .runtime_looked
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        if !runtime.is_file() {
            return Err(EmbedError::BadRuntime {
                path: runtime,
                message: "no such file".into(),
            });
        }
        let missing = paths.missing_model_files();
        if !missing.is_empty() {
            return Err(EmbedError::NoModel {
                dir: paths.model_dir.clone(),
                missing: missing.join(", "),
            });
        }
        let env = load_runtime(&runtime)?;
        let dir = &paths.model_dir;
        let bad = {
            let dir = dir.clone();
            move |message: String| EmbedError::BadModel {
                dir: dir.clone(),
                message,
            }
        };
        let read =
            |name: &str| std::fs::read(dir.join(name)).map_err(|e| bad(format!("{name}: {e}")));
        let files = fastembed::TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let int8 = precision == Precision::Preferred && dir.join(INT8_MODEL_FILE).is_file();
        let onnx = read(if int8 { INT8_MODEL_FILE } else { "model.onnx" })?;
        let model = fastembed::UserDefinedEmbeddingModel::new(onnx, files)
            .with_pooling(fastembed::Pooling::Mean);
        let options = fastembed::InitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(MAX_TOKENS)
            .with_intra_threads(threads.max(1));
        // The model lives on a thread of its own at low priority: ONNX Runtime's worker threads,
        // made with the session, inherit it, so embedding takes the cores editors and agents leave.
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let (ready, loaded) = std::sync::mpsc::channel();
        let error = bad.clone();
        std::thread::Builder::new()
            .name("maestro-embed".into())
            .spawn(move || {
                // Linux's nice is per thread: this one and those it starts.
                let _ = rustix::process::setpriority_process(None, EMBED_NICE);
                let made = fastembed::TextEmbedding::try_new_from_user_defined(model, options)
                    .map_err(|e| error(e.to_string()))
                    .and_then(|mut inner| {
                        let probe = inner
                            .embed(["dimension probe"], None)
                            .map_err(|e| error(e.to_string()))?;
                        Ok((inner, probe.first().map_or(0, Vec::len)))
                    });
                let mut inner = match made {
                    Ok((inner, dim)) => {
                        let _ = ready.send(Ok(dim));
                        inner
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                while let Ok((texts, reply)) = queue.recv() {
                    // A panic inside the runtime fails this call, not every later one.
                    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run(&mut inner, &texts)
                    }))
                    .unwrap_or_else(|_| Err(EmbedError::Embed("the model panicked".into())));
                    let _ = reply.send(answer);
                }
            })
            .map_err(|e| bad(format!("cannot start the embedding thread: {e}")))?;
        let dim = loaded
            .recv()
            .map_err(|_| bad("the embedding thread ended while loading".into()))??;
        if dim == 0 {
            return Err(bad("it gave an empty vector".into()));
        }
        let mut name = dir.file_name().map_or_else(
            || DEFAULT_MODEL.to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        // Recorded with every vector: vectors of the other precision are embedded again.
        if int8 {
            name.push_str("-int8");
        }
        Ok(FastEmbedder {
            model: name,
            dim,
            jobs,
        })
    }
}

/// Texts for the embedding thread, and where its answer goes.
type Job = (
    Vec<String>,
    std::sync::mpsc::Sender<Result<Vec<Vec<f32>>, EmbedError>>,
);

/// Embeds `texts` in groups of like length: a batch is padded to its longest text, so that a short
/// one would otherwise pay for a long one's tokens (length in bytes: a fair proxy for tokens, and
/// free).
fn run(
    inner: &mut fastembed::TextEmbedding,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut out = vec![Vec::new(); texts.len()];
    for group in order.chunks(LENGTH_BATCH) {
        let batch: Vec<&str> = group.iter().map(|&i| texts[i].as_str()).collect();
        let vectors = inner
            .embed(&batch, Some(batch.len()))
            .map_err(|e| EmbedError::Embed(e.to_string()))?;
        for (&i, v) in group.iter().zip(vectors) {
            out[i] = v;
        }
    }
    Ok(out)
}

impl Embedder for FastEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = std::sync::mpsc::channel();
        let gone = || EmbedError::Embed("the embedding thread has ended".into());
        self.jobs
            .send((texts.iter().map(|t| (*t).to_owned()).collect(), reply))
            .map_err(|_| gone())?;
        let mut out = answer.recv().map_err(|_| gone())??;
        for v in &mut out {
            if v.len() != self.dim {
                return Err(EmbedError::Dimension {
                    want: self.dim,
                    got: v.len(),
                });
            }
            normalize(v);
        }
        Ok(out)
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn paths_follow_the_documented_order() {
        let p = ModelPaths::resolve(env(&[("HOME", "/home/u")]));
        assert_eq!(p.models_dir, PathBuf::from("/home/u/.cache/maestro/models"));
        assert_eq!(
            p.model_dir,
            PathBuf::from("/home/u/.cache/maestro/models/all-minilm-l6-v2")
        );
        assert_eq!(p.runtime, None);
        let p = ModelPaths::resolve(env(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/c")]));
        assert_eq!(p.models_dir, PathBuf::from("/c/maestro/models"));
        let p = ModelPaths::resolve(env(&[("HOME", "/h"), ("MAESTRO_HOME", "/m")]));
        assert_eq!(p.models_dir, PathBuf::from("/m/models"));
        let p = ModelPaths::resolve(env(&[
            ("MAESTRO_HOME", "/m"),
            ("MAESTRO_MODELS_DIR", "/x"),
            ("ORT_DYLIB_PATH", "/ort.so"),
            ("MAESTRO_ORT_DYLIB", "/mine.so"),
            ("MAESTRO_EMBED_MODEL", "/model"),
        ]));
        assert_eq!(p.models_dir, PathBuf::from("/x"));
        assert_eq!(p.runtime, Some(PathBuf::from("/mine.so")));
        assert_eq!(p.model_dir, PathBuf::from("/model"));
    }

    #[test]
    fn the_newest_runtime_in_the_directory_is_taken() {
        let dir = std::env::temp_dir().join(format!("maestro-ort-{}", std::process::id()));
        let ort = dir.join("onnxruntime");
        std::fs::create_dir_all(&ort).unwrap();
        for name in [
            "libonnxruntime.so.1.24.4",
            "libonnxruntime.so.1.100.0",
            "libonnxruntime.so.1.9.0",
            "libonnxruntime.so.junk",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(ort.join(name), b"").unwrap();
        }
        let p = ModelPaths::resolve(env(&[("MAESTRO_MODELS_DIR", dir.to_str().unwrap())]));
        assert_eq!(p.runtime, Some(ort.join("libonnxruntime.so.1.100.0")));
        assert_eq!(p.missing_model_files().len(), MODEL_FILES.len());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_parts_are_errors_naming_the_fix() {
        let dir = std::env::temp_dir().join(format!("maestro-none-{}", std::process::id()));
        let p = ModelPaths::resolve(env(&[("MAESTRO_MODELS_DIR", dir.to_str().unwrap())]));
        let err = FastEmbedder::load(&p, 1).err().unwrap().to_string();
        assert!(err.contains("no ONNX Runtime library"), "{err}");
        assert!(err.contains("maestro models install"), "{err}");
    }
}
