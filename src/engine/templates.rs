//! The C text templates in kernels/templates/, with their shared parts put
//! in: a line `// @include NAME` stands for kernels/templates/NAME (NVRTC
//! compiles one string and has no headers, so the generators include).

const PHILOX: &str = include_str!("../../kernels/templates/philox.inc");
const MATH: &str = include_str!("../../kernels/templates/math.inc");

/// The CUDA kernels' prelude.
pub fn cuda_prelude() -> String {
    expand(include_str!("../../kernels/templates/prelude.cu"))
}

/// The CPU engine's native code prelude.
pub fn cpu_prelude() -> String {
    expand(include_str!("../../kernels/templates/cpu_prelude.c"))
}

fn expand(text: &str) -> String {
    text.replace("// @include philox.inc\n", PHILOX)
        .replace("// @include math.inc\n", MATH)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_include_is_expanded() {
        for p in [super::cuda_prelude(), super::cpu_prelude()] {
            assert!(!p.contains("@include"));
            assert!(p.contains("cbm_philox_key("));
            assert!(p.contains("cbm_min("));
        }
    }
}
