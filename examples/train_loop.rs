//! A plain Rust training loop (no framework) with GPU statistics in
//! TensorBoard and CSV.
//!
//! A two-layer perceptron learns a noisy sine on synthetic data, with
//! hand-written backpropagation; `GpuStatsLogger` hooks wrap every batch and
//! epoch. Run it anywhere with the simulator:
//!
//! ```text
//! NVITOP_SIMULATE=1 cargo run --example train_loop -- --name demo --epochs 3
//! tensorboard --logdir runs
//! ```
//!
//! Options: `--name NAME` (run folder `runs/NAME`, default a timestamped
//! name), `--logdir DIR` (parent folder, default `$NVITOP_LOGDIR` or `runs`),
//! `--epochs N`, `--steps N` (batches per epoch), `--step-ms MS` (extra
//! sleep per step, to stand in for GPU work), `--gpus 0,1`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use nvitop::GpuStatsLogger;
use nvitop::sink::{default_log_parent, default_run_dir};

struct Args {
    run_dir: PathBuf,
    epochs: u64,
    steps: u64,
    step_ms: u64,
    gpus: Vec<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut name = None;
    let mut logdir = default_log_parent();
    let (mut epochs, mut steps, mut step_ms, mut gpus) = (3, 50, 2, vec![0]);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: '{v}' is not a number"));
        match flag.as_str() {
            "--name" => name = Some(value()?),
            "--logdir" => logdir = PathBuf::from(value()?),
            "--epochs" => epochs = number(value()?)?,
            "--steps" => steps = number(value()?)?,
            "--step-ms" => step_ms = number(value()?)?,
            "--gpus" => {
                gpus = value()?
                    .split(',')
                    .map(|g| {
                        g.trim()
                            .parse::<u32>()
                            .map_err(|_| format!("--gpus: '{g}' is not a GPU index"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => {
                return Err(format!(
                    "unknown option '{other}' (see the comment at the top of train_loop.rs)"
                ));
            }
        }
    }
    let run_dir = name.map_or_else(|| default_run_dir(&logdir), |n| logdir.join(n));
    Ok(Args {
        run_dir,
        epochs,
        steps,
        step_ms,
        gpus,
    })
}

/// y = sin(x) + noise, from a small deterministic generator.
struct Data {
    state: u64,
}

impl Data {
    fn next(&mut self) -> f64 {
        // xorshift64*: reproducible without a dependency.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn batch(&mut self, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|_| {
                let x = self.next() * 6.0 - 3.0;
                (x, x.sin() + (self.next() - 0.5) * 0.1)
            })
            .collect()
    }
}

/// One hidden layer of tanh units.
struct Mlp {
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: f64,
}

impl Mlp {
    fn new(hidden: usize, data: &mut Data) -> Self {
        Self {
            w1: (0..hidden).map(|_| data.next() * 2.0 - 1.0).collect(),
            b1: (0..hidden).map(|_| data.next() - 0.5).collect(),
            w2: (0..hidden).map(|_| (data.next() - 0.5) * 0.5).collect(),
            b2: 0.0,
        }
    }

    /// One SGD step on a batch; returns the mean squared error before the step.
    fn train_step(&mut self, batch: &[(f64, f64)], lr: f64) -> f64 {
        let n = batch.len() as f64;
        let hidden = self.w1.len();
        let (mut g_w1, mut g_b1, mut g_w2, mut g_b2) = (vec![0.0; hidden], vec![0.0; hidden], vec![0.0; hidden], 0.0);
        let mut loss = 0.0;
        for &(x, y) in batch {
            let h: Vec<f64> = (0..hidden).map(|j| (self.w1[j] * x + self.b1[j]).tanh()).collect();
            let out: f64 = self.b2 + h.iter().zip(&self.w2).map(|(h, w)| h * w).sum::<f64>();
            let err = out - y;
            loss += err * err / n;
            let d_out = 2.0 * err / n;
            g_b2 += d_out;
            for j in 0..hidden {
                g_w2[j] += d_out * h[j];
                let d_h = d_out * self.w2[j] * (1.0 - h[j] * h[j]);
                g_w1[j] += d_h * x;
                g_b1[j] += d_h;
            }
        }
        for j in 0..hidden {
            self.w1[j] -= lr * g_w1[j];
            self.b1[j] -= lr * g_b1[j];
            self.w2[j] -= lr * g_w2[j];
        }
        self.b2 -= lr * g_b2;
        loss
    }
}

/// Prints one progress line. A reader that went away (`| head`) is not a
/// reason to stop training, whose results go to the run directory: the
/// line is dropped instead of `println!`'s panic on the closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> nvitop::Result<()> {
    let logger = GpuStatsLogger::builder(&args.gpus)
        .tensorboard(&args.run_dir)
        .csv(args.run_dir.join("gpu_stats.csv"))
        .interval(Duration::from_millis(100))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .power(true)
        .process_memory(true)
        .process_host(true)
        .epoch_time(true)
        .build()?;
    say!(
        "Logging GPU statistics of GPU(s) {:?} to {}",
        args.gpus,
        args.run_dir.display()
    );
    say!(
        "View them with:  tensorboard --logdir {}",
        args.run_dir.parent().unwrap_or(&args.run_dir).display()
    );

    let mut data = Data {
        state: 0x9e37_79b9_7f4a_7c15,
    };
    let mut model = Mlp::new(32, &mut data);
    let mut global_step = 0;
    logger.on_train_start();
    for epoch in 0..args.epochs {
        logger.on_train_epoch_start(epoch);
        let mut epoch_loss = 0.0;
        for _ in 0..args.steps {
            let _step = logger.step(global_step);
            let batch = data.batch(64);
            epoch_loss += model.train_step(&batch, 0.05);
            std::thread::sleep(Duration::from_millis(args.step_ms));
            global_step += 1;
        }
        logger.on_train_epoch_end(epoch);
        logger.on_validation_start();
        let validation = data.batch(256);
        let mse: f64 = validation
            .iter()
            .map(|&(x, y)| {
                let h = model.w1.iter().zip(&model.b1).map(|(w, b)| (w * x + b).tanh());
                let out = model.b2 + h.zip(&model.w2).map(|(h, w)| h * w).sum::<f64>();
                (out - y).powi(2)
            })
            .sum::<f64>()
            / validation.len() as f64;
        logger.on_validation_end();
        say!(
            "epoch {epoch}: train loss {:.4}, validation mse {mse:.4}",
            epoch_loss / args.steps as f64
        );
    }
    logger.on_train_end();
    let report = logger.close();
    say!("GPU stats: {report}");
    Ok(())
}
