//! The CPU path's convolutions, SPPF's pools, the attention's softmax and the box decoding:
//! burn's CPU backend (flex) runs every other op, and the convolutions (90 % of the network's
//! arithmetic) run here, fused with their bias, SiLU and residual add, on weights packed once
//! at load time.
//!
//! - [`gemm`]: the register tile (output channels × output pixels) that does the arithmetic,
//!   and the fixed-length copy the drivers move its rows with.
//! - [`act`]: the epilogue: bias, SiLU with a vectorisable `exp`, residual.
//! - [`conv`]: [`PackedConv`], weights packed into tile panels and the driver that packs the
//!   input (im2col, a cache-sized block at a time) and walks the tiles.
//! - [`winograd`]: 3×3 stride-1 convolutions by Winograd F(4×4, 3×3), on the same tile.
//! - [`depthwise`]: depthwise 3×3 convolutions (YOLO11/26), with their bias and SiLU.
//! - [`csp`]: ultralytics' `C2f` and `C3k2` blocks (bottleneck or `C3k` inside), their pieces
//!   written into one buffer (no split or cat).
//! - [`pool`]: SPPF's three 5×5 max pools and their concatenation, separable, in one output.
//! - [`decode`]: the head's box decoding (DFL, boxes, sigmoids), vectorised.
//! - [`softmax`]: the attention's softmax over rows, vectorised.
//! - [`parallel`]: a few pieces of each output per thread (rayon natively and in the threaded
//!   wasm; one piece in the single-threaded wasm).
//! - [`flex`]: the bridge between burn tensors on the flex backend and these slices.
//!
//! Everything here is safe Rust written so that LLVM vectorises it: 128-bit SIMD on wasm
//! (`simd128`), SSE/AVX natively.

pub mod act;
pub mod conv;
pub mod csp;
pub mod decode;
pub mod depthwise;
pub mod flex;
pub mod gemm;
pub mod parallel;
pub mod pool;
pub mod softmax;
pub mod winograd;

pub use act::Activation;
pub use conv::{Method, PackedConv};
pub use csp::C2fConvs;
pub use depthwise::DepthwiseConv;
