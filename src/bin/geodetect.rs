//! `geodetect`: native tools.
//!
//! ```text
//! geodetect convert --manifest models/manifest.json --checkpoints .cache/models --out www/models [--update]
//! geodetect convert --pt my.pt --out my.safetensors [--id my-model] [--classes a,b,c] [--license MIT]
//! geodetect detect --tiles www/tiles/marina --aoi tests/data/aoi/marina.geojson --zoom 19 \
//!                  --models www/models --model yolov8n-obb-dota [--confidence 0.25] [--iou 0.45] [--out result.json]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use geodetect::api::DetectOptions;
use geodetect::detect::{Compute, Engine};
use geodetect::geojson::Aoi;
use geodetect::model::convert::convert_checkpoint;
use geodetect::model::manifest::{Architecture, ModelSource, WeightsFile};
use geodetect::model::{Manifest, ModelEntry, YoloConfig, sha256_hex};
use geodetect::native::{DirTiles, NativeHooks};
use geodetect::pipeline::detect_area;
use geodetect::tiles::TileSource;

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage:
  geodetect convert --manifest FILE --checkpoints DIR --out DIR [--update]
      Convert every manifest entry's checkpoint (DIR/<id>.pt) to safetensors in --out, check
      each result against the manifest's sha256/size (--update rewrites them instead), and
      copy the manifest next to the weights.
  geodetect convert --pt FILE --out FILE [--id ID] [--classes a,b,...] [--license SPDX]
      Convert your own ultralytics YOLOv8 checkpoint; prints a manifest entry to add.
  geodetect detect --tiles DIR --aoi FILE --zoom Z --models DIR --model ID
                   [--confidence C] [--iou I] [--max-detections N] [--tile-size 256] [--out FILE] [-v]
      Run the browser pipeline natively on {z}/{x}/{y}.png tiles; prints JSON
      { detections, image, timings, missingTiles, backend }.";

fn main() -> ExitCode {
    let mut args = pico_args::Arguments::from_env();
    let result = match args.subcommand().ok().flatten().as_deref() {
        Some("convert") => convert(args),
        Some("detect") => detect(args),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("geodetect: {e}");
            ExitCode::FAILURE
        }
    }
}

fn finish(args: pico_args::Arguments) -> CliResult {
    let rest = args.finish();
    if rest.is_empty() { Ok(()) } else { Err(format!("unexpected arguments {rest:?}\n{USAGE}").into()) }
}

fn write(path: &Path, bytes: &[u8]) -> CliResult {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn convert(mut args: pico_args::Arguments) -> CliResult {
    let out: PathBuf = args.value_from_str("--out")?;
    if let Some(pt) = args.opt_value_from_str::<_, PathBuf>("--pt")? {
        let id: Option<String> = args.opt_value_from_str("--id")?;
        let classes: Option<String> = args.opt_value_from_str("--classes")?;
        let license: Option<String> = args.opt_value_from_str("--license")?;
        finish(args)?;
        return convert_one(&pt, &out, id, classes, license);
    }
    let manifest_path: PathBuf = args.value_from_str("--manifest")?;
    let checkpoints: PathBuf = args.value_from_str("--checkpoints")?;
    let update = args.contains("--update");
    finish(args)?;

    let mut manifest = Manifest::from_json(&std::fs::read_to_string(&manifest_path)?)?;
    for entry in &mut manifest.models {
        let pt = checkpoints.join(format!("{}.pt", entry.id));
        let pt_bytes = std::fs::read(&pt).map_err(|e| format!("{}: {e} (run models/fetch.sh first)", pt.display()))?;
        if sha256_hex(&pt_bytes) != entry.source.sha256 {
            return Err(format!(
                "{}: sha256 {} differs from the manifest's source.sha256",
                pt.display(),
                sha256_hex(&pt_bytes)
            )
            .into());
        }
        let converted = convert_checkpoint(&pt, header(entry))?;
        // `postprocess` is a choice of the manifest's, not something a checkpoint has.
        let want = YoloConfig { postprocess: Default::default(), ..entry.config() };
        if converted.config != want {
            return Err(format!(
                "{}: the checkpoint is {:?}, the manifest says {:?}",
                entry.id, converted.config, want
            )
            .into());
        }
        if let Some(names) = converted.classes.as_ref().filter(|names| **names != entry.classes) {
            return Err(format!(
                "{}: the checkpoint's class names are {names:?}, the manifest's {:?}",
                entry.id, entry.classes
            )
            .into());
        }
        let (sha, size) = (sha256_hex(&converted.bytes), converted.bytes.len() as u64);
        if update {
            entry.weights.sha256 = sha;
            entry.weights.size = size;
        } else if entry.weights.sha256 != sha || entry.weights.size != size {
            return Err(format!(
                "{}: converted weights are sha256 {sha} ({size} bytes) but the manifest pins {} ({} bytes); \
                 the converter or the checkpoint changed. Rerun with --update if that is intended.",
                entry.id, entry.weights.sha256, entry.weights.size
            )
            .into());
        }
        write(&out.join(&entry.weights.file), &converted.bytes)?;
        eprintln!("{}: {} tensors, {size} bytes, sha256 {}", entry.id, converted.tensors, entry.weights.sha256);
    }
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    if update {
        write(&manifest_path, text.as_bytes())?;
    }
    write(&out.join("manifest.json"), text.as_bytes())
}

/// Provenance stored in the safetensors header.
fn header(entry: &ModelEntry) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("format".into(), "geodetect-yolo/1 (ultralytics state_dict names)".into()),
        ("model".into(), entry.id.clone()),
        ("license".into(), entry.license.clone()),
        ("source".into(), format!("{} {}", entry.source.package, entry.source.path)),
    ])
}

fn convert_one(
    pt: &Path,
    out: &Path,
    id: Option<String>,
    classes: Option<String>,
    license: Option<String>,
) -> CliResult {
    let pt_bytes = std::fs::read(pt).map_err(|e| format!("{}: {e}", pt.display()))?;
    let id = id.unwrap_or_else(|| out.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned()));
    let license = license.unwrap_or_else(|| "NOASSERTION".into());
    let converted =
        convert_checkpoint(pt, BTreeMap::from([("model".into(), id.clone()), ("license".into(), license.clone())]))?;
    let config = &converted.config;
    let classes: Vec<String> = match classes {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => {
            converted.classes.clone().unwrap_or_else(|| (0..config.num_classes).map(|i| format!("class{i}")).collect())
        }
    };
    if classes.len() != config.num_classes {
        return Err(
            format!("--classes names {} classes, the checkpoint has {}", classes.len(), config.num_classes).into()
        );
    }
    write(out, &converted.bytes)?;
    let entry = ModelEntry {
        id: id.clone(),
        name: id,
        task: config.task,
        architecture: Architecture::of(config),
        input_size: converted.train_imgsz.unwrap_or(640),
        classes,
        weights: WeightsFile {
            file: out.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
            sha256: sha256_hex(&converted.bytes),
            size: converted.bytes.len() as u64,
        },
        license,
        source: ModelSource {
            package: "local".into(),
            path: pt.display().to_string(),
            sha256: sha256_hex(&pt_bytes),
            upstream: "user-supplied ultralytics checkpoint".into(),
        },
        ground_resolution_m: None,
        postprocess: Default::default(),
    };
    entry.validate()?;
    println!("{}", serde_json::to_string_pretty(&entry)?);
    Ok(())
}

fn detect(mut args: pico_args::Arguments) -> CliResult {
    let tiles: PathBuf = args.value_from_str("--tiles")?;
    let aoi_path: PathBuf = args.value_from_str("--aoi")?;
    let zoom: i64 = args.value_from_str("--zoom")?;
    let models: PathBuf = args.value_from_str("--models")?;
    let model: String = args.value_from_str("--model")?;
    let mut options = DetectOptions::at_zoom(zoom);
    options.confidence = args.opt_value_from_str("--confidence")?.unwrap_or(options.confidence);
    options.iou = args.opt_value_from_str("--iou")?.unwrap_or(options.iou);
    options.max_detections = args.opt_value_from_str("--max-detections")?.unwrap_or(options.max_detections);
    options.max_tiles = args.opt_value_from_str("--max-tiles")?.unwrap_or(options.max_tiles);
    let tile_size: u32 = args.opt_value_from_str("--tile-size")?.unwrap_or(256);
    let out: Option<PathBuf> = args.opt_value_from_str("--out")?;
    let verbose = args.contains("-v");
    finish(args)?;

    let manifest = Manifest::from_json(&std::fs::read_to_string(models.join("manifest.json"))?)?;
    let entry = manifest.get(&model)?.clone();
    let weights = entry.verify(std::fs::read(models.join(&entry.weights.file))?)?;
    let engine = Engine::load(entry, &weights, Compute::cpu())?;
    let aoi = Aoi::from_json(&serde_json::from_str(&std::fs::read_to_string(&aoi_path)?)?)?;
    let source: TileSource = serde_json::from_value(serde_json::json!({
        "url": format!("file://{}/{{z}}/{{x}}/{{y}}.png", tiles.display()),
        "tileSize": tile_size,
    }))?;
    source.validate()?;
    let hooks = NativeHooks::new(verbose);
    let result =
        futures::executor::block_on(detect_area(&engine, &source, &DirTiles::new(tiles), &aoi, &options, &hooks))?;
    let text = serde_json::to_string_pretty(&result)? + "\n";
    match out {
        Some(path) => write(&path, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
