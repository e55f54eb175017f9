//! Firmware flash, RAM and the buoy's measured stack against the budgets, compared with
//! the committed `firmware/size-report.txt` so growth shows in review.

use std::path::Path;

use anyhow::{Context, bail};

use crate::process::{root, run, write_or_check};
use crate::qemu::qemu_buoy;

const FLASH_BUDGET: u64 = 256 * 1024;
pub const RAM_BUDGET: u64 = 64 * 1024;

/// Flash and RAM of one firmware ELF, from its allocated sections (cortex-m-rt layout:
/// `.vector_table .text .rodata .data` in flash, `.data .bss .uninit` in RAM; the stack
/// takes the rest of RAM).
fn elf_size(path: &Path) -> anyhow::Result<(u64, u64)> {
    use object::{Object, ObjectSection};
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let elf = object::File::parse(&*bytes).context("not an ELF file")?;
    let (mut flash, mut ram) = (0, 0);
    for s in elf.sections() {
        match s.name().unwrap_or("") {
            ".vector_table" | ".text" | ".rodata" | ".gnu.sgstubs" => flash += s.size(),
            ".data" => {
                flash += s.size();
                ram += s.size();
            }
            ".bss" | ".uninit" => ram += s.size(),
            _ => {}
        }
    }
    Ok((flash, ram))
}

/// A firmware build: binary, cargo features, label, and the flash and RAM it must fit.
type Build<'a> = (&'a str, &'a [&'a str], &'a str, (u64, u64));

/// The firmware size report: every binary's flash and RAM against the budgets.
fn size_report() -> anyhow::Result<String> {
    let fw = root().join("firmware");
    // The header is compared with the committed report line for line.
    let mut report = String::from(
        "# cargo xtask size: firmware flash and RAM (static; the stack takes the rest of RAM), and the buoy's measured stack\n# budgets (docs/architecture.md, \"Budgets\"): flash 262144 B, RAM 65536 B\n",
    );
    // (binary, cargo features, label, flash and RAM it must fit: the design's budget, or
    // a board's part for the board builds)
    let budget = (FLASH_BUDGET, RAM_BUDGET);
    let f411 = (512 * 1024, 128 * 1024);
    let f405 = (1024 * 1024, 128 * 1024);
    #[rustfmt::skip]
    let builds: [Build<'_>; 10] = [
        ("buoy", &[], "buoy (full pipeline, default cINN f32, no recording)", budget),
        ("buoy", &["--features", "refine,int8-model"],
         "buoy with exact-likelihood refinement and the int8 model (refine,int8-model; the f32 model does not fit with it)", budget),
        ("buoy_stm32f4", &["--features", "board-stm32f411"],
         "buoy_stm32f4 for the STM32F411 (board-stm32f411; of its 512 KiB / 128 KiB)", f411),
        ("buoy_stm32f4", &["--features", "board-stm32f411,refine"],
         "buoy_stm32f4 for the STM32F411 with refinement, f32 model (board-stm32f411,refine; of its 512 KiB / 128 KiB)", f411),
        ("buoy_stm32f4", &["--features", "board-stm32f405"],
         "buoy_stm32f4 for the STM32F405 (board-stm32f405; of its 1 MiB / 128 KiB)", f405),
        ("buoy_stm32f4", &["--features", "board-stm32f405,refine"],
         "buoy_stm32f4 for the STM32F405 with refinement, f32 model (board-stm32f405,refine; of its 1 MiB / 128 KiB)", f405),
        ("selftest", &[], "selftest", budget),
        ("forward_cost", &[], "forward_cost", budget),
        ("sample_cost", &[], "sample_cost (default cINN, f32 weights)", budget),
        ("sample_cost", &["--features", "int8-model"], "sample_cost (default cINN, int8 weights)", budget),
    ];
    for (bin, features, label, (flash_max, ram_max)) in builds {
        let mut args = vec!["build", "--quiet", "--release", "--bin", bin];
        args.extend_from_slice(features);
        run(&fw, "cargo", &args)?;
        let (flash, ram) = elf_size(&fw.join("target/thumbv7em-none-eabihf/release").join(bin))?;
        if flash == 0 {
            bail!("{label}: no flash sections found in the ELF");
        }
        report.push_str(&format!(
            "{label}: flash {flash} B ({:.1} %), RAM {ram} B ({:.1} %)\n",
            100.0 * flash as f64 / flash_max as f64,
            100.0 * ram as f64 / ram_max as f64
        ));
        if flash > flash_max || ram > ram_max {
            bail!("{label} exceeds its flash or RAM: flash {flash} B, RAM {ram} B");
        }
    }
    // Stack: the buoy paints it at reset and reports the deepest use after its reports
    // (QEMU with the budget's 64 KiB of RAM, `memory-qemu.x`). Deterministic run to run.
    let buoy = qemu_buoy(None, None, &[], false)?;
    let (used, size) = (buoy.stack_high_water, buoy.stack_size);
    report.push_str(&format!(
        "buoy stack high-water ({} reports of {} samples, standard gi-pekeris recording): {used} B of the {size} B stack, {:.1} % of RAM\n",
        buoy.reports.len(),
        buoy.reports.first().map_or(0, |r| r.samples),
        100.0 * used as f64 / RAM_BUDGET as f64
    ));
    if buoy.reports.is_empty() || used >= size {
        bail!(
            "the buoy's stack reached the bottom of RAM ({used} B of {size} B): it overflowed, or the run gave no report"
        );
    }
    Ok(report)
}

/// Compare the size report with the committed one (`--write` updates it), so flash and
/// RAM growth shows in review.
pub fn size(write: bool) -> anyhow::Result<()> {
    let path = root().join("firmware/size-report.txt");
    let fresh = size_report()?;
    print!("{fresh}");
    write_or_check(&path, &fresh, write, "size", |committed, fresh| {
        if same_sizes(committed, fresh) {
            Ok(())
        } else {
            bail!("firmware sizes differ:\n--- committed\n{committed}--- now\n{fresh}")
        }
    })
}

/// Flash sizes a link may differ by between checkouts of the same source. The checkout
/// path enters cargo's per-crate metadata hash, hence the symbol names, hence the order in
/// which the linker places functions and the alignment padding between them: the same
/// commit linked in `/work/main` and in `/tmp/ci-clone6` differed by 8 B of `.text`.
const FLASH_SLACK_BYTES: u64 = 64;

/// The size reports agree: the same lines, flash figures within [`FLASH_SLACK_BYTES`] (the
/// percentages are then ignored), everything else (RAM, stack) exact. The budgets
/// themselves are enforced exactly by [`size_report`].
fn same_sizes(committed: &str, fresh: &str) -> bool {
    fn split(line: &str) -> (String, Option<u64>) {
        match line.split_once(": flash ") {
            Some((label, rest)) => {
                let (n, tail) = rest.split_once(" B (").unwrap_or((rest, ""));
                let ram = tail.split_once("RAM").map_or("", |(_, r)| r);
                (format!("{label}: RAM{ram}"), n.parse().ok())
            }
            None => (line.to_owned(), None),
        }
    }
    let (a, b): (Vec<_>, Vec<_>) = (committed.lines().collect(), fresh.lines().collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let ((lx, fx), (ly, fy)) = (split(x), split(y));
            lx == ly
                && match (fx, fy) {
                    (Some(p), Some(q)) => p.abs_diff(q) <= FLASH_SLACK_BYTES,
                    (None, None) => true,
                    _ => false,
                }
        })
}

#[cfg(test)]
mod tests {
    use super::same_sizes;

    #[test]
    fn size_reports_allow_link_padding_only() {
        let a = "# header\nbuoy: flash 255876 B (97.6 %), RAM 12 B (0.0 %)\nstack 48348 B\n";
        let padded = "# header\nbuoy: flash 255884 B (97.6 %), RAM 12 B (0.0 %)\nstack 48348 B\n";
        assert!(same_sizes(a, a) && same_sizes(a, padded));
        let grown = "# header\nbuoy: flash 256876 B (98.0 %), RAM 12 B (0.0 %)\nstack 48348 B\n";
        let ram = "# header\nbuoy: flash 255876 B (97.6 %), RAM 16 B (0.0 %)\nstack 48348 B\n";
        let stack = "# header\nbuoy: flash 255876 B (97.6 %), RAM 12 B (0.0 %)\nstack 48352 B\n";
        for b in [grown, ram, stack, "# header\n"] {
            assert!(!same_sizes(a, b), "{b}");
        }
    }
}
