//! The mapping through the environment: `CUDA_VISIBLE_DEVICES` set for the
//! process, the default backend (the simulator here), and the functions
//! that read both (`cuda_device`, `cuda_devices`, `logger_builder_for`,
//! `visible_devices`).
//!
//! The only test of this binary: it sets the environment before any other
//! thread of the process reads it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unsafe_code)]

use std::sync::Arc;

use nvitop::backend::sim::SimBackend;
use nvitop::sink::MemorySink;
use tch::Device::{Cpu, Cuda};

#[test]
fn tch_devices_follow_cuda_visible_devices() {
    // SAFETY: the only test in this binary, run before anything else here
    // starts a thread or reads the environment.
    unsafe { std::env::set_var(nvitop::device::CUDA_VISIBLE_DEVICES, "3,0") };
    nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();

    // cuda:0 is physical GPU 3, cuda:1 is physical GPU 0.
    let cuda0 = nvitop_tch::cuda_device(Cuda(0)).unwrap().unwrap();
    assert_eq!((cuda0.cuda_index(), cuda0.index()), (0, 3));
    assert!(nvitop_tch::cuda_device(Cpu).unwrap().is_none());
    let found = nvitop_tch::cuda_devices(&[Cuda(1), Cpu, Cuda(0), Cuda(1)]).unwrap();
    let pairs: Vec<_> = found.iter().map(|d| (d.cuda_index(), d.index())).collect();
    assert_eq!(pairs, [(1, 0), (0, 3)]);
    assert_eq!(nvitop_tch::tch_device(&found[0]), Cuda(1));
    // Two devices are visible: cuda:2 does not exist.
    assert!(matches!(
        nvitop_tch::cuda_device(Cuda(2)),
        Err(nvitop_tch::Error::Nvitop(nvitop::Error::InvalidCudaIndex {
            index: 2,
            count: 2,
            ..
        }))
    ));

    // The logger's keys name the CUDA ordinal and, where it differs, the
    // physical GPU, as nvitop does.
    let logger = nvitop_tch::logger_builder_for(&[Cpu, Cuda(1)])
        .sink(Box::new(MemorySink::new()))
        .build()
        .unwrap();
    let keys = logger.keys();
    assert!(
        keys.iter()
            .any(|k| k == "gpu_id: 1 (physical index: 0)/utilization.gpu (%)"),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains("physical index: 3")), "{keys:?}");
    logger.close();

    // libtorch sees no CUDA device on a CPU-only machine (with a CPU-only
    // libtorch): nothing to pair. On a GPU machine, what it sees is paired
    // with the visible devices in order.
    let count = usize::try_from(tch::Cuda::device_count()).unwrap();
    match nvitop_tch::visible_devices() {
        Ok(pairs) => {
            assert_eq!(pairs.len(), count);
            if let Some((device, nvitop)) = pairs.first() {
                assert_eq!((*device, nvitop.index()), (Cuda(0), 3));
            }
        }
        Err(nvitop_tch::Error::DeviceCountMismatch { tch, nvitop }) => assert_eq!((tch, nvitop), (count, 2)),
        Err(err) => panic!("{err}"),
    }
}
