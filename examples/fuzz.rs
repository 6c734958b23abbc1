//! A seeded mutation fuzzer (std only, issue 31) of `Session::load` and `Session::run` with
//! hostile feeds, on whichever engine the build has (`--no-default-features --features lite` for
//! the lite engine). Run by `scripts/fuzz.mjs`, which reports to docs/fuzzing-*.md; not in CI.
//!
//! Each execution `i` is a pure function of `(seed, i)`: one of the seed models (every .onnx
//! under the directories given, under 1 MB) with 1 to 8 byte-level mutations (flips, interesting
//! bytes, truncations, insertions, duplicated and spliced chunks); if it loads, a run with feeds
//! of declared or odd shapes (0 to 3 per dimension, a wrong rank or type now and then) and edge
//! values (NaN, infinities, 0, -1, 2^31, 2^32 + k, INT64_MIN, ...).
//!
//! A finding is a panic (caught here; built for wasm32-wasip1, as `scripts/fuzz.mjs --engines
//! lite-wasm` runs it, a panic aborts: the panic hook saves the input first), a load or run slower than
//! `--slow-ms`, or an error without a code an `OnnxletError` documents. Each is saved under
//! `--findings` as `<kind>-<exec>.onnx` with a line in `findings.txt`. A process that dies (an
//! allocation failure, say) is reported by the script with the last checkpoint; `--from`/`--to`
//! with `--save-each` replays that range, writing each input before running it.
//!
//! `cargo run --example fuzz --config profile.dev.package.onnxlet.opt-level=3 -- \
//!   --seed 1 --seconds 60 --findings target/fuzz tests/models tests/models/hostile`

use std::collections::BTreeMap;
use std::panic;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onnxlet::{DType, Dim, HostTensor, LoadOptions, Session};

/// splitmix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, exec: u64) -> Rng {
        let mut r = Rng(seed ^ exec.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const INTERESTING_BYTES: [u8; 10] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20, 0x08, 0x10];
const EDGE_INTS: [i64; 14] = [
    0,
    1,
    -1,
    2,
    3,
    -2,
    i32::MAX as i64,
    1 << 31,
    1 << 32,
    (1 << 32) + 2,
    1 << 40,
    i64::MAX,
    i64::MIN,
    -(1 << 31),
];
const EDGE_FLOATS: [f64; 9] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e38,
    1e-45,
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], mut bytes: Vec<u8>) -> Vec<u8> {
    // One mutation half the time: most inputs must still parse for the runs to be reached.
    let count = if rng.below(2) == 0 {
        1
    } else {
        1 + rng.below(8)
    };
    for _ in 0..count {
        let len = bytes.len();
        match rng.below(8) {
            0 if len > 0 => bytes[rng.below(len)] ^= 1 << rng.below(8),
            1 if len > 0 => bytes[rng.below(len)] = *rng.pick(&INTERESTING_BYTES),
            2 if len > 0 => bytes.truncate(rng.below(len)),
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, fill);
            }
            4 if len > 1 => {
                // Duplicate a chunk (repeated fields, nodes, dims).
                let from = rng.below(len);
                let to = (from + 1 + rng.below(64)).min(len);
                let at = rng.below(len + 1);
                let chunk = bytes[from..to].to_vec();
                bytes.splice(at..at, chunk);
            }
            5 if len > 0 => {
                // A varint-looking run: a multi-byte 64-bit value.
                let at = rng.below(len);
                let value = *rng.pick(&EDGE_INTS) as u64;
                let mut v = value;
                let mut enc = Vec::new();
                while v > 127 {
                    enc.push((v as u8 & 127) | 128);
                    v >>= 7;
                }
                enc.push(v as u8);
                let end = (at + 1 + rng.below(4)).min(len);
                bytes.splice(at..end, enc);
            }
            6 if len > 0 => {
                // Splice in a chunk of another seed.
                let other = rng.pick(seeds);
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let to = (from + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(len + 1);
                    bytes.splice(at..at, other[from..to].iter().copied());
                }
            }
            _ if len > 0 => {
                // Delete a small range.
                let from = rng.below(len);
                let to = (from + 1 + rng.below(16)).min(len);
                bytes.drain(from..to);
            }
            _ => {}
        }
    }
    bytes
}

fn element(rng: &mut Rng, dtype: DType) -> Vec<u8> {
    let f = if rng.below(3) == 0 {
        *rng.pick(&EDGE_FLOATS)
    } else {
        (rng.below(2000) as f64 - 1000.0) / 100.0
    };
    let i = if rng.below(2) == 0 {
        *rng.pick(&EDGE_INTS)
    } else {
        rng.below(7) as i64 - 3
    };
    match dtype {
        DType::Float32 => (f as f32).to_le_bytes().to_vec(),
        DType::Float64 => f.to_le_bytes().to_vec(),
        DType::Float16 => (rng.next() as u16).to_le_bytes().to_vec(),
        DType::Int8 | DType::Uint8 | DType::Bool => vec![i as u8],
        DType::Int16 | DType::Uint16 => (i as u16).to_le_bytes().to_vec(),
        DType::Int32 | DType::Uint32 => (i as u32).to_le_bytes().to_vec(),
        DType::Int64 | DType::Uint64 => i.to_le_bytes().to_vec(),
        DType::String => Vec::new(),
    }
}

/// Feeds for the session's inputs: declared dimensions mostly, small odd ones sometimes, a wrong
/// rank or type now and then; at most 4096 elements each.
fn feeds(rng: &mut Rng, session: &Session) -> Vec<(String, HostTensor)> {
    let mut out = Vec::new();
    for input in session.inputs() {
        let mut dims: Vec<usize> = input
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) if rng.below(8) != 0 => *n,
                _ => rng.below(4),
            })
            .collect();
        if rng.below(16) == 0 {
            if rng.below(2) == 0 {
                dims.push(1 + rng.below(3));
            } else {
                dims.pop();
            }
        }
        let dtype = if rng.below(16) == 0 {
            *rng.pick(&DType::ALL)
        } else {
            input.dtype
        };
        let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let Some(count) = count.filter(|&n| n <= 4096) else {
            continue;
        };
        if dtype == DType::String {
            continue;
        }
        let data: Vec<u8> = (0..count).flat_map(|_| element(rng, dtype)).collect();
        if let Ok(t) = HostTensor::new(dtype, dims, data) {
            out.push((input.name.clone(), t));
        }
    }
    out
}

#[derive(Default)]
struct Counts {
    execs: u64,
    loaded: u64,
    ran: u64,
    ran_ok: u64,
    codes: BTreeMap<&'static str, u64>,
}

struct Fuzzer {
    seeds: Vec<Vec<u8>>,
    seed: u64,
    slow: Duration,
    findings: PathBuf,
    /// Panic location and message of the last caught panic (set by the panic hook).
    last_panic: Arc<Mutex<Option<String>>>,
    /// Distinct finding keys already saved.
    seen: BTreeMap<String, u64>,
}

impl Fuzzer {
    fn input(&self, exec: u64) -> (Rng, Vec<u8>) {
        let mut rng = Rng::new(self.seed, exec);
        let base = rng.pick(&self.seeds).clone();
        let bytes = mutate(&mut rng, &self.seeds, base);
        (rng, bytes)
    }

    fn finding(&mut self, kind: &str, detail: &str, exec: u64, bytes: &[u8]) {
        // One file per distinct (kind, site): numbers vary between instances of one bug.
        let key: String = format!("{kind} {detail}")
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(160)
            .collect();
        let count = self.seen.entry(key).or_insert(0);
        *count += 1;
        if *count > 1 {
            return;
        }
        save_finding(&self.findings, kind, self.seed, exec, detail, bytes);
    }

    fn check(
        &mut self,
        counts: &mut Counts,
        what: &str,
        result: Result<(), onnxlet::Error>,
        took: Duration,
        exec: u64,
        bytes: &[u8],
    ) {
        if took > self.slow {
            self.finding("slow", &format!("{what} took {took:.1?}"), exec, bytes);
        }
        if let Err(e) = result {
            *counts.codes.entry(e.code.as_str()).or_insert(0) += 1;
            if e.message.contains("internal error") {
                let site = self.last_panic.lock().unwrap().take().unwrap_or_default();
                self.finding("panic", &format!("{what}: {site}"), exec, bytes);
            }
        }
    }

    fn exec(&mut self, counts: &mut Counts, exec: u64, save_each: Option<&Path>) {
        let (mut rng, bytes) = self.input(exec);
        #[cfg(target_arch = "wasm32")]
        if let Ok(mut current) = CURRENT.lock() {
            *current = (self.seed, exec, bytes.clone());
        }
        if let Some(dir) = save_each {
            let _ = std::fs::write(dir.join(format!("{exec}.onnx")), &bytes);
        }
        counts.execs += 1;
        let started = Instant::now();
        let loaded = Session::load(&bytes, &LoadOptions::default());
        let took = started.elapsed();
        let session = match loaded {
            Ok(s) => {
                self.check(counts, "load", Ok(()), took, exec, &bytes);
                s
            }
            Err(e) => return self.check(counts, "load", Err(e), took, exec, &bytes),
        };
        counts.loaded += 1;
        for _ in 0..2 {
            let feeds = feeds(&mut rng, &session);
            let started = Instant::now();
            let result = session.run(feeds, None).map(|_| ());
            counts.ran += 1;
            counts.ran_ok += result.is_ok() as u64;
            self.check(counts, "run", result, started.elapsed(), exec, &bytes);
        }
    }
}

/// Saves a finding's input as `<kind>-<seed>-<exec>.onnx` in `dir` and appends its line to
/// `findings.txt` there (also printed): by [`Fuzzer::finding`], and by the panic hook on wasm32,
/// where a panic aborts before the fuzzer sees it.
fn save_finding(dir: &Path, kind: &str, seed: u64, exec: u64, detail: &str, bytes: &[u8]) {
    let file = dir.join(format!("{kind}-{seed}-{exec}.onnx"));
    let _ = std::fs::write(&file, bytes);
    let line = format!(
        "{kind}\tseed {seed} exec {exec}\t{}\t{}\n",
        file.display(),
        detail.replace('\n', " ")
    );
    eprint!("finding: {line}");
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("findings.txt"))
    {
        let _ = f.write_all(line.as_bytes());
    }
}

fn seed_models(dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            if bytes.len() < 1 << 20 {
                seeds.push(bytes);
            }
        }
    }
    seeds
}

/// On wasm32, where a panic aborts: the seed, execution and input being run, which the panic hook
/// saves as a finding before the process ends.
#[cfg(target_arch = "wasm32")]
static CURRENT: Mutex<(u64, u64, Vec<u8>)> = Mutex::new((0, 0, Vec::new()));

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seed, mut seconds, mut from, mut to, mut slow_ms) =
        (1u64, 60u64, 0u64, u64::MAX, 2000u64);
    let mut findings = PathBuf::from("target/fuzz");
    let mut save_each: Option<PathBuf> = None;
    let mut dirs = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--seed" => seed = value().parse().unwrap(),
            "--seconds" => seconds = value().parse().unwrap(),
            "--from" => from = value().parse().unwrap(),
            "--to" => to = value().parse().unwrap(),
            "--slow-ms" => slow_ms = value().parse().unwrap(),
            "--findings" => findings = value().into(),
            "--save-each" => save_each = Some(value().into()),
            _ => dirs.push(PathBuf::from(arg)),
        }
    }
    std::fs::create_dir_all(&findings).unwrap();
    let last_panic = Arc::new(Mutex::new(None));
    let hook_slot = last_panic.clone();
    #[cfg(target_arch = "wasm32")]
    let hook_findings = findings.clone();
    panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if std::env::var_os("FUZZ_PANIC_LOG").is_some() {
            eprintln!("panic at {location}: {message}");
        }
        *hook_slot.lock().unwrap() = Some(format!("{location}: {message}"));
        // The process aborts after this hook: the finding is saved here.
        #[cfg(target_arch = "wasm32")]
        if let Ok(current) = CURRENT.lock() {
            let (seed, exec, bytes) = &*current;
            let detail = format!("{location}: {message}");
            save_finding(&hook_findings, "panic", *seed, *exec, &detail, bytes);
        }
    }));
    let mut fuzzer = Fuzzer {
        seeds: seed_models(&dirs),
        seed,
        slow: Duration::from_millis(slow_ms),
        findings,
        last_panic,
        seen: BTreeMap::new(),
    };
    assert!(!fuzzer.seeds.is_empty(), "no seed models in {dirs:?}");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut counts = Counts::default();
    let mut exec = from;
    while exec < to && Instant::now() < deadline {
        if exec % 1000 == 0 {
            // The script restarts after the last checkpoint if the process dies.
            println!("checkpoint {exec}");
        }
        fuzzer.exec(&mut counts, exec, save_each.as_deref());
        exec += 1;
    }
    let codes: Vec<String> = counts
        .codes
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    let distinct: Vec<String> = fuzzer
        .seen
        .iter()
        .map(|(k, v)| format!("{:?}: {v}", k))
        .collect();
    println!(
        "summary {{\"engine\": \"{}\", \"seed\": {seed}, \"from\": {from}, \"next\": {exec}, \"execs\": {}, \"loaded\": {}, \"runs\": {}, \"runsOk\": {}, \"errors\": {{{}}}, \"findings\": {{{}}}}}",
        onnxlet::ENGINE,
        counts.execs,
        counts.loaded,
        counts.ran,
        counts.ran_ok,
        codes.join(", "),
        distinct.join(", ")
    );
}
