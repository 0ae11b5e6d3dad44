//! The CPU path's fused convolution on every convolution shape of YOLOv8n at a 1024×1024
//! input, with the method it picks and with im2col, against burn's own `conv2d` + `silu` on
//! the same backend: milliseconds (median of runs), GFLOP/s (direct-convolution FLOPs) per
//! layer, and the totals; then the whole network. Single thread for ours; burn's uses rayon
//! natively, so compare them with `RAYON_NUM_THREADS=1`.
//!
//! `cargo bench --profile dev --bench conv [-- 640]` (the dev profile already builds every
//! dependency at opt-level 3; the release profile's fat LTO adds half an hour).

#![allow(clippy::unwrap_used)] // a benchmark with fixed, valid shapes

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use geodetect::model::cpu::{Activation, Method, PackedConv};
use geodetect::model::{Family, Scale, Task, Yolo, YoloConfig};

/// `(cin, cout, kernel, stride, input side at 1024, times it occurs)`: every convolution of
/// YOLOv8n-OBB (15 classes), backbone, neck and the three head levels.
const LAYERS: [(usize, usize, usize, usize, usize, usize); 39] = [
    (3, 16, 3, 2, 1024, 1),
    (16, 32, 3, 2, 512, 1),
    (32, 32, 1, 1, 256, 1),
    (16, 16, 3, 1, 256, 2),
    (48, 32, 1, 1, 256, 1),
    (32, 64, 3, 2, 256, 1),
    (64, 64, 1, 1, 128, 2),
    (32, 32, 3, 1, 128, 6),
    (128, 64, 1, 1, 128, 1),
    (64, 128, 3, 2, 128, 1),
    (128, 128, 1, 1, 64, 1),
    (64, 64, 3, 1, 64, 10),
    (256, 128, 1, 1, 64, 1),
    (128, 256, 3, 2, 64, 1),
    (256, 256, 1, 1, 32, 1),
    (128, 128, 3, 1, 32, 4),
    (384, 256, 1, 1, 32, 3),
    (256, 128, 1, 1, 32, 1),
    (512, 256, 1, 1, 32, 1),
    (384, 128, 1, 1, 64, 1),
    (192, 128, 1, 1, 64, 3),
    (192, 64, 1, 1, 128, 1),
    (96, 64, 1, 1, 128, 1),
    (64, 64, 3, 2, 128, 1),
    (128, 128, 3, 2, 64, 1),
    (64, 64, 3, 1, 128, 4),
    (64, 16, 3, 1, 128, 1),
    (16, 16, 3, 1, 128, 1),
    (64, 15, 1, 1, 128, 1),
    (16, 1, 1, 1, 128, 1),
    (128, 64, 3, 1, 64, 2),
    (128, 16, 3, 1, 64, 1),
    (16, 16, 3, 1, 64, 1),
    (64, 64, 1, 1, 64, 1),
    (64, 15, 1, 1, 64, 1),
    (16, 1, 1, 1, 64, 1),
    (256, 64, 3, 1, 32, 2),
    (64, 64, 3, 1, 32, 2),
    (256, 16, 3, 1, 32, 1),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn main() {
    let side: usize = std::env::args().filter_map(|a| a.parse().ok()).next().unwrap_or(1024);
    let device = Device::flex();
    let (mut ours_total, mut burn_total, mut flops_total) = (0.0, 0.0, 0.0);
    println!("| layer | method | ms ours | ms im2col | ms burn | GFLOP/s ours | GFLOP/s burn | × uses |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (cin, cout, k, stride, at1024, uses) in LAYERS {
        let hw = at1024 * side / 1024;
        let weight: Vec<f32> = (0..cout * cin * k * k).map(|i| ((i * 37) % 101) as f32 / 101.0 - 0.5).collect();
        let bias: Vec<f32> = (0..cout).map(|i| i as f32 / cout as f32).collect();
        let x: Vec<f32> = (0..cin * hw * hw).map(|i| ((i * 53) % 97) as f32 / 97.0).collect();
        let packed = PackedConv::new(&weight, &bias, [cout, cin, k, k], stride, Activation::Silu).unwrap();
        let [ho, wo] = packed.output_hw(hw, hw).unwrap();
        let flops = 2.0 * (cout * cin * k * k * ho * wo) as f64;
        let runs = (2e9 / flops).clamp(3.0, 50.0) as usize;
        let ours = time(runs, || {
            std::hint::black_box(packed.run(&x, 1, hw, hw, None).unwrap());
        });
        let im2col = if packed.method() == Method::Im2col {
            ours
        } else {
            let plain =
                PackedConv::with_method(&weight, &bias, [cout, cin, k, k], stride, Activation::Silu, Method::Im2col)
                    .unwrap();
            time(runs, || {
                std::hint::black_box(plain.run(&x, 1, hw, hw, None).unwrap());
            })
        };
        let wt = Tensor::<4>::from_data(TensorData::new(weight, [cout, cin, k, k]), &device);
        let bt = Tensor::<1>::from_data(TensorData::new(bias, [cout]), &device);
        let xt = Tensor::<4>::from_data(TensorData::new(x, [1, cin, hw, hw]), &device);
        let options = ConvOptions::new([stride, stride], [k / 2, k / 2], [1, 1], 1);
        let burn = time(runs, || {
            let y = silu(conv2d(xt.clone(), wt.clone(), Some(bt.clone()), options.clone()));
            std::hint::black_box(y.into_data());
        });
        println!(
            "| {cin}→{cout} {k}×{k}/{stride} @{hw} | {:?} | {ours:.2} | {im2col:.2} | {burn:.2} | {:.1} | {:.1} | {uses} |",
            packed.method(),
            flops / ours / 1e6,
            flops / burn / 1e6
        );
        ours_total += ours * uses as f64;
        burn_total += burn * uses as f64;
        flops_total += flops * uses as f64;
    }
    println!(
        "\ntotal at {side}: ours {ours_total:.1} ms ({:.1} GFLOP/s), burn {burn_total:.1} ms ({:.1} GFLOP/s)",
        flops_total / ours_total / 1e6,
        flops_total / burn_total / 1e6
    );

    // The whole network (weights are arbitrary: the time does not depend on them).
    let config = YoloConfig::standard(Family::Yolov8, Scale::N, Task::Obb, 15);
    let net = Yolo::build(&config, &device, &mut |name, shape| {
        let n: usize = shape.iter().product();
        Ok(if name.ends_with("dfl.conv.weight") {
            (0..n).map(|i| i as f32).collect()
        } else if name.ends_with("running_var") {
            vec![1.0; n]
        } else {
            (0..n).map(|i| ((i * 31) % 17) as f32 / 170.0 - 0.05).collect()
        })
    })
    .unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new((0..3 * side * side).map(|i| (i % 255) as f32 / 255.0).collect::<Vec<_>>(), [1, 3, side, side]),
        &device,
    );
    let forward = time(5, || {
        std::hint::black_box(net.forward(x.clone()).unwrap().into_data());
    });
    println!("whole network forward at {side}: {forward:.1} ms");
}
