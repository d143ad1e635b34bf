//! Model FLOPs utilization: the FLOPs a step's model math needs, over the
//! step's time, against the GPUs' dense peak.
//!
//! The peaks are NVIDIA's published dense figures (no 2:4 structured
//! sparsity), per GPU, in TFLOP/s; `docs/METRICS.md` gives the table and
//! its sources. A GPU not in the table has no peak: set one with
//! `GpuStatsLoggerBuilder::peak_tflops_per_gpu`.

/// The math precision the model trains in, for choosing the peak.
///
/// ```
/// use nvitop::logger::{Precision, peak_tflops};
/// assert_eq!(peak_tflops("NVIDIA A100-SXM4-80GB", Precision::Bf16), Some(312.0));
/// assert_eq!(peak_tflops("NVIDIA A100-SXM4-80GB", Precision::Tf32), Some(156.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// BF16 on the tensor cores (FP32 accumulate): the default.
    #[default]
    Bf16,
    /// FP16 on the tensor cores (FP32 accumulate).
    Fp16,
    /// TF32 on the tensor cores (FP32 matmuls with TF32 allowed).
    Tf32,
    /// Plain FP32 on the CUDA cores.
    Fp32,
}

/// One row of the peak table: (BF16/FP16 tensor, TF32 tensor, FP32), dense TFLOP/s.
struct Peak {
    tensor_16: f64,
    tf32: f64,
    fp32: f64,
}

/// Which table row a driver-reported name is, or `None`.
fn peak_of(name: &str) -> Option<Peak> {
    let name = name.trim().trim_start_matches("NVIDIA ").to_ascii_uppercase();
    let row = |tensor_16, tf32, fp32| Some(Peak { tensor_16, tf32, fp32 });
    // Order matters: "L40S" before "L4", PCIe before the SXM default.
    if name.starts_with("H100") && name.contains("PCIE") {
        row(756.5, 378.0, 51.0)
    } else if (name.starts_with("H100") || name.starts_with("H200")) && !name.contains("NVL") {
        // H100 SXM and H200 SXM: the same GH100 compute, different memory.
        row(989.5, 494.5, 67.0)
    } else if name.starts_with("A100") {
        row(312.0, 156.0, 19.5)
    } else if name.starts_with("L40S") {
        row(362.05, 183.0, 91.6)
    } else if name == "L4" {
        row(121.0, 60.0, 30.3)
    } else if name == "GEFORCE RTX 4090" {
        row(165.2, 82.6, 82.6)
    } else if name.starts_with("B200") {
        // NVIDIA's HGX B200 table (1,000 W): 75 TFLOP/s FP32. The earlier
        // GTC 2024 figures said 80; the product page's table is the newer one.
        row(2250.0, 1100.0, 75.0)
    } else {
        None
    }
}

/// The dense peak of a GPU named `device_name` (as the driver reports it)
/// at `precision`, TFLOP/s; `None` for a GPU not in the table.
///
/// ```
/// use nvitop::logger::{Precision, peak_tflops};
/// assert_eq!(peak_tflops("NVIDIA H100 80GB HBM3", Precision::Bf16), Some(989.5));
/// assert_eq!(peak_tflops("NVIDIA L4", Precision::Fp32), Some(30.3));
/// assert_eq!(peak_tflops("Tesla K80", Precision::Bf16), None);
/// ```
pub fn peak_tflops(device_name: &str, precision: Precision) -> Option<f64> {
    let peak = peak_of(device_name)?;
    Some(match precision {
        Precision::Bf16 | Precision::Fp16 => peak.tensor_16,
        Precision::Tf32 => peak.tf32,
        Precision::Fp32 => peak.fp32,
    })
}

/// Training FLOPs of one token through a decoder-only transformer, as
/// defined in the `PaLM` paper (appendix B): `6 N + 12 L H Q T`, with `N`
/// the non-embedding parameters, `L` layers, `H Q` = `d_model` (heads ×
/// head size) and `T` the sequence length. `6 N` is the forward (2 N) and
/// backward (4 N) matmuls with the weights; `12 L d T` the attention
/// score and value matmuls, forward and backward. Recomputed activations
/// are not counted (that would be hardware FLOPs, not model FLOPs).
///
/// ```
/// use nvitop::logger::transformer_flops_per_token;
/// // GPT-2 small: 85M non-embedding parameters, 12 layers, d_model 768, 1024 tokens.
/// let flops = transformer_flops_per_token(85e6, 12, 768, 1024);
/// assert_eq!(flops, 6.0 * 85e6 + 12.0 * 12.0 * 768.0 * 1024.0);
/// ```
pub fn transformer_flops_per_token(params: f64, layers: u64, d_model: u64, seq_len: u64) -> f64 {
    6.0 * params + 12.0 * layers as f64 * d_model as f64 * seq_len as f64
}

/// [`transformer_flops_per_token`] times the tokens of one step (batch size
/// × sequence length, summed over the data-parallel ranks this logger's GPUs
/// run): the value for `GpuStatsLoggerBuilder::model_flops_per_step`.
///
/// ```
/// use nvitop::logger::{transformer_flops_per_step, transformer_flops_per_token};
/// let per_step = transformer_flops_per_step(85e6, 12, 768, 1024, 8 * 1024);
/// assert_eq!(per_step, transformer_flops_per_token(85e6, 12, 768, 1024) * 8.0 * 1024.0);
/// ```
pub fn transformer_flops_per_step(params: f64, layers: u64, d_model: u64, seq_len: u64, tokens_per_step: u64) -> f64 {
    transformer_flops_per_token(params, layers, d_model, seq_len) * tokens_per_step as f64
}

/// Throughput, TFLOP/s, and MFU, percent, of a step of `flops` that took
/// `seconds` on GPUs whose peaks add up to `peak_tflops`.
pub(crate) fn mfu(flops: f64, seconds: f64, peak_tflops: Option<f64>) -> (Option<f64>, Option<f64>) {
    if !(seconds > 0.0 && flops.is_finite() && flops >= 0.0) {
        return (None, None);
    }
    let tflops = flops / seconds / 1e12;
    let percent = peak_tflops.filter(|p| *p > 0.0).map(|p| tflops / p * 100.0);
    (Some(tflops), percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_flops_and_step_time_give_the_expected_percentage() {
        // 494.75 TFLOP in 1 s on one H100 SXM at BF16 (989.5 peak): 50 %.
        let (tflops, percent) = mfu(494.75e12, 1.0, peak_tflops("NVIDIA H100 80GB HBM3", Precision::Bf16));
        assert_eq!(tflops, Some(494.75));
        assert!((percent.unwrap_or(0.0) - 50.0).abs() < 1e-9, "{percent:?}");
        // 312 TFLOP in 0.5 s on two A100s (2 × 312): 100 %.
        let (_, percent) = mfu(312e12, 0.5, Some(2.0 * 312.0));
        assert!((percent.unwrap_or(0.0) - 100.0).abs() < 1e-9);
        assert_eq!(mfu(1e12, 0.0, Some(1.0)), (None, None));
        assert_eq!(mfu(1e12, 1.0, None), (Some(1.0), None));
    }

    #[test]
    fn every_simulated_model_and_every_listed_gpu_has_a_peak() {
        for model in crate::backend::sim::models::GpuModel::ALL {
            let name = model.spec().name;
            for precision in [Precision::Bf16, Precision::Fp16, Precision::Tf32, Precision::Fp32] {
                assert!(peak_tflops(name, precision).is_some(), "{name} {precision:?}");
            }
        }
        for name in [
            "NVIDIA H100 80GB HBM3",
            "NVIDIA H100 PCIe",
            "NVIDIA H200",
            "NVIDIA A100-SXM4-40GB",
            "NVIDIA A100 80GB PCIe",
            "NVIDIA L40S",
            "NVIDIA L4",
            "NVIDIA GeForce RTX 4090",
            "NVIDIA B200",
        ] {
            assert!(peak_tflops(name, Precision::Bf16).is_some(), "{name}");
        }
        assert_eq!(peak_tflops("NVIDIA L40S", Precision::Bf16), Some(362.05));
        assert_eq!(peak_tflops("NVIDIA H100 PCIe", Precision::Bf16), Some(756.5));
        assert_eq!(peak_tflops("NVIDIA H100 NVL", Precision::Bf16), None);
    }

    /// Each row as docs/METRICS.md prints it (dense BF16, TF32, FP32), so the
    /// table in the docs and the one in the code cannot drift apart.
    #[test]
    fn the_table_matches_the_documented_rows() {
        let rows: [(&str, [f64; 3]); 8] = [
            ("NVIDIA H100 80GB HBM3", [989.5, 494.5, 67.0]),
            ("NVIDIA H100 PCIe", [756.5, 378.0, 51.0]),
            ("NVIDIA H200", [989.5, 494.5, 67.0]),
            ("NVIDIA A100-SXM4-80GB", [312.0, 156.0, 19.5]),
            ("NVIDIA L40S", [362.05, 183.0, 91.6]),
            ("NVIDIA L4", [121.0, 60.0, 30.3]),
            ("NVIDIA GeForce RTX 4090", [165.2, 82.6, 82.6]),
            ("NVIDIA B200", [2250.0, 1100.0, 75.0]),
        ];
        let docs = include_str!("../../../docs/METRICS.md");
        for (name, [bf16, tf32, fp32]) in rows {
            assert_eq!(peak_tflops(name, Precision::Bf16), Some(bf16), "{name}");
            assert_eq!(peak_tflops(name, Precision::Fp16), Some(bf16), "{name}");
            assert_eq!(peak_tflops(name, Precision::Tf32), Some(tf32), "{name}");
            assert_eq!(peak_tflops(name, Precision::Fp32), Some(fp32), "{name}");
            let cell = |v: f64| {
                let whole = v.trunc() as u64;
                let frac = format!("{v}")
                    .split_once('.')
                    .map(|(_, f)| format!(".{f}"))
                    .unwrap_or_default();
                let grouped = if whole >= 1000 {
                    format!("{},{:03}", whole / 1000, whole % 1000)
                } else {
                    whole.to_string()
                };
                format!("{grouped}{frac}")
            };
            let printed = format!("| {} | {} | {} |", cell(bf16), cell(tf32), cell(fp32));
            assert!(
                docs.contains(&printed),
                "docs/METRICS.md lacks the row {printed} for {name}"
            );
        }
    }
}
